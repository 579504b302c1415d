// Random-matrix laws for the bulk and its outliers (docs/conventions.md §5): the quarter-circle law of
// square Gaussian matrices, Marchenko–Pastur edges, density and Stieltjes transform, the
// finite-size margin that separates outliers from the bulk edge, and the classical BBP
// predictions for independent rank-one spikes (rectangular, square, spiked Wigner).
//   double edge = specdyn::spectra::bulk_edge(sigma_entry, n, m);   // top of the bulk
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <algorithm>
#include <complex>
#include <numbers>
#include <vector>

namespace specdyn::spectra {

/// Quarter circle: density of singular values of an N×N matrix with entries N(0, σ²/N), on [0, 2σ].
SPECDYN_CORE_FN double quarter_circle_density(double s, double sigma)
#if SPECDYN_CORE_BODIES
{
  if (s < 0 || s > 2 * sigma) return 0.0;
  return std::sqrt(4 * sigma * sigma - s * s) / (std::numbers::pi * sigma * sigma);
}
#else
;
#endif

/// Edges of the singular-value bulk of an n×m matrix with i.i.d. entries of standard deviation
/// `entry_std`: entry_std·|√m ± √n| (docs/conventions.md §5: σ(1 ± √ν) for W⁰/√D, 2σ for square).
struct edges { double lower, upper; };
SPECDYN_CORE_FN edges bulk_edges(double entry_std, std::size_t n, std::size_t m)
#if SPECDYN_CORE_BODIES
{
  const double a = std::sqrt(double(m)), b = std::sqrt(double(n));
  return {entry_std * std::abs(a - b), entry_std * (a + b)};
}
#else
;
#endif

/// Finite-size margin above the upper edge beyond which a singular value counts as an outlier.
/// The largest bulk singular value fluctuates on the Tracy–Widom scale, which shrinks with the size
/// like n^{-2/3}, n = min(rows, cols); we use 3·edge·n^{-2/3}. In Tracy–Widom standard deviations
/// of the top bulk value this depends on the shape: about 7 for a square 256×256 weight and about
/// 20 for a 1024×64 input weight (a thin matrix's edge fluctuates relatively less), so false
/// outliers are negligible everywhere and near-edge outliers of thin matrices are reported late.
SPECDYN_CORE_FN double outlier_margin(double upper_edge, std::size_t n, std::size_t m)
#if SPECDYN_CORE_BODIES
{
  return 3.0 * upper_edge * std::pow(double(std::min(n, m)), -2.0 / 3.0);
}
#else
;
#endif

/// Marchenko–Pastur for S = X Xᵀ / m, X n×m i.i.d. N(0, σ²), ratio c = n/m: eigenvalue edges.
SPECDYN_CORE_FN edges mp_edges(double c, double sigma2 = 1.0)
#if SPECDYN_CORE_BODIES
{
  return {sigma2 * (1 - std::sqrt(c)) * (1 - std::sqrt(c)), sigma2 * (1 + std::sqrt(c)) * (1 + std::sqrt(c))};
}
#else
;
#endif

/// MP Stieltjes transform m(z) = ∫ ρ(λ)/(λ − z) dλ (σ² = 1) solving c z m² + (z − 1 + c) m + 1 = 0,
/// on the branch with Im m > 0 for Im z > 0.
SPECDYN_CORE_FN std::complex<double> mp_stieltjes(std::complex<double> z, double c)
#if SPECDYN_CORE_BODIES
{
  const std::complex<double> a = c * z, b = z - 1.0 + c;
  const std::complex<double> disc = std::sqrt(b * b - 4.0 * a);
  std::complex<double> m1 = (-b + disc) / (2.0 * a), m2 = (-b - disc) / (2.0 * a);
  return m1.imag() * z.imag() >= 0 ? m1 : m2;
}
#else
;
#endif

/// MP density (σ² = 1, c ≤ 1) from the Stieltjes transform: ρ(λ) = Im m(λ + i0)/π.
SPECDYN_CORE_FN double mp_density(double lambda, double c)
#if SPECDYN_CORE_BODIES
{
  return mp_stieltjes({lambda, 1e-12}, c).imag() / std::numbers::pi;
}
#else
;
#endif

/// MP density in closed form (c ≤ 1, σ² = 1), for cross-checks.
SPECDYN_CORE_FN double mp_density_closed(double lambda, double c)
#if SPECDYN_CORE_BODIES
{
  const auto [lo, hi] = mp_edges(c);
  if (lambda <= lo || lambda >= hi) return 0.0;
  return std::sqrt((hi - lambda) * (lambda - lo)) / (2 * std::numbers::pi * c * lambda);
}
#else
;
#endif

/// Top singular value of X + θ u vᵀ (X n×m, entries N(0, σ²/m), c = n/m ≤ 1, u, v unit and
/// independent of X): σ√((1+θ̃²)(c+θ̃²))/θ̃ when θ̃ = θ/σ > c^{1/4}, otherwise the edge σ(1 + √c).
SPECDYN_CORE_FN double bbp_rectangular(double theta, double sigma, double c)
#if SPECDYN_CORE_BODIES
{
  const double t = theta / sigma;
  if (t <= std::pow(c, 0.25)) return sigma * (1 + std::sqrt(c));
  return sigma * std::sqrt((1 + t * t) * (c + t * t)) / t;
}
#else
;
#endif

/// Spiked Wigner: top eigenvalue of a GOE matrix (semicircle on [−2, 2]) plus θ u uᵀ: θ + 1/θ for θ > 1.
inline double bbp_wigner(double theta) { return theta > 1 ? theta + 1 / theta : 2.0; }

/// Limiting law of the singular values of an n×m matrix with i.i.d. entries of standard deviation
/// `entry_std` (all min(n, m) of them): s²/(entry_std²·max(n, m)) follows Marchenko–Pastur with
/// ratio c = min/max (the quarter circle when square). cdf(s) integrates the MP density in the
/// variable θ of λ = (a+b)/2 − (b−a)/2·cos θ, where the integrand (b−a)²sin²θ/(8πcλ) is smooth.
struct singular_law {
  double entry_std = 1;
  std::size_t rows = 1, cols = 1;
  [[nodiscard]] double scale2() const { return entry_std * entry_std * double(std::max(rows, cols)); }
  [[nodiscard]] double ratio() const { return double(std::min(rows, cols)) / double(std::max(rows, cols)); }
  [[nodiscard]] double cdf(double s) const {
    const double c = ratio(), a = (1 - std::sqrt(c)) * (1 - std::sqrt(c)), b = (1 + std::sqrt(c)) * (1 + std::sqrt(c));
    const double lambda = s * s / scale2();
    if (lambda <= a) return 0.0;
    if (lambda >= b) return 1.0;
    const double theta = std::acos(std::clamp((0.5 * (a + b) - lambda) / (0.5 * (b - a)), -1.0, 1.0));
    const int n = 256;  // Simpson in θ ∈ [0, θ(λ)]: the integrand is analytic there, error ~1e-12
    const double h = theta / n;
    auto f = [&](double t) {  // with q = sin²(t/2): λ = a + (b−a)q, sin²t = 4q(1−q); at a = 0, q → 0 the limit is b/(2πc)
      const double q = std::sin(0.5 * t) * std::sin(0.5 * t), l = a + (b - a) * q;
      if (l <= 0) return b / (2 * std::numbers::pi * c);
      return (b - a) * (b - a) * 4 * q * (1 - q) / (8 * std::numbers::pi * c * l);
    };
    double sum = f(0) + f(theta);
    for (int k = 1; k < n; ++k) sum += (k % 2 ? 4 : 2) * f(k * h);
    return std::min(1.0, sum * h / 3);
  }
};

/// Kolmogorov–Smirnov distance sup_s |F_emp(s) − F(s)| between the empirical law of `values` and a CDF.
template <class Cdf>
double ks_distance(std::vector<double> values, const Cdf& cdf) {
  std::sort(values.begin(), values.end());
  const double n = double(values.size());
  double d = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double f = cdf(values[i]);
    d = std::max({d, f - double(i) / n, double(i + 1) / n - f});
  }
  return d;
}

