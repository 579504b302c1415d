// Information-plus-noise bulk: this header owns the solver for the limiting eigenvalue density of
//   B = (1/N)(R + σX)(R + σX)ᵀ,   R an n×N "signal", X n×N with i.i.d. N(0, 1) entries, c = n/N,
// when the eigenvalues τ of RRᵀ/N have the law H (Dozier–Silverstein 2007). Its Stieltjes transform
// m(z) = ∫ dμ_B(λ)/(λ − z) is, for z in the upper half plane, the solution with Im m > 0 of
//   m = ∫ dH(τ) / ( τ/u − u z + σ²(1 − c) ),     u = 1 + σ² c m,
// (form checked against Monte Carlo eigenvalues in tests/spectra/test_info_plus_noise.cpp; with
// H = δ_0 it is the Marchenko–Pastur quadratic c z m² + (z − 1 + c) m + 1 = 0 of bulk.hpp at σ = 1).
// `solve_info_plus_noise` returns the density Im m(x + iη)/π on a grid with per-point residuals
// and convergence flags; `info_plus_noise_from_signal` takes H from a matrix (e.g. a trained
// weight's update); for one signal level, H = (1−ρ)δ_0 + ρ δ_{θ²}, the equation is a quartic
// (`two_level_quartic`, `two_level_stieltjes`), an independent check. docs/many-outputs.md
// §"Information-plus-noise bulk" has the derivation and the measured accuracy.
//   auto bulk = specdyn::spectra::solve_info_plus_noise(specdyn::spectra::empirical_law(tau), sigma, c, x, 1e-3);
//   bulk.require_converged();  double top = specdyn::spectra::density_upper_edge(bulk, 1e-2);
#pragma once

#include "specdyn/core.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdio>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#if SPECDYN_CORE_BODIES  // Eigen and LAPACK's bindings: parsed only where the bodies compile (core.hpp)
#include <Eigen/Eigenvalues>
#include <xtensor-blas/xlinalg.hpp>
#endif
#include <xtensor/xtensor.hpp>

#include "specdyn/ad/blas.hpp"
#include "specdyn/errors.hpp"

