// Random-matrix oracles (docs/conventions.md §5) against the spectra module: quarter circle and
// Marchenko–Pastur edges and densities at N = 1000, the MP Stieltjes transform, and BBP outliers
// for rectangular, square and Wigner spikes at n = 1000.
#include <catch2/catch.hpp>
#include <xtensor-blas/xlinalg.hpp>

#include <numeric>

#include "specdyn/spectra/bulk.hpp"
#include "specdyn/spectra/singular.hpp"
#include "specdyn/data/rng.hpp"
#include "support.hpp"

using namespace specdyn;
using namespace specdyn::spectra;

namespace {
matrix gaussian(std::size_t n, std::size_t m, double std_dev, std::uint64_t seed) {
  rng gen(seed, rng::stream::data, n * 7 + m);
  matrix a({n, m});
  for (auto& v : a) v = std_dev * gen.normal();
  return a;
}
std::vector<double> unit_vector(std::size_t n, std::uint64_t seed) {
  rng gen(seed, rng::stream::teacher, n);
  std::vector<double> u(n);
  double s = 0;
  for (auto& v : u) { v = gen.normal(); s += v * v; }
  for (auto& v : u) v /= std::sqrt(s);
  return u;
}
/// Mean over `seeds` draws of the top singular value of X + θ u vᵀ (X n×m, entries N(0, σ²/m), u, v
/// independent unit vectors).
double spiked_top(std::size_t n, std::size_t m, double sigma, double theta, std::size_t seeds, std::uint64_t seed0) {
  double mean = 0;
  for (std::size_t s = 0; s < seeds; ++s) {
    matrix x = gaussian(n, m, sigma / std::sqrt(double(m)), seed0 + s);
    const auto u = unit_vector(n, seed0 + 10 + s), v = unit_vector(m, seed0 + 20 + s);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j) x(i, j) += theta * u[i] * v[j];
    mean += top_singular(x, 1).values[0] / double(seeds);
  }
  return mean;
}
// Edge fluctuations are Tracy–Widom on the scale edge·n^{-2/3} (≈0.01 relative at n = 1000);
// 5 of those covers |TW₁| well beyond its 1e-4 tails plus the O(n^{-2/3}) finite-size bias.
double edge_tolerance(double edge, std::size_t n) { return 5 * edge * std::pow(double(n), -2.0 / 3.0); }
// Outliers fluctuate like n^{-1/2} with Gaussian law; the variance prefactor is at most 2 in these
// normalisations (GOE: uᵀWu has variance 2/n). Four standard deviations of a mean over `seeds` draws.
double outlier_tolerance(std::size_t n, std::size_t seeds) { return 4.0 * std::sqrt(2.0 / double(n * seeds)); }
// Midpoint rule with 2000 cells on a density with a square-root edge: error O(h^{3/2}) ≈ 1e-5.
constexpr double quadrature_tolerance = 1e-4;
// Eigenvalue rigidity: the empirical CDF of n = 1000 values is within O(log n / n) of the law.
constexpr double cdf_tolerance = 0.01;
// m(λ + iε) with ε = 1e-12 vs the closed-form density: O(ε / distance to the edge) ≈ 1e-10, plus
// the cancellation in the quadratic's root; 1e-6 relative.
constexpr double stieltjes_density_tolerance = 1e-6;
// Far field m(z) = −1/z − O(1/z²): at z = 1e6 the relative correction is ~1e-6.
constexpr double far_field_tolerance = 1e-5;
}  // namespace

TEST_CASE("square Gaussian matrices: quarter circle and its edge", "[spectra][bulk]") {
  const std::size_t n = 1000;
  const double sigma = 1.3;
  const auto s = all_singular(gaussian(n, n, sigma / std::sqrt(double(n)), 1)).values;
  const auto [lo, hi] = bulk_edges(sigma / std::sqrt(double(n)), n, n);
  CHECK(lo == 0.0);
  CHECK(hi == Approx(2 * sigma));
  CHECK(std::abs(s.front() - hi) < edge_tolerance(hi, n));
  // Empirical CDF vs the quarter-circle CDF (eigenvalue rigidity: deviations O(log n / n)).
  double worst = 0, cdf = 0;
  const std::size_t grid = 2000;
  std::vector<double> asc(s.rbegin(), s.rend());
  for (std::size_t k = 1; k <= grid; ++k) {
    const double x = 2 * sigma * double(k) / double(grid);
    cdf += quarter_circle_density(x - sigma / double(grid), sigma) * 2 * sigma / double(grid);  // midpoint rule
    const double emp = double(std::upper_bound(asc.begin(), asc.end(), x) - asc.begin()) / double(n);
    worst = std::max(worst, std::abs(emp - cdf));
  }
  CHECK(cdf == Approx(1.0).epsilon(quadrature_tolerance));
  CHECK(worst < cdf_tolerance);
}

