// Information-plus-noise bulk (spectra/info_plus_noise.hpp) against its oracles: R = 0 is
// Marchenko–Pastur (closed form), c = 1 singular values are the quarter circle, Monte Carlo
// eigenvalues of B = (1/N)(R + σX)(R + σX)ᵀ for a two-level and a random low-rank signal
// (Kolmogorov–Smirnov distance, with a wrong σ as the negative control), the one-level quartic
// against the Newton solver, and non-convergence reported rather than returned as a density.
#include <catch2/catch.hpp>
#include <xtensor-blas/xlinalg.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include "specdyn/data/rng.hpp"
#include "specdyn/spectra/bulk.hpp"
#include "specdyn/spectra/info_plus_noise.hpp"

using namespace specdyn;
using namespace specdyn::spectra;

namespace {
// Direct formula vs a Newton solve converged to 1e-12 residual, conditioned by at most ~1e2 away
// from the edges: 1e-9 relative.
constexpr double stieltjes_tolerance = 1e-9;
// Density at η = 1e-10 vs the η → 0 closed form: O(η/distance to the edge) ≈ 1e-7 at 1e-3 from an
// edge, plus the solver residual.
constexpr double density_tolerance = 1e-6;
// The quartic's root (companion eigenvalues + Newton polish) vs the continuation solver.
constexpr double quartic_tolerance = 1e-8;
// One draw of n = 1000 eigenvalues: the empirical CDF is within O(log n/n) of the n-point law
// (rigidity); the smoothing η = 1e-3 and the finite-n corrections add O(1e-3). Measured ≈ 0.004.
constexpr double ks_tolerance = 0.02;
// Tracy–Widom scale of the top eigenvalue, five of them (as in test_bulk.cpp).
double edge_tolerance(double edge, std::size_t n) { return 5 * edge * std::pow(double(n), -2.0 / 3.0); }

std::vector<double> linspace(double lo, double hi, std::size_t count) {
  std::vector<double> x(count);
  for (std::size_t i = 0; i < count; ++i) x[i] = lo + (hi - lo) * double(i) / double(count - 1);
  return x;
}

/// Eigenvalues (ascending) of B = (1/N)(R + σX)(R + σX)ᵀ for one draw of X.
std::vector<double> monte_carlo_eigenvalues(const matrix& r, double sigma, std::uint64_t seed) {
  const std::size_t n = r.shape(0), big_n = r.shape(1);
  rng gen(seed, rng::stream::data, n * 31 + big_n);
  matrix y = r;
  for (auto& v : y) v += sigma * gen.normal();
  matrix b({n, n});
  blas::gemm(false, true, 1.0 / double(big_n), y, y, 0.0, b);
  auto ev = xt::linalg::eigvalsh(b);  // LAPACK syevd
  std::vector<double> lam(ev.begin(), ev.end());
  std::sort(lam.begin(), lam.end());
  return lam;
}

/// sup |F_emp − F_model| with F_model the trapezoid CDF of the solver's density, linearly
/// interpolated between grid points (the grid must cover all samples).
double ks_distance(const std::vector<double>& sorted, const info_plus_noise_result& r) {
  const auto cdf = cumulative_density(r);
  const double n = double(sorted.size());
  double ks = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const double v = sorted[i];
    REQUIRE(v > r.x.front());
    REQUIRE(v < r.x.back());
    const auto j = std::size_t(std::upper_bound(r.x.begin(), r.x.end(), v) - r.x.begin());
    const double f = cdf[j - 1] + (cdf[j] - cdf[j - 1]) * (v - r.x[j - 1]) / (r.x[j] - r.x[j - 1]);
    ks = std::max({ks, std::abs(f - double(i) / n), std::abs(f - double(i + 1) / n)});
  }
  return ks;
}

