// Krylov top-k singular values and vectors against LAPACK's full SVD.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <vector>

#include "specdyn/spectra/singular.hpp"
#include "specdyn/data/rng.hpp"

using namespace specdyn;
using namespace specdyn::spectra;

namespace {
// Lanczos converges σ² to 1e-13 relative; LAPACK's σ are backward stable to ~1e-15·σ_max.
constexpr double krylov_tolerance = 1e-10;
// Singular vectors of a value converged to 1e-13 in σ² are accurate to ~√1e-13·σ_max/gap: 1e-8.
constexpr double vector_residual_tolerance = 1e-8;
}

TEST_CASE("Krylov top-k equals LAPACK", "[spectra][krylov]") {
  for (auto [n, m] : {std::pair<std::size_t, std::size_t>{300, 300}, {200, 500}, {500, 120}}) {
    rng gen(3, rng::stream::data, n + m);
    matrix a({n, m});
    for (auto& v : a) v = gen.normal() / std::sqrt(double(m));
    for (std::size_t i = 0; i < 3; ++i)  // a few outliers, as after training
      for (std::size_t j = 0; j < m; ++j) a(i, j) += (3.0 - double(i)) * (j % 2 ? 1.0 : -1.0) / std::sqrt(double(m));
    const auto full = all_singular(a);
    const auto top = top_singular(a, 16, true);
    REQUIRE(top.values.size() == 16);
    for (std::size_t k = 0; k < 16; ++k) CHECK(std::abs(top.values[k] - full.values[k]) < krylov_tolerance * full.values[0]);
    // vectors: M v = σ u and |u| = 1
    for (std::size_t k = 0; k < 16; ++k) {
      double res = 0, nu = 0;
      for (std::size_t i = 0; i < n; ++i) {
        double mv = 0;
        for (std::size_t j = 0; j < m; ++j) mv += a(i, j) * top.right(j, k);
        res += (mv - top.values[k] * top.left(i, k)) * (mv - top.values[k] * top.left(i, k));
        nu += top.left(i, k) * top.left(i, k);
      }
      CHECK(std::sqrt(res) < vector_residual_tolerance * full.values[0]);
      CHECK(nu == Approx(1.0).epsilon(krylov_tolerance));
    }
  }
}

TEST_CASE("top-k of a matrix of rank below k: Lanczos breaks down, subspace iteration gives the exact values", "[spectra][krylov]") {
  // the sign of a rank-one matrix is rank one (sign(a_i b_j) = sign(a_i) sign(b_j)): Adam's and sign
  // descent's first update at P = 1. Its one singular value is √(nm); rank 3 with k = 5 likewise.
  for (std::size_t rank : {1, 3}) {
    const std::size_t n = 600, m = 400;
    rng gen(5, rng::stream::data, rank);
    matrix a = xt::zeros<double>({n, m});
    std::vector<double> sigma;
    for (std::size_t r = 0; r < rank; ++r) {
      // orthogonal rank-one terms: disjoint row and column blocks, entries ±1, so σ_r = √(rows · cols)
      const std::size_t r0 = r * n / rank, r1 = (r + 1) * n / rank, c0 = r * m / rank, c1 = (r + 1) * m / rank;
      std::vector<double> u(n, 0.0), v(m, 0.0);
      for (std::size_t i = r0; i < r1; ++i) u[i] = gen.normal() > 0 ? 1.0 : -1.0;
      for (std::size_t j = c0; j < c1; ++j) v[j] = gen.normal() > 0 ? 1.0 : -1.0;
      for (std::size_t i = r0; i < r1; ++i)
        for (std::size_t j = c0; j < c1; ++j) a(i, j) = u[i] * v[j];
      sigma.push_back(std::sqrt(double((r1 - r0) * (c1 - c0))));
    }
    std::sort(sigma.begin(), sigma.end(), std::greater<>());
    const auto top = top_singular(a, rank + 2, true);
    INFO("rank " << rank << ", method " << top.method);
    REQUIRE(top.values.size() == rank + 2);
    for (std::size_t k = 0; k < rank; ++k) CHECK(std::abs(top.values[k] - sigma[k]) < krylov_tolerance * sigma[0]);
    for (std::size_t k = rank; k < rank + 2; ++k) CHECK(std::abs(top.values[k]) < krylov_tolerance * sigma[0]);
    for (std::size_t k = 0; k < rank; ++k) {  // M v = σ u for the nonzero ones
      double res = 0;
      for (std::size_t i = 0; i < n; ++i) {
        double mv = 0;
        for (std::size_t j = 0; j < m; ++j) mv += a(i, j) * top.right(j, k);
        res += (mv - top.values[k] * top.left(i, k)) * (mv - top.values[k] * top.left(i, k));
      }
      CHECK(std::sqrt(res) < vector_residual_tolerance * sigma[0]);
    }
  }
}

TEST_CASE("stable rank and the automatic choice", "[spectra][krylov]") {
  matrix eye = xt::eye<double>(50);
  CHECK(stable_rank(eye, 1.0) == Approx(50.0));
  CHECK(singular_values_auto(eye, 4).method == "lapack");
  CHECK_THROWS_AS(top_singular(eye, 50), usage_error);
}