namespace specdyn::spectra {

using matrix = xt::xtensor<double, 2>;
using cplx = std::complex<double>;

/// A discrete law H: atoms τ_k ≥ 0 (ascending) with weights summing to 1.
struct atom_law {
  std::vector<double> atoms, weights;
};

/// Equal-weight law of `values` (e.g. the n eigenvalues of RRᵀ/N). Values within
/// merge_tol·max|τ| of the first value of their group are merged into one atom at the group's mean
/// (a rank-deficient R gives many rounding-level "zeros"; merging makes the solver cost scale with
/// the distinct levels). Rounding-level negative values are clipped to 0.
SPECDYN_CORE_FN atom_law empirical_law(std::vector<double> values, double merge_tol = 1e-12)
#if SPECDYN_CORE_BODIES
{
  require(!values.empty(), "number of eigenvalues of RRᵀ/N", 0, "H needs at least one atom");
  std::sort(values.begin(), values.end());
  const double scale = std::max(std::abs(values.front()), std::abs(values.back()));
  require(std::isfinite(scale), "largest eigenvalue of RRᵀ/N", scale, "must be finite");
  require(values.front() >= -1e-8 * scale, "smallest eigenvalue of RRᵀ/N", values.front(), "a Gram matrix is positive semi-definite");
  const double w = 1.0 / double(values.size()), tol = merge_tol * scale;
  atom_law h;
  double first = 0, sum = 0;
  std::size_t count = 0;
  auto flush = [&] {
    if (count == 0) return;
    h.atoms.push_back(std::max(sum / double(count), 0.0));
    h.weights.push_back(w * double(count));
  };
  for (double v : values) {
    if (count > 0 && v - first <= tol) { sum += v; ++count; continue; }
    flush();
    first = sum = v;
    count = 1;
  }
  flush();
  return h;
}
#else
;
#endif

/// One signal level: a fraction ρ of the singular values of R/√N equal θ, the rest 0, so
/// H = (1 − ρ)δ_0 + ρ δ_{θ²}.
SPECDYN_CORE_FN atom_law two_level_law(double rho, double theta)
#if SPECDYN_CORE_BODIES
{
  require(rho >= 0 && rho <= 1, "signal fraction rho", rho, "must lie in [0, 1]");
  if (rho == 0 || theta == 0) return {{0.0}, {1.0}};
  if (rho == 1) return {{theta * theta}, {1.0}};
  return {{0.0, theta * theta}, {1 - rho, rho}};
}
#else
;
#endif

struct info_plus_noise_options {
  double tolerance = 1e-12;           // converged when |m − f(m)| ≤ tolerance·|m| (or the rounding floor)
  std::size_t max_iterations = 2000;  // Newton iterations per grid point, all heights together
  std::size_t level_iterations = 50;  // Newton iterations at one height before the step is shortened
  double eta_ratio = 0.5;             // Im z shrinks by this factor per continuation step (adapted)
  double start_height = 0;            // Im z where the continuation starts; 0: automatic
};

/// The solution at one z = x + iη.
struct stieltjes_point {
  cplx m;                  // m(z); the last iterate when not converged
  double residual = 0;     // |m − f(m)|/|m| at the target z for the returned m
  std::size_t iterations = 0;
  bool converged = false;
};

struct info_plus_noise_result {
  std::vector<double> x;        // the grid (Re z)
  double eta = 0;               // Im z
  std::vector<cplx> m;          // Stieltjes transform m(x + iη)
  std::vector<double> density;  // Im m/π; NaN where the solve did not converge
  std::vector<double> residual; // |m − f(m)|/|m| per point (≤ max(tolerance, rounding floor) where converged)
  std::vector<std::size_t> iterations;
  std::vector<bool> converged;
  std::size_t failures = 0;     // points not converged
  double max_residual = 0;
  bool all_converged() const { return failures == 0; }
  /// Throws solver_error naming the first failed point and its residual.
  void require_converged() const {
    if (failures == 0) return;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!converged[i]) {
        char msg[256];
        std::snprintf(msg, sizeof msg,
                      "information-plus-noise solver did not converge at %zu of %zu points; first at x = %.6g (eta = %.3g), "
                      "residual %.3g; largest residual %.3g",
                      failures, x.size(), x[i], eta, residual[i], max_residual);
        throw solver_error(msg);
      }
  }
};