/// R = √N·[diag(s) | 0] (n ≤ N): X is bi-orthogonally invariant, so only the singular values s of
/// R/√N matter and R may be taken diagonal.
matrix diagonal_signal(const std::vector<double>& s, std::size_t big_n) {
  matrix r = xt::zeros<double>({s.size(), big_n});
  for (std::size_t i = 0; i < s.size(); ++i) r(i, i) = std::sqrt(double(big_n)) * s[i];
  return r;
}
}  // namespace

TEST_CASE("R = 0: Marchenko-Pastur with ratio c and variance sigma^2", "[info_plus_noise]") {
  const atom_law zero{{0.0}, {1.0}};
  double worst_m = 0, worst_density = 0;
  for (double c : {0.5, 1.0, 2.5})
    for (double sigma : {0.7, 1.3}) {
      const double s2 = sigma * sigma;
      for (double x : {-0.5, 0.05, 0.3, 1.0, 2.0, 5.0})
        for (double eta : {1e-1, 1e-3, 1e-7}) {
          const cplx z(x, eta);
          const auto p = solve_info_plus_noise_at(zero, sigma, c, z);
          REQUIRE(p.converged);
          const cplx expected = mp_stieltjes(z / s2, c) / s2;
          INFO("c = " << c << ", sigma = " << sigma << ", z = " << z);
          worst_m = std::max(worst_m, std::abs(p.m - expected) / std::abs(expected));
          CHECK(std::abs(p.m - expected) <= stieltjes_tolerance * std::abs(expected));
        }
    }
  // density at η = 1e-10 vs the closed form (c ≤ 1), inside and outside the bulk, away from edges
  for (double c : {0.5, 1.0})
    for (double sigma : {0.7, 1.3}) {
      const double s2 = sigma * sigma;
      const auto [lo, hi] = mp_edges(c, s2);
      std::vector<double> x;
      for (double v : linspace(-0.3, 1.2 * hi, 400))
        if (std::abs(v - lo) > 1e-3 && std::abs(v - hi) > 1e-3 && std::abs(v) > 1e-3) x.push_back(v);
      const auto r = solve_info_plus_noise(zero, sigma, c, x, 1e-10);
      REQUIRE(r.all_converged());
      double worst = 0;
      for (std::size_t i = 0; i < x.size(); ++i)
        worst = std::max(worst, std::abs(r.density[i] - mp_density_closed(x[i] / s2, c) / s2));
      INFO("c = " << c << ", sigma = " << sigma << ": largest density error " << worst);
      CHECK(worst < density_tolerance);
      worst_density = std::max(worst_density, worst);
    }
  std::cout << "R = 0 vs Marchenko-Pastur: largest relative error of m " << worst_m << ", of the density (eta = 1e-10) "
            << worst_density << "\n";
}

TEST_CASE("sigma = 0: B = RR^T/N, m is the Stieltjes transform of H", "[info_plus_noise]") {
  const atom_law h{{0.0, 0.5, 2.0}, {0.2, 0.5, 0.3}};
  for (double x : {-1.0, 0.5, 1.0, 3.0}) {
    const cplx z(x, 1e-2);
    const auto p = solve_info_plus_noise_at(h, 0.0, 0.5, z);
    REQUIRE(p.converged);
    cplx expected = 0;
    for (std::size_t k = 0; k < h.atoms.size(); ++k) expected += h.weights[k] / (h.atoms[k] - z);
    CHECK(std::abs(p.m - expected) < stieltjes_tolerance * std::abs(expected));
  }
}

TEST_CASE("c = 1, R = 0: the singular-value density is the quarter circle", "[info_plus_noise]") {
  const double sigma = 1.3;
  std::vector<double> s = linspace(0.01, 2 * sigma - 0.01, 200), x;
  for (double v : s) x.push_back(v * v);
  const auto r = solve_info_plus_noise(atom_law{{0.0}, {1.0}}, sigma, 1.0, x, 1e-10);
  REQUIRE(r.all_converged());
  const auto sv = to_singular_density(r);
  REQUIRE(sv.s.size() == s.size());
  double worst = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    CHECK(std::abs(sv.s[i] - s[i]) < 1e-14);
    worst = std::max(worst, std::abs(sv.density[i] - quarter_circle_density(s[i], sigma)));
  }
  INFO("largest error " << worst);
  std::cout << "c = 1 singular values vs the quarter circle: largest error " << worst << "\n";
  CHECK(worst < density_tolerance);
}