TEST_CASE("rectangular input layer: Marchenko–Pastur edges σ(1 ± √ν)", "[spectra][bulk]") {
  const double sigma = 0.8;
  for (auto [n, d] : {std::pair<std::size_t, std::size_t>{1000, 2000}, {2000, 1000}}) {
    const double nu = double(n) / double(d);
    const auto s = all_singular(gaussian(n, d, sigma / std::sqrt(double(d)), 2)).values;  // W⁰/√D
    const auto [lo, hi] = bulk_edges(sigma / std::sqrt(double(d)), n, d);
    CHECK(hi == Approx(sigma * (1 + std::sqrt(nu))));
    CHECK(lo == Approx(sigma * std::abs(1 - std::sqrt(nu))));
    const std::size_t small = std::min(n, d);
    INFO("N = " << n << " D = " << d);
    CHECK(std::abs(s.front() - hi) < edge_tolerance(hi, small));
    CHECK(std::abs(s[small - 1] - lo) < edge_tolerance(hi, small));
  }
}

TEST_CASE("MP Stieltjes transform: solves its quadratic and gives the density", "[spectra][bulk]") {
  for (double c : {0.25, 0.5, 1.0}) {
    for (double x : {0.3, 0.7, 1.0, 1.6, 2.5}) {
      const std::complex<double> z{x, 1e-3};
      const auto m = mp_stieltjes(z, c);
      CHECK(std::abs(c * z * m * m + (z - 1.0 + c) * m + 1.0) < testing::same_algebra);
      CHECK(m.imag() > 0);
      if (x > mp_edges(c).lower + 0.05 && x < mp_edges(c).upper - 0.05)
        CHECK(mp_density(x, c) == Approx(mp_density_closed(x, c)).epsilon(stieltjes_density_tolerance));
    }
    // Far from the support m(z) ≈ −1/z.
    CHECK(std::abs(mp_stieltjes({1e6, 1e-3}, c) * 1e6 + 1.0) < far_field_tolerance);
  }
}

TEST_CASE("rectangular BBP: an independent spike's singular value", "[spectra][bbp]") {
  const std::size_t n = 1000, m = 2000, seeds = 4;
  const double sigma = 1.0, c = double(n) / double(m);
  for (double theta : {0.5, 1.5, 2.5}) {
    const double mean = spiked_top(n, m, sigma, theta, seeds, 10);
    const double predicted = bbp_rectangular(theta, sigma, c);
    INFO("θ = " << theta << " measured " << mean << " predicted " << predicted);
    // Below the threshold c^{1/4} the top value sticks to the edge (TW scale), above it is an outlier.
    CHECK(std::abs(mean - predicted) <
          (theta / sigma > std::pow(c, 0.25) ? outlier_tolerance(n, seeds) : edge_tolerance(predicted, n)));
  }
}

TEST_CASE("square BBP: s → σ(θ̃ + 1/θ̃)", "[spectra][bbp]") {
  const std::size_t n = 1000, seeds = 4;
  const double sigma = 0.7, theta = 2.0 * sigma;
  const double mean = spiked_top(n, n, sigma, theta, seeds, 40);
  CHECK(bbp_rectangular(theta, sigma, 1.0) == Approx(sigma * (2.0 + 0.5)));
  CHECK(std::abs(mean - sigma * (2.0 + 0.5)) < sigma * outlier_tolerance(n, seeds));
}