namespace detail {

struct ipn_eval {
  cplx f, df, dz;      // f(m), ∂f/∂m and ∂f/∂z
  double magnitude;    // Σ w_k (|1/D_k| + T_k/|D_k|²), T_k = |τ_k/u| + |uz| + σ²|1 − c|: rounding scale of f
};

/// f(m) = Σ w_k / (τ_k/u − u z + σ²(1 − c)), u = 1 + σ²c m, and its derivatives, in real arithmetic
/// (std::complex division and product carry NaN/overflow recovery that costs several times more).
SPECDYN_CORE_FN ipn_eval ipn_map(const atom_law& h, double s2, double c, cplx z, cplx m)
#if SPECDYN_CORE_BODIES
{
  const double sc = s2 * c;
  const double ur = 1 + sc * m.real(), ui = sc * m.imag();
  const double un = ur * ur + ui * ui;
  const double ir = ur / un, ii = -ui / un;                         // 1/u
  const double i2r = ir * ir - ii * ii, i2i = 2 * ir * ii;          // 1/u²
  const double br = s2 * (1 - c) - (ur * z.real() - ui * z.imag()); // σ²(1 − c) − u z
  const double bi = -(ur * z.imag() + ui * z.real());
  const double terms = std::sqrt(un) * std::abs(z) + s2 * std::abs(1 - c), inv_abs_u = 1 / std::sqrt(un);
  double fr = 0, fi = 0, dr = 0, di = 0, sr = 0, si = 0, mag = 0;
  for (std::size_t k = 0; k < h.atoms.size(); ++k) {
    const double t = h.atoms[k], w = h.weights[k];
    const double er = t * ir + br, ei = t * ii + bi;                // D_k
    const double inv_en = 1 / (er * er + ei * ei);
    const double vr = er * inv_en, vi = -ei * inv_en;               // 1/D_k
    fr += w * vr;
    fi += w * vi;
    mag += w * (std::abs(vr) + std::abs(vi) + (t * inv_abs_u + terms) * inv_en);  // D_k's cancellation
    const double gr = t * i2r + z.real(), gi = t * i2i + z.imag();  // τ/u² + z = −D_k'(m)/(σ²c)
    const double qr = vr * vr - vi * vi, qi = 2 * vr * vi;          // 1/D_k²
    dr += w * (gr * qr - gi * qi);
    di += w * (gr * qi + gi * qr);
    sr += w * qr;                                                   // Σ w/D_k² (∂D_k/∂z = −u)
    si += w * qi;
  }
  return {{fr, fi}, {sc * dr, sc * di}, {ur * sr - ui * si, ur * si + ui * sr}, mag};
}
#else
;
#endif

/// The convergence threshold on |m − f(m)|/|m|: the requested tolerance, or the rounding floor of
/// evaluating f (16ε·magnitude/|m|: each 1/D_k carries ε·T_k/|D_k|² from the cancellation in D_k)
/// when that is larger, so that a tolerance below what double precision can resolve does not turn
/// into a spurious failure. Newton aims at half of it (`factor` ½), the final verdict allows all of
/// it (factor 1): the same f evaluated at another call site may round differently (FMA contraction).
SPECDYN_CORE_FN double ipn_threshold(const ipn_eval& e, cplx m, double tol, double factor = 1)
#if SPECDYN_CORE_BODIES
{
  return factor * std::max(tol, 16 * std::numeric_limits<double>::epsilon() * e.magnitude / std::abs(m));
}
#else
;
#endif

SPECDYN_CORE_FN double ipn_residual(const ipn_eval& e, cplx m)
#if SPECDYN_CORE_BODIES
{
  const double r = std::abs(m - e.f) / std::abs(m);
  return std::isfinite(r) ? r : std::numeric_limits<double>::infinity();
}
#else
;
#endif
SPECDYN_CORE_FN double ipn_residual(const atom_law& h, double s2, double c, cplx z, cplx m)
#if SPECDYN_CORE_BODIES
{
  return ipn_residual(ipn_map(h, s2, c, z, m), m);
}
#else
;
#endif

/// Damped Newton on F(m) = m − f(m) at fixed z from `m`, staying in the upper half plane (each
/// step halved until Im m > 0 and |F| decreases). Returns whether |F|/|m| ≤ tol/2 (or half the
/// rounding floor, `ipn_threshold`); `m`, `residual` and `e` (the map there) hold the last
/// iterate; `budget` counts down the iterations used.
SPECDYN_CORE_FN bool ipn_newton(const atom_law& h, double s2, double c, cplx z, cplx& m, double& residual, ipn_eval& e,
                                std::size_t& budget, std::size_t max_steps, double tol)
#if SPECDYN_CORE_BODIES
{
  e = ipn_map(h, s2, c, z, m);
  cplx big_f = m - e.f;
  residual = std::abs(big_f) / std::abs(m);
  for (std::size_t step = 0;; ++step) {
    if (!std::isfinite(residual)) return false;
    if (residual <= ipn_threshold(e, m, tol, 0.5)) return true;
    if (budget == 0 || step == max_steps) return false;
    --budget;
    const cplx delta = big_f / (1.0 - e.df);
    double lambda = 1;
    bool accepted = false;
    for (int halving = 0; halving < 60 && !accepted; ++halving, lambda *= 0.5) {
      const cplx trial = m - lambda * delta;
      if (!(trial.imag() > 0) || !std::isfinite(trial.real())) continue;
      const ipn_eval et = ipn_map(h, s2, c, z, trial);
      const cplx ft = trial - et.f;
      if (std::isfinite(std::abs(ft)) && std::abs(ft) < std::abs(big_f)) {
        m = trial;
        e = et;
        big_f = ft;
        residual = std::abs(big_f) / std::abs(m);
        accepted = true;
      }
    }
    if (!accepted) return false;
  }
}
#else
;
#endif

/// Necessary conditions on a Stieltjes transform of a probability measure on [0, ∞) at z = x + iy:
/// Im m ≥ y|m|² (Cauchy–Schwarz) and Im(z m) ≥ 0, with a relative slack for the residual.
SPECDYN_CORE_FN bool ipn_admissible(cplx z, cplx m, double slack)
#if SPECDYN_CORE_BODIES
{
  const double y = z.imag(), a = std::abs(m);
  return m.imag() > 0 && m.imag() >= y * a * a * (1 - slack) && (z * m).imag() >= -slack * std::abs(z) * a;
}
#else
;
#endif

/// Whether m1 = m(z1) can follow m0 = m(z0) on one Stieltjes transform:
/// |m1 − m0| ≤ |z1 − z0| √(Im m0 Im m1 / (Im z0 Im z1)) (Cauchy–Schwarz on ∫ dμ/((λ−z0)(λ−z1))).
SPECDYN_CORE_FN bool ipn_lipschitz(cplx z0, cplx m0, cplx z1, cplx m1, double slack)
#if SPECDYN_CORE_BODIES
{
  const double bound = std::abs(z1 - z0) * std::sqrt(m0.imag() * m1.imag() / (z0.imag() * z1.imag()));
  return std::abs(m1 - m0) <= bound * (1 + slack) + slack * std::abs(m1);
}
#else
;
#endif

SPECDYN_CORE_FN void check_inputs(const atom_law& h, double sigma, double c)
#if SPECDYN_CORE_BODIES
{
  require(!h.atoms.empty() && h.atoms.size() == h.weights.size(), "number of atoms of H", h.atoms.size(),
          "give as many weights as atoms, at least one");
  require(sigma >= 0 && std::isfinite(sigma), "noise level sigma", sigma, "must be finite and ≥ 0");
  require(c > 0 && std::isfinite(c), "aspect ratio c = n/N", c, "must be finite and > 0");
  double total = 0;
  for (std::size_t k = 0; k < h.atoms.size(); ++k) {
    require(h.atoms[k] >= 0 && std::isfinite(h.atoms[k]), "atom of H", h.atoms[k], "eigenvalues of RRᵀ/N are finite and ≥ 0");
    require(h.weights[k] >= 0, "weight of H", h.weights[k], "must be ≥ 0");
    total += h.weights[k];
  }
  require(std::abs(total - 1) < 1e-9, "total weight of H", total, "weights must sum to 1");
  if (c > 1) {  // R n×N has rank ≤ N, so RRᵀ/N has at least n − N zero eigenvalues
    const double top = *std::max_element(h.atoms.begin(), h.atoms.end());
    double zero = 0;
    for (std::size_t k = 0; k < h.atoms.size(); ++k)
      if (h.atoms[k] <= 1e-10 * top) zero += h.weights[k];
    require(zero >= 1 - 1 / c - 1e-9, "mass of H at 0", zero,
            "with c = n/N > 1, RRᵀ/N has at least a fraction 1 − 1/c of zero eigenvalues (rank ≤ N)");
  }
}
#else
;
#endif

}  // namespace detail