TEST_CASE("Monte Carlo: two-level signal, KS distance of the eigenvalue CDF", "[info_plus_noise]") {
  const auto start = std::chrono::steady_clock::now();
  const std::size_t n = 1000, big_n = 2000;
  const double sigma = 1.0, c = double(n) / double(big_n), eta = 1e-3;
  std::vector<double> s(n);
  for (std::size_t i = 0; i < n; ++i) s[i] = i % 2 ? 1.5 : 0.5;  // half 0.5, half 1.5
  const matrix r = diagonal_signal(s, big_n);
  const auto lam = monte_carlo_eigenvalues(r, sigma, 11);
  const auto solve_start = std::chrono::steady_clock::now();

  // H from the matrix (semi-empirical path): the two levels 0.25 and 2.25, weights ½
  const atom_law h = empirical_law(signal_spectrum(r));
  REQUIRE(h.atoms.size() == 2);
  CHECK(h.atoms[0] == Approx(0.25).epsilon(1e-12));
  CHECK(h.atoms[1] == Approx(2.25).epsilon(1e-12));
  CHECK(h.weights[0] == Approx(0.5));

  const double bound = info_plus_noise_bound(h, sigma, c);
  const auto x = linspace(-0.2, 1.05 * bound, 4000);
  const auto right = info_plus_noise_from_signal(r, sigma, x, eta);
  REQUIRE(right.all_converged());
  const auto wrong = solve_info_plus_noise(h, 1.2 * sigma, c, x, eta);
  REQUIRE(wrong.all_converged());
  const double ks = ks_distance(lam, right), ks_wrong = ks_distance(lam, wrong);
  const double mass = cumulative_density(right).back();
  const double edge = density_upper_edge(right, 1e-2);
  const auto end = std::chrono::steady_clock::now();
  const double mc_seconds = std::chrono::duration<double>(solve_start - start).count();
  const double solve_seconds = std::chrono::duration<double>(end - solve_start).count();
  std::cout << "two-level, n = " << n << ", N = " << big_n << ": KS " << ks << " (sigma x 1.2: " << ks_wrong << "), mass on grid "
            << mass << ", edge " << edge << " vs largest eigenvalue " << lam.back() << ", max residual " << right.max_residual
            << "; Monte Carlo " << mc_seconds << " s, H from R (twice) and two solves on 4000 points " << solve_seconds << " s\n";
  CHECK(ks < ks_tolerance);
  CHECK(ks_wrong > 0.05);
  CHECK(ks_wrong > 5 * ks);
  CHECK(mass == Approx(1).margin(2e-3));  // Cauchy tails of width η outside the grid
  CHECK(std::abs(edge - lam.back()) < edge_tolerance(edge, n));
}