/// Wasserstein-1 distance ∫ |F_emp(s) − F(s)| ds between the empirical law of `values` and a CDF
/// supported in [0, hi] (midpoint rule on 4000 cells of [0, max(hi, max value)]).
template <class Cdf>
double wasserstein1(std::vector<double> values, const Cdf& cdf, double hi) {
  std::sort(values.begin(), values.end());
  const double top = std::max(hi, values.empty() ? hi : values.back()), n = double(values.size());
  const int cells = 4000;
  const double h = top / cells;
  double w = 0;
  std::size_t below = 0;
  for (int k = 0; k < cells; ++k) {
    const double s = (k + 0.5) * h;
    while (below < values.size() && values[below] <= s) ++below;
    w += std::abs(double(below) / n - cdf(s)) * h;
  }
  return w;
}

/// Histogram of values on [lo, hi) with `bins` equal bins; values outside are clamped into the ends.
SPECDYN_CORE_FN std::vector<double> histogram(const std::vector<double>& values, double lo, double hi, std::size_t bins)
#if SPECDYN_CORE_BODIES
{
  std::vector<double> counts(bins, 0.0);
  for (double v : values) {
    auto b = std::ptrdiff_t((v - lo) / (hi - lo) * double(bins));
    b = std::clamp<std::ptrdiff_t>(b, 0, std::ptrdiff_t(bins) - 1);
    counts[std::size_t(b)] += 1;
  }
  return counts;
}
#else
;
#endif

}  // namespace specdyn::spectra