/// Upper end of the support of μ_B (a bound, from the triangle inequality on singular values):
/// (√max τ + σ(1 + √c))².
SPECDYN_CORE_FN double info_plus_noise_bound(const atom_law& h, double sigma, double c)
#if SPECDYN_CORE_BODIES
{
  const double top = *std::max_element(h.atoms.begin(), h.atoms.end());
  const double s = std::sqrt(top) + sigma * (1 + std::sqrt(c));
  return s * s;
}
#else
;
#endif

/// m(z) at one z = x + iη (η > 0). Continuation in the height: start at x + iY, Y above the whole
/// spectrum, from m ≈ −1/z (where the map is nearly constant and Newton converges at once), then
/// lower Im z geometrically to η. Each height is solved by damped Newton from a tangent predictor
/// (Euler step on 1/m with dm/dz = ∂f/∂z/(1 − ∂f/∂m), exact near an atom of μ_B where
/// m ≈ a/(λ₀ − z) grows like 1/Im z). A step is accepted only if Newton converged and the new m is
/// admissible (Im m ≥ y|m|², Im(zm) ≥ 0) and within the Stieltjes Lipschitz bound of the previous
/// m (so it cannot jump to another root of the equation); otherwise the step is shortened
/// (ratio → √ratio) and retried. Gives up (converged = false) when the iteration budget is spent or
/// the step cannot shrink.
SPECDYN_CORE_FN stieltjes_point solve_info_plus_noise_at(const atom_law& h, double sigma, double c, cplx z,
                                                         const info_plus_noise_options& opt = {})