TEST_CASE("Monte Carlo: semi-empirical prediction from a random low-rank update", "[info_plus_noise]") {
  const auto start = std::chrono::steady_clock::now();
  // R/√N = g·A Bᵀ/√(nN), A n×k and B N×k standard Gaussian: an update of rank k with a spread of
  // singular values (≈ g(1 ± √(k/n))), like W(t) − W(0) of a trained layer, independent of X.
  const std::size_t n = 1000, big_n = 2000, k = 100;
  const double g = 1.5, sigma = 1.0, eta = 1e-3;
  rng gen(5, rng::stream::teacher, 0);
  matrix a({n, k}), b({big_n, k});
  for (auto& v : a) v = gen.normal();
  for (auto& v : b) v = gen.normal();
  matrix r({n, big_n});
  blas::gemm(false, true, g / std::sqrt(double(n)), a, b, 0.0, r);  // √N·(g A Bᵀ/√(nN))
  const auto lam = monte_carlo_eigenvalues(r, sigma, 12);
  const auto solve_start = std::chrono::steady_clock::now();

  const atom_law h = empirical_law(signal_spectrum(r));
  CHECK(h.atoms.size() == k + 1);  // n − k zeros merged into one atom
  CHECK(h.weights[0] == Approx(double(n - k) / double(n)));
  const double c = double(n) / double(big_n);
  const auto x = linspace(-0.2, 1.05 * info_plus_noise_bound(h, sigma, c), 4000);
  const auto right = info_plus_noise_from_signal(r, sigma, x, eta);
  REQUIRE(right.all_converged());
  const auto wrong = solve_info_plus_noise(h, 1.2 * sigma, c, x, eta);
  REQUIRE(wrong.all_converged());
  const double ks = ks_distance(lam, right), ks_wrong = ks_distance(lam, wrong);
  const auto end = std::chrono::steady_clock::now();
  const double mc_seconds = std::chrono::duration<double>(solve_start - start).count();
  const double solve_seconds = std::chrono::duration<double>(end - solve_start).count();
  std::cout << "low-rank update, k = " << k << ": KS " << ks << " (sigma x 1.2: " << ks_wrong << "), max residual "
            << right.max_residual << "; Monte Carlo " << mc_seconds << " s, H from R (twice) and two solves on 4000 points " << solve_seconds << " s\n";
  CHECK(ks < ks_tolerance);
  CHECK(ks_wrong > 0.05);
  CHECK(ks_wrong > 5 * ks);
}

TEST_CASE("c > 1: H from a tall signal carries the structural zeros, B an atom at 0", "[info_plus_noise]") {
  const std::size_t n = 300, big_n = 200;
  rng gen(9, rng::stream::teacher, 1);
  matrix r({n, big_n});
  for (auto& v : r) v = gen.normal();
  const auto tau = signal_spectrum(r);
  REQUIRE(tau.size() == n);
  CHECK(std::count(tau.begin(), tau.end(), 0.0) >= std::ptrdiff_t(n - big_n));
  CHECK(*std::max_element(tau.begin(), tau.end()) > 1);
  const double c = double(n) / double(big_n), eta = 1e-4;
  const auto x = linspace(-0.05, 0.05, 2001);  // the atom of mass 1 − 1/c at 0, smoothed over η
  const auto res = info_plus_noise_from_signal(r, 0.5, x, eta);
  REQUIRE(res.all_converged());
  // the Cauchy kernel of width η puts 1 − (2/π)·atan(η/0.05) ≈ 0.9987 of the atom inside the window;
  // the continuous part of B starts well above 0.05 (its lower edge is ≈ 0.4 here)
  const double inside = (1 - 1 / c) * (2 / std::numbers::pi) * std::atan(0.05 / eta);
  CHECK(cumulative_density(res).back() == Approx(inside).epsilon(1e-3));
}