TEST_CASE("spiked Wigner: λ → θ + 1/θ", "[spectra][bbp]") {
  const std::size_t n = 1000, seeds = 4;
  for (double theta : {0.6, 1.5, 3.0}) {
    double mean = 0;
    for (std::size_t s = 0; s < seeds; ++s) {
      const matrix g = gaussian(n, n, 1.0, 70 + s);
      matrix w({n, n});
      const auto u = unit_vector(n, 80 + s);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) w(i, j) = (g(i, j) + g(j, i)) / std::sqrt(2.0 * double(n)) + theta * u[i] * u[j];
      auto ev = xt::linalg::eigvalsh(w);
      mean += xt::amax(ev)() / double(seeds);
    }
    INFO("θ = " << theta << " measured " << mean);
    CHECK(std::abs(mean - bbp_wigner(theta)) < (theta > 1 ? outlier_tolerance(n, seeds) : edge_tolerance(2.0, n)));
  }
}

TEST_CASE("bulk distance: the initial singular-value law, KS and Wasserstein-1; outliers barely move them, a reshaped bulk does", "[spectra][bulk]") {
  SECTION("square: the quarter-circle CDF (1/π)(x√(4 − x²)/2 + 2 arcsin(x/2)), x = s/σ") {
    const double sigma = 1.3;
    const std::size_t n = 500;
    const singular_law law{sigma / std::sqrt(double(n)), n, n};
    for (double x : {0.1, 0.7, 1.0, 1.5, 1.9, 1.999}) {
      const double closed = (x * std::sqrt(4 - x * x) / 2 + 2 * std::asin(x / 2)) / std::numbers::pi;
      CHECK(law.cdf(x * sigma) == Approx(closed).margin(1e-10));
    }
    CHECK(law.cdf(0.0) == 0.0);
    CHECK(law.cdf(2.5 * sigma) == 1.0);
  }
  SECTION("rectangular: the Marchenko–Pastur CDF of s²/(σ²·max) with ratio min/max") {
    const singular_law law{0.7, 200, 800};  // c = 1/4, s² / (0.49·800) ~ MP(1/4)
    for (double lambda : {0.5, 1.0, 1.8, 2.2}) {
      double f = 0;  // independent check: midpoint rule on the closed-form density in λ
      const int cells = 200000;
      const double lo = mp_edges(0.25).lower, h = (lambda - lo) / cells;
      for (int k = 0; k < cells; ++k) f += mp_density_closed(lo + (k + 0.5) * h, 0.25) * h;
      CHECK(law.cdf(std::sqrt(lambda * 0.49 * 800)) == Approx(f).margin(1e-5));
    }
  }
  SECTION("sampled spectra: KS at initialisation within rigidity; one outlier moves KS by ≤ 1/n; a reshaped bulk moves both") {
    const std::size_t n = 400;
    const double sigma = 1.0, e = sigma / std::sqrt(double(n));
    const singular_law law{e, n, n};
    auto cdf = [&](double s) { return law.cdf(s); };
    matrix w = gaussian(n, n, e, 3);
    const auto s0 = all_singular(w).values;
    const double ks0 = ks_distance(s0, cdf), w10 = wasserstein1(s0, cdf, 2 * sigma) / (2 * sigma);
    INFO("initial KS " << ks0 << ", W1/edge " << w10);
    CHECK(ks0 < cdf_tolerance);
    CHECK(w10 < cdf_tolerance);
    // a strong rank-one spike: one singular value leaves the bulk (≈ θ + 1/θ = 4.25 with θ = 4)
    const auto u = unit_vector(n, 5), v = unit_vector(n, 6);
    matrix spiked = w;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) spiked(i, j) += 4.0 * u[i] * v[j];
    const auto s1 = all_singular(spiked).values;
    CHECK(s1.front() > 4.0);
    CHECK(ks_distance(s1, cdf) < ks0 + 1.0 / double(n) + cdf_tolerance / 2);
    CHECK(wasserstein1(s1, cdf, 2 * sigma) / (2 * sigma) < w10 + 4.0 / double(n));
    // an extensive change: half the columns scaled by 1.6 reshapes the whole bulk
    matrix reshaped = w;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n / 2; ++j) reshaped(i, j) *= 1.6;
    const auto s2 = all_singular(reshaped).values;
    CHECK(ks_distance(s2, cdf) > 10 * ks0);
    CHECK(wasserstein1(s2, cdf, 2 * sigma) / (2 * sigma) > 0.05);
  }
}