#if SPECDYN_CORE_BODIES
{
  detail::check_inputs(h, sigma, c);
  require(z.imag() > 0 && std::isfinite(z.real()), "Im z", z.imag(), "the solver works in the upper half plane: use eta > 0");
  const double s2 = sigma * sigma, eta = z.imag(), x = z.real();
  const double slack = std::max(1e-9, 1e3 * opt.tolerance);
  double y = opt.start_height > 0 ? opt.start_height : 4 * (info_plus_noise_bound(h, sigma, c) + std::abs(x)) + 1;
  y = std::max(y, eta);
  stieltjes_point out;
  std::size_t budget = opt.max_iterations;
  cplx m = -1.0 / cplx(x, y);
  double res = 0;
  detail::ipn_eval e{};
  bool ok = detail::ipn_newton(h, s2, c, {x, y}, m, res, e, budget, opt.level_iterations, opt.tolerance) &&
            detail::ipn_admissible({x, y}, m, slack);
  double ratio = opt.eta_ratio;
  while (ok && y > eta) {
    const double y_next = std::max(eta, y * ratio);
    const cplx dm_dz = e.dz / (1.0 - e.df);
    cplx trial = 1.0 / (1.0 / m - cplx(0, y_next - y) * dm_dz / (m * m));  // Euler on 1/m
    if (!(trial.imag() > 0) || !std::isfinite(std::abs(trial))) trial = m;
    double trial_res = 0;
    detail::ipn_eval trial_e{};
    const bool step_ok =
        detail::ipn_newton(h, s2, c, {x, y_next}, trial, trial_res, trial_e, budget, opt.level_iterations, opt.tolerance) &&
        detail::ipn_admissible({x, y_next}, trial, slack) && detail::ipn_lipschitz({x, y}, m, {x, y_next}, trial, slack);
    if (step_ok) {
      m = trial;
      e = trial_e;
      y = y_next;
      ratio = std::max(opt.eta_ratio, ratio * ratio);
    } else {
      if (budget == 0) { ok = false; break; }
      ratio = std::sqrt(ratio);
      if (ratio > 0.999) { ok = false; break; }
    }
  }
  out.m = m;
  out.iterations = opt.max_iterations - budget;
  const detail::ipn_eval at_z = detail::ipn_map(h, s2, c, z, m);
  out.residual = detail::ipn_residual(at_z, m);
  out.converged = ok && y == eta && out.residual <= detail::ipn_threshold(at_z, m, opt.tolerance);
  return out;
}
#else
;
#endif

/// Density of B on a grid: ρ(x) = Im m(x + iη)/π (the Cauchy-smoothed density; η → 0 gives μ_B),
/// with m, residuals, iteration counts and flags per point. A point that did not converge keeps its
/// last m and residual, gets density NaN, and is counted in `failures`.
SPECDYN_CORE_FN info_plus_noise_result solve_info_plus_noise(const atom_law& h, double sigma, double c, const std::vector<double>& x,
                                                             double eta, const info_plus_noise_options& opt = {})