TEST_CASE("one signal level: the quartic and the general solver agree", "[info_plus_noise]") {
  struct params { double rho, theta, sigma, c; };
  double worst = 0, worst_poly = 0;
  for (const params& q : {params{0.1, 2.0, 1.0, 0.5}, params{0.3, 0.8, 0.7, 1.0}, params{0.05, 4.0, 1.0, 0.25},
                          params{0.3, 3.0, 1.0, 2.5}, params{0.5, 1.2, 1.5, 0.8}}) {
    const atom_law h = two_level_law(q.rho, q.theta);
    const double top = info_plus_noise_bound(h, q.sigma, q.c);
    info_plus_noise_options opt;
    opt.tolerance = 1e-13;
    for (double x : linspace(-0.3, 1.1 * top, 23))
      for (double eta : {1e-1, 1e-3, 1e-6}) {
        const cplx z(x, eta);
        const cplx from_quartic = two_level_stieltjes(q.rho, q.theta, q.sigma, q.c, z);
        // exactly one root of the quartic is a Stieltjes value here
        int admissible = 0;
        for (const cplx m : two_level_quartic_roots(q.rho, q.theta, q.sigma, q.c, z))
          if (detail::ipn_admissible(z, m, 1e-9) && detail::ipn_residual(h, q.sigma * q.sigma, q.c, z, m) < 1e-8) ++admissible;
        CHECK(admissible == 1);
        const auto p = solve_info_plus_noise_at(h, q.sigma, q.c, z, opt);
        REQUIRE(p.converged);
        const auto a = two_level_quartic(q.rho, q.theta, q.sigma, q.c, z);
        const cplx pm = (((a[4] * p.m + a[3]) * p.m + a[2]) * p.m + a[1]) * p.m + a[0];
        const double scale = std::abs(a[4]) * std::pow(std::abs(p.m), 4) + std::abs(a[0]);
        worst_poly = std::max(worst_poly, std::abs(pm) / scale);
        const double err = std::abs(p.m - from_quartic) / std::abs(from_quartic);
        worst = std::max(worst, err);
        INFO("rho " << q.rho << ", theta " << q.theta << ", sigma " << q.sigma << ", c " << q.c << ", z = " << z);
        CHECK(err < quartic_tolerance);
      }
  }
  std::cout << "quartic vs Newton continuation: largest relative difference " << worst << ", largest |P(m)|/scale "
            << worst_poly << "\n";
  CHECK(worst_poly < 1e-10);
}

TEST_CASE("non-convergence is reported, not returned as a density", "[info_plus_noise]") {
  const atom_law h = two_level_law(0.2, 2.0);
  const auto x = linspace(0.0, 8.0, 50);
  info_plus_noise_options opt;
  opt.max_iterations = 1;
  const auto r = solve_info_plus_noise(h, 1.0, 0.5, x, 1e-3, opt);
  CHECK_FALSE(r.all_converged());
  CHECK(r.failures == x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK_FALSE(r.converged[i]);
    CHECK(std::isnan(r.density[i]));
    CHECK(r.residual[i] > opt.tolerance);
    CHECK(r.iterations[i] <= 1);
  }
  CHECK_THROWS_AS(r.require_converged(), solver_error);
  CHECK_THROWS_WITH(r.require_converged(), Catch::Contains("did not converge at 50 of 50 points"));
  CHECK_THROWS_AS(density_upper_edge(r, 1e-2), solver_error);
  // a budget too small for the continuation down to η (one level converges, the ladder does not)
  opt.max_iterations = 20;
  const auto p = solve_info_plus_noise_at(h, 1.0, 0.5, {2.0, 1e-8}, opt);
  CHECK_FALSE(p.converged);
  CHECK(p.residual > opt.tolerance);
  // the same point with the default budget converges
  CHECK(solve_info_plus_noise_at(h, 1.0, 0.5, {2.0, 1e-8}).converged);
  // a law that no n×N matrix has (c > 1 needs mass ≥ 1 − 1/c at 0) and η ≤ 0 are refused
  CHECK_THROWS_AS(solve_info_plus_noise(two_level_law(0.7, 2.0), 1.0, 2.5, x, 1e-3), usage_error);
  CHECK_THROWS_AS(solve_info_plus_noise(h, 1.0, 0.5, x, 0.0), usage_error);
}

TEST_CASE("empirical law merges rounding-level duplicates", "[info_plus_noise]") {
  const atom_law h = empirical_law({1e-17, 0.0, 2.0, 2.0 + 1e-15, 1.0, -1e-16});
  REQUIRE(h.atoms.size() == 3);
  CHECK(h.weights[0] == Approx(0.5));
  CHECK(h.atoms[1] == 1.0);
  CHECK(h.weights[2] == Approx(1.0 / 3.0));
  CHECK_THROWS_AS(empirical_law({-1.0, 1.0}), usage_error);
}
