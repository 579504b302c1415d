// Random-matrix laws for the bulk and its outliers (docs/conventions.md §5): the quarter-circle law of
// square Gaussian matrices, Marchenko–Pastur edges, density and Stieltjes transform, the
// finite-size margin that separates outliers from the bulk edge, and the classical BBP
// predictions for independent rank-one spikes (rectangular, square, spiked Wigner).
//   double edge = specdyn::spectra::bulk_edge(sigma_entry, n, m);   // top of the bulk
#pragma once

#include <cmath>
#include <algorithm>
#include <complex>
#include <numbers>
#include <vector>

namespace specdyn::spectra {

/// Quarter circle: density of singular values of an N×N matrix with entries N(0, σ²/N), on [0, 2σ].
inline double quarter_circle_density(double s, double sigma) {
  if (s < 0 || s > 2 * sigma) return 0.0;
  return std::sqrt(4 * sigma * sigma - s * s) / (std::numbers::pi * sigma * sigma);
}

/// Edges of the singular-value bulk of an n×m matrix with i.i.d. entries of standard deviation
/// `entry_std`: entry_std·|√m ± √n| (docs/conventions.md §5: σ(1 ± √ν) for W⁰/√D, 2σ for square).
struct edges { double lower, upper; };
inline edges bulk_edges(double entry_std, std::size_t n, std::size_t m) {
  const double a = std::sqrt(double(m)), b = std::sqrt(double(n));
  return {entry_std * std::abs(a - b), entry_std * (a + b)};
}

/// Finite-size margin above the upper edge beyond which a singular value counts as an outlier.
/// The largest bulk singular value fluctuates on the Tracy–Widom scale, which shrinks with the size
/// like n^{-2/3}, n = min(rows, cols); we use 3·edge·n^{-2/3}. In Tracy–Widom standard deviations
/// of the top bulk value this depends on the shape: about 7 for a square 256×256 weight and about
/// 20 for a 1024×64 input weight (a thin matrix's edge fluctuates relatively less), so false
/// outliers are negligible everywhere and near-edge outliers of thin matrices are reported late.
inline double outlier_margin(double upper_edge, std::size_t n, std::size_t m) {
  return 3.0 * upper_edge * std::pow(double(std::min(n, m)), -2.0 / 3.0);
}

/// Marchenko–Pastur for S = X Xᵀ / m, X n×m i.i.d. N(0, σ²), ratio c = n/m: eigenvalue edges.
inline edges mp_edges(double c, double sigma2 = 1.0) {
  return {sigma2 * (1 - std::sqrt(c)) * (1 - std::sqrt(c)), sigma2 * (1 + std::sqrt(c)) * (1 + std::sqrt(c))};
}

/// MP Stieltjes transform m(z) = ∫ ρ(λ)/(λ − z) dλ (σ² = 1) solving c z m² + (z − 1 + c) m + 1 = 0,
/// on the branch with Im m > 0 for Im z > 0.
inline std::complex<double> mp_stieltjes(std::complex<double> z, double c) {
  const std::complex<double> a = c * z, b = z - 1.0 + c;
  const std::complex<double> disc = std::sqrt(b * b - 4.0 * a);
  std::complex<double> m1 = (-b + disc) / (2.0 * a), m2 = (-b - disc) / (2.0 * a);
  return m1.imag() * z.imag() >= 0 ? m1 : m2;
}

/// MP density (σ² = 1, c ≤ 1) from the Stieltjes transform: ρ(λ) = Im m(λ + i0)/π.
inline double mp_density(double lambda, double c) {
  return mp_stieltjes({lambda, 1e-12}, c).imag() / std::numbers::pi;
}

/// MP density in closed form (c ≤ 1, σ² = 1), for cross-checks.
inline double mp_density_closed(double lambda, double c) {
  const auto [lo, hi] = mp_edges(c);
  if (lambda <= lo || lambda >= hi) return 0.0;
  return std::sqrt((hi - lambda) * (lambda - lo)) / (2 * std::numbers::pi * c * lambda);
}

/// Top singular value of X + θ u vᵀ (X n×m, entries N(0, σ²/m), c = n/m ≤ 1, u, v unit and
/// independent of X): σ√((1+θ̃²)(c+θ̃²))/θ̃ when θ̃ = θ/σ > c^{1/4}, otherwise the edge σ(1 + √c).
inline double bbp_rectangular(double theta, double sigma, double c) {
  const double t = theta / sigma;
  if (t <= std::pow(c, 0.25)) return sigma * (1 + std::sqrt(c));
  return sigma * std::sqrt((1 + t * t) * (c + t * t)) / t;
}

/// Spiked Wigner: top eigenvalue of a GOE matrix (semicircle on [−2, 2]) plus θ u uᵀ: θ + 1/θ for θ > 1.
inline double bbp_wigner(double theta) { return theta > 1 ? theta + 1 / theta : 2.0; }

/// Histogram of values on [lo, hi) with `bins` equal bins; values outside are clamped into the ends.
inline std::vector<double> histogram(const std::vector<double>& values, double lo, double hi, std::size_t bins) {
  std::vector<double> counts(bins, 0.0);
  for (double v : values) {
    auto b = std::ptrdiff_t((v - lo) / (hi - lo) * double(bins));
    b = std::clamp<std::ptrdiff_t>(b, 0, std::ptrdiff_t(bins) - 1);
    counts[std::size_t(b)] += 1;
  }
  return counts;
}

}  // namespace specdyn::spectra