#if SPECDYN_CORE_BODIES
{
  detail::check_inputs(h, sigma, c);
  require(eta > 0 && std::isfinite(eta), "eta", eta, "the density is read at x + i·eta: use eta > 0");
  info_plus_noise_result r;
  r.x = x;
  r.eta = eta;
  r.m.resize(x.size());
  r.density.resize(x.size());
  r.residual.resize(x.size());
  r.iterations.resize(x.size());
  r.converged.resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const stieltjes_point p = solve_info_plus_noise_at(h, sigma, c, {x[i], eta}, opt);
    r.m[i] = p.m;
    r.residual[i] = p.residual;
    r.iterations[i] = p.iterations;
    r.converged[i] = p.converged;
    r.density[i] = p.converged ? p.m.imag() / std::numbers::pi : std::numeric_limits<double>::quiet_NaN();
    if (!p.converged) ++r.failures;
    r.max_residual = std::max(r.max_residual, p.residual);
  }
  return r;
}
#else
;
#endif

/// Same, with H the equal-weight law of `tau` (the eigenvalues of RRᵀ/N).
SPECDYN_CORE_FN info_plus_noise_result solve_info_plus_noise(const std::vector<double>& tau, double sigma, double c,
                                                             const std::vector<double>& x, double eta,
                                                             const info_plus_noise_options& opt = {})
#if SPECDYN_CORE_BODIES
{
  return solve_info_plus_noise(empirical_law(tau), sigma, c, x, eta, opt);
}
#else
;
#endif

/// The eigenvalues of RRᵀ/N for R [n, N]: from the smaller Gram matrix (LAPACK syevd), with the
/// n − N structural zeros added when n > N. Ascending.
SPECDYN_CORE_FN std::vector<double> signal_spectrum(const matrix& r)
#if SPECDYN_CORE_BODIES
{
  const std::size_t n = r.shape(0), big_n = r.shape(1);
  require(n > 0 && big_n > 0, "signal matrix rows", n, "R must be n×N with n, N > 0");
  const std::size_t k = std::min(n, big_n);
  matrix gram({k, k});
  blas::gemm(n > big_n, n <= big_n, 1.0 / double(big_n), r, r, 0.0, gram);  // RRᵀ/N or RᵀR/N
  auto ev = xt::linalg::eigvalsh(gram);
  std::vector<double> tau(n - k, 0.0);
  tau.insert(tau.end(), ev.begin(), ev.end());
  for (auto& t : tau) t = std::max(t, 0.0);  // rounding-level negatives of a PSD Gram
  std::sort(tau.begin(), tau.end());
  return tau;
}
#else
;
#endif

/// Semi-empirical bulk: H from a given signal matrix R [n, N] (the caller's scaling; c = n/N),
/// noise σX added, density of B = (1/N)(R + σX)(R + σX)ᵀ predicted on the grid. For a trained
/// weight W(t) = W(0) + ΔW with W(0) entries N(0, s²) and W Wᵀ the matrix of interest:
/// R = √N·ΔW and σ = √N·s (then B = W Wᵀ).
SPECDYN_CORE_FN info_plus_noise_result info_plus_noise_from_signal(const matrix& r, double sigma, const std::vector<double>& x,
                                                                   double eta, const info_plus_noise_options& opt = {})
#if SPECDYN_CORE_BODIES
{
  const double c = double(r.shape(0)) / double(r.shape(1));
  return solve_info_plus_noise(empirical_law(signal_spectrum(r)), sigma, c, x, eta, opt);
}
#else
;
#endif

/// ∫_{x_0}^{x_i} ρ by the trapezoid rule on the grid (the model CDF up to the mass below x_0).
SPECDYN_CORE_FN std::vector<double> cumulative_density(const info_plus_noise_result& r)
#if SPECDYN_CORE_BODIES
{
  std::vector<double> cdf(r.x.size(), 0.0);
  for (std::size_t i = 1; i < r.x.size(); ++i)
    cdf[i] = cdf[i - 1] + 0.5 * (r.density[i] + r.density[i - 1]) * (r.x[i] - r.x[i - 1]);
  return cdf;
}
#else
;
#endif

/// Support edge estimate: the largest x where the density falls through `threshold`, linearly
/// interpolated between grid points. For a square-root edge ρ ≈ C√(edge − x) the η → 0 density
/// crosses the threshold (threshold/C)² inside the edge, while the η-smoothed density stays above
/// it up to ≈ (Cη/threshold)² outside (its tail there is ≈ Cη/(2√d) at distance d); the grid
/// spacing adds its own error. Throws solver_error when a point did not converge, and
/// usage_error when the last grid point is still above the threshold (the grid stops inside the
/// support). NaN when the density never exceeds the threshold.
SPECDYN_CORE_FN double density_upper_edge(const info_plus_noise_result& r, double threshold)
#if SPECDYN_CORE_BODIES
{
  r.require_converged();
  const std::size_t n = r.x.size();
  require(n > 0, "grid size", n, "give a grid");
  require(!(r.density[n - 1] > threshold), "density at the last grid point", r.density[n - 1],
          "the grid ends inside the support: extend it to the right");
  for (std::size_t i = n - 1; i-- > 0;)
    if (r.density[i] > threshold) {
      const double d0 = r.density[i], d1 = r.density[i + 1];
      return r.x[i] + (d0 - threshold) / (d0 - d1) * (r.x[i + 1] - r.x[i]);
    }
  return std::numeric_limits<double>::quiet_NaN();
}
#else
;
#endif

/// Density of the singular values s = √λ of (R + σX)/√N from the eigenvalue density ρ_B of B:
/// ρ_s(s) = 2s·ρ_B(s²) (normalised over the n eigenvalues: for c > 1 the (1 − 1/c) mass of B at 0
/// is not a density and is not represented). Grid points with x ≤ 0 are dropped.
struct singular_value_density {
  std::vector<double> s, density;
};
inline double singular_density_from_eigen(double s, double eigen_density_at_s2) { return 2 * s * eigen_density_at_s2; }
SPECDYN_CORE_FN singular_value_density to_singular_density(const info_plus_noise_result& r)
#if SPECDYN_CORE_BODIES
{
  singular_value_density out;
  for (std::size_t i = 0; i < r.x.size(); ++i) {
    if (!(r.x[i] > 0)) continue;
    const double s = std::sqrt(r.x[i]);
    out.s.push_back(s);
    out.density.push_back(singular_density_from_eigen(s, r.density[i]));
  }
  return out;
}
#else
;
#endif

// ---- one signal level: the quartic -------------------------------------------------------------

/// Coefficients a_0..a_4 (ascending) of the quartic P(m) = Σ a_k m^k satisfied by m(z) when
/// H = (1 − ρ)δ_0 + ρ δ_{θ²}. With u = 1 + s m, s = σ²c, and A = σ²(1 − c) − u z = α + β m
/// (α = σ²(1 − c) − z, β = −s z) the equation m = (1 − ρ)/A + ρ u/(θ² + A u) becomes, after
/// multiplying by A(θ² + Au) = A(p0 + p1 m + p2 m²) (p0 = θ² + α, p1 = β + sα, p2 = sβ),
///   m (α + β m)(p0 + p1 m + p2 m²) = (1 − ρ)θ² + α + p1 m + p2 m²,
/// so a4 = βp2, a3 = αp2 + βp1, a2 = αp1 + βp0 − p2, a1 = αp0 − p1, a0 = −(α + (1 − ρ)θ²).
SPECDYN_CORE_FN std::array<cplx, 5> two_level_quartic(double rho, double theta, double sigma, double c, cplx z)
#if SPECDYN_CORE_BODIES
{
  const double s = sigma * sigma * c, t2 = theta * theta;
  const cplx alpha = sigma * sigma * (1 - c) - z, beta = -s * z;
  const cplx p0 = t2 + alpha, p1 = beta + s * alpha, p2 = s * beta;
  return {-(alpha + (1 - rho) * t2), alpha * p0 - p1, alpha * p1 + beta * p0 - p2, alpha * p2 + beta * p1, beta * p2};
}
#else
;
#endif

/// The four roots of the quartic (companion-matrix eigenvalues, each polished by Newton on P).
SPECDYN_CORE_FN std::array<cplx, 4> two_level_quartic_roots(double rho, double theta, double sigma, double c, cplx z)
#if SPECDYN_CORE_BODIES
{
  require(sigma > 0 && c > 0, "sigma·c", sigma * c, "the quartic needs noise (sigma > 0) and c > 0");
  require(z != 0.0, "|z|", 0.0, "the quartic degenerates at z = 0");
  const auto a = two_level_quartic(rho, theta, sigma, c, z);
  Eigen::Matrix4cd comp = Eigen::Matrix4cd::Zero();
  for (int i = 1; i < 4; ++i) comp(i, i - 1) = 1.0;
  for (int i = 0; i < 4; ++i) comp(i, 3) = -a[std::size_t(i)] / a[4];
  Eigen::ComplexEigenSolver<Eigen::Matrix4cd> solver(comp, false);
  if (solver.info() != Eigen::Success) throw solver_error("quartic: companion eigenvalues did not converge");
  std::array<cplx, 4> roots;
  auto p = [&](cplx m) { return (((a[4] * m + a[3]) * m + a[2]) * m + a[1]) * m + a[0]; };
  auto dp = [&](cplx m) { return ((4.0 * a[4] * m + 3.0 * a[3]) * m + 2.0 * a[2]) * m + a[1]; };
  for (int i = 0; i < 4; ++i) {
    cplx m = solver.eigenvalues()(i);
    for (int it = 0; it < 3; ++it) {
      const cplx d = dp(m);
      if (d == 0.0) break;
      const cplx next = m - p(m) / d;
      if (std::abs(p(next)) < std::abs(p(m))) m = next;
      else break;
    }
    roots[std::size_t(i)] = m;
  }
  return roots;
}
#else
;
#endif

/// m(z) for H = (1 − ρ)δ_0 + ρ δ_{θ²} from the quartic: the root that is the Stieltjes transform
/// (Im m > 0, Im m ≥ Im z·|m|², Im(zm) ≥ 0, and it satisfies the unmultiplied equation). When
/// more than one root passes these tests, the branch is followed down from x + iY (Y above the
/// spectrum, where it is the root nearest −1/z) by nearest-root tracking. Independent of the
/// Newton solver above (no iteration on the equation itself).
SPECDYN_CORE_FN cplx two_level_stieltjes(double rho, double theta, double sigma, double c, cplx z)
#if SPECDYN_CORE_BODIES
{
  require(z.imag() > 0, "Im z", z.imag(), "use z in the upper half plane");
  const atom_law h = two_level_law(rho, theta);
  detail::check_inputs(h, sigma, c);
  const double s2 = sigma * sigma;
  auto candidates = [&](cplx zz) {
    std::vector<cplx> out;
    for (const cplx m : two_level_quartic_roots(rho, theta, sigma, c, zz))
      if (detail::ipn_admissible(zz, m, 1e-9) && detail::ipn_residual(h, s2, c, zz, m) < 1e-8) out.push_back(m);
    return out;
  };
  const auto direct = candidates(z);
  if (direct.size() == 1) return direct[0];
  const double top = 4 * (info_plus_noise_bound(h, sigma, c) + std::abs(z.real())) + 1;
  cplx m = -1.0 / cplx(z.real(), top);
  for (double y = top;; y = std::max(z.imag(), y * 0.95)) {
    const auto roots = two_level_quartic_roots(rho, theta, sigma, c, {z.real(), y});
    cplx best = roots[0];
    for (const cplx r : roots)
      if (std::abs(r - m) < std::abs(best - m)) best = r;
    m = best;
    if (y == z.imag()) break;
  }
  if (!detail::ipn_admissible(z, m, 1e-9))
    throw solver_error("quartic: the tracked root " + std::to_string(m.real()) + " + " + std::to_string(m.imag()) +
                       "i is not a Stieltjes transform value");
  return m;
}
#else
;
#endif

}  // namespace specdyn::spectra
