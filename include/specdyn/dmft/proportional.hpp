// The proportional limit of deep linear networks with one output: width N, input dimension D and
// samples P diverge together at fixed ν = N/D and α = P/D, with γ̃0 = γ0√D and η̂ = η/P fixed
// (docs/proportional.md derives the scalings and the equations). Depth L counts the dense layers:
// x → A → W_1 → … → W_{L−1} → w (L = 1 is deep_linear2, 2 deep_linear3, 3 deep_linear4). The data
// matrix and every weight are random, so the theory has one single-site process per index type,
// each linear in its Gaussian sources:
//   data point μ:     Δ(t) = r^X(t) + Σ_{s<t} R_e(t,s) Δ(s) + ε                    r^X ~ GP(0, C_e)
//   input coord i:    β(t) = [r^A(t) + Σ_{s<t} (σ²ν R_u(t,s) + η̂γ̃0ν C_u(s,t)) v(s)] / (γ̃0ν),  e = β* − β + β(0)
//                     v(t) = u^X(t) + α Σ_{s≤t} R_Δ(t,s) e(s)          r^A ~ GP(0, σ²ν C_u), u^X ~ GP(0, αC_Δ)
//   neuron of layer ℓ = 0 … L−1, forward field h_ℓ and backward field g_ℓ (u = g_0, w = g_{L−1}):
//     h_0(t) = u^A(t) + σ² Σ_{s≤t} R_v(t,s) g_0(s) + η̂γ̃0 Σ_{s<t} C_v(s,t) g_0(s)              u^A ~ GP(0, σ²C_v)
//     h_ℓ(t) = χ_ℓ(t) + σ² Σ_{s≤t} R_{h_{ℓ−1}←ξ_{ℓ−1}}(t,s) g_ℓ(s) + η̂γ̃0 Σ_{s<t} C_{h_{ℓ−1}}(s,t) g_ℓ(s)   χ_ℓ ~ GP(0, σ²C_{h_{ℓ−1}})
//     g_ℓ(t) = ξ_ℓ(t) + σ² Σ_{s<t} R_{g_{ℓ+1}←χ_{ℓ+1}}(t,s) h_ℓ(s) + η̂γ̃0 Σ_{s<t} C_{g_{ℓ+1}}(s,t) h_ℓ(s)  ξ_ℓ ~ GP(0, σ²C_{g_{ℓ+1}})
//     readout (ℓ = L−1):  w(t+1) = w(t) + η̂γ̃0 h_{L−1}(t),  w(0) ~ N(0, σ²)
// Each square weight W_ℓ is an independent Gaussian matrix seen from its two sides, so it adds the
// same pair of response terms to the layers it joins, whatever the depth.
// with responses R_x(t,s) = ⟨∂x(t)/∂source(s)⟩ and correlations C_x(t,s) = ⟨x(t)x(s)⟩ averaged over
// each site. Every variable is a linear combination of its site's sources with deterministic
// coefficients, so the closure is exact linear algebra over (T+1)×(T+1) blocks, solved in one causal
// pass (no particles): the coefficient of a source is the response, and correlations are
// coefficient · source covariance · coefficientᵀ.
// Spectra: the weights' outliers from the two-level determinant (spiked_outlier_vectors) and, for the
// top outlier of each weight and for the NTK on the training set, from Lanczos iterations run inside
// the closure: each iteration applies the frozen operator (W Wᵀ, or the NTK) to a vector placed in a
// virtual time slot, with its own Gaussian sources and Onsager terms (closure_apply_gram,
// closure_apply_ntk, closure_lanczos).
//   auto sol = specdyn::dmft::solve_proportional({.alpha = 2, .nu = 1, .gamma0_tilde = 16, .eta_hat = 0.02, .steps = 30});
#pragma once

#include "specdyn/core.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#if SPECDYN_CORE_BODIES  // LAPACK through xtensor-blas: parsed only where the bodies compile (core.hpp)
#include <xtensor-blas/xlinalg.hpp>
#endif
#include <xtensor/xtensor.hpp>

#include "specdyn/errors.hpp"

namespace specdyn::dmft {

struct proportional_problem {
  double alpha = 2.0;         // P/D
  double nu = 1.0;            // N/D
  double gamma0_tilde = 1.0;  // γ0 √D
  double eta_hat = 0.5;       // η / P
  double sigma = 1.0;         // initial weight scale
  double noise = 0.0;         // label noise standard deviation σ_ε
  std::size_t steps = 50;
  std::size_t depth = 1;      // dense layers L: 1 (deep_linear2), 2 (deep_linear3), 3 (deep_linear4), … up to 8
  std::size_t spectra_every = 0;  // predict the weight outliers every this many steps (0: never)
  std::size_t ntk_iterations = 60;  // at most this many Lanczos iterations for the NTK's top at t = 0, the spectra steps and T (0: skip)
  bool online = false;  // one-pass SGD: a fresh batch of αD points each step (then α = B/D and η̂ = η/B)
  double spike_cut = 1e-9;  // relative eigenvalue cut of the two-level determinant's Gram matrices (spiked_outlier_vectors)

  SPECDYN_CORE_FN void validate() const
#if SPECDYN_CORE_BODIES
  {
    require(depth >= 1 && depth <= 8, "depth", depth, "the proportional theory takes 1 to 8 dense layers (deep_linear2 … deep_linear9)");
    require(alpha > 0 && std::isfinite(alpha), "α = P/D", alpha, "must be a positive number");
    require(nu > 0 && std::isfinite(nu), "ν = N/D", nu, "must be a positive number");
    require(gamma0_tilde > 0 && std::isfinite(gamma0_tilde), "γ̃0 = γ0√D", gamma0_tilde, "must be a positive number");
    require(eta_hat > 0 && std::isfinite(eta_hat), "η/P", eta_hat, "must be a positive number");
    require(sigma > 0 && std::isfinite(sigma), "--sigma", sigma, "must be a positive number");
    require(noise >= 0 && std::isfinite(noise), "--noise", noise, "must be a non-negative number");
    require(steps <= 5000, "--steps", steps, "use at most 5000 for the proportional theory (cost T³)");
    require(ntk_iterations <= 1000, "NTK Lanczos iterations", ntk_iterations, "use at most 1000");
    require(spike_cut > 0 && spike_cut < 1, "spike cut", spike_cut, "must lie in (0, 1)");
  }
#else
  ;
#endif
};

/// Predicted outliers of one weight matrix M (rows × cols, normalised by √rows) at N = ∞.
struct proportional_spectrum {
  std::string name;                          // "W0" (the N×D input weight) or "Wℓ" (ℓ = 1 … L−1: the N×N hidden weights)
  double edge = 0;                           // bulk edge σ(1 + √(cols/rows)) of M/√rows
  std::vector<std::size_t> steps;
  std::vector<std::vector<double>> outliers;  // per step, descending
  // per step and outlier (same order): squared overlaps of its singular vectors (ũ on the rows side,
  // ṽ on the columns side) with the top singular vectors of the accumulated update M(t) − M(0), with
  // the readout w(t) (ũ of the top weight, the one that feeds the readout; empty lists for the others)
  // and with the teacher β* (ṽ of W0; empty lists for the others)
  std::vector<std::vector<double>> overlap_update_left, overlap_update_right, overlap_readout, overlap_teacher;
  std::vector<double> identity_residual;     // per step: |kᵀ(M₀ᵀl) − (M₀k)ᵀl| / scale, a self-check of the closure (≈ 1e-15)
  // per step: the top outlier from the two-level determinant alone (NaN: none) and the residual of the
  // Lanczos route that replaces it (detail::weight_top_outlier; NaN where the determinant sees no
  // outlier). Their difference measures the determinant's sensitivity to its cut (≤ 5e-4 relative in our runs).
  std::vector<double> two_level_top, lanczos_residual;
};

/// The top of the NTK's spectrum on the training set at one step (dmft::detail::ntk_lanczos).
struct ntk_ritz {
  std::size_t step = 0;
  double top = 0;          // largest Ritz value (units f ← f + (η/P)KΔ)
  double second = 0;       // the next one
  double weight = 0;       // squared overlap of the labels y with the top Ritz vector, ⟨y, x₁⟩²/|y|²
  double residual = 0;     // |K x₁ − top·x₁| (Lanczos' bound on the distance to an eigenvalue)
  std::size_t iterations = 0;
  bool converged = false;  // residual ≤ 1e-5·top: an eigenvalue (an outlier); otherwise top is a lower bound of the bulk edge
  // the whole Gauss quadrature of the labels' spectral measure under K: Ritz values (ascending) and
  // their weights ⟨y, x_i⟩²/|y|² (summing to 1), so Σ_i weights_i/(nodes_i − z) approximates yᵀ(K − z)⁻¹y/|y|²
  std::vector<double> nodes, weights;
  std::vector<double> top_vector;  // the top Ritz vector's coefficients on the Lanczos vectors (slots T + 1, T + 2, …)
};

struct proportional_solution {
  std::vector<proportional_spectrum> spectra;  // empty unless spectra_every > 0
  std::vector<double> train_loss, test_loss;  // ½⟨Δ²⟩_μ and ½(⟨e²⟩_i + σ_ε²), t = 0..T
  std::vector<double> teacher_overlap;        // ⟨(β(t) − β(0)) β*⟩_i / ⟨β*²⟩: alignment with the teacher
  std::vector<double> readout_norm;           // ⟨w(t)²⟩ over the top layer's neurons
  // per step: the right edge of the bulk of the NTK on the training set, in the units where a GD step
  // is f ← f + (η/P)KΔ, so η̂·ntk_edge is the edge-of-stability ratio of the bulk (ntk_bulk_edge)
  std::vector<double> ntk_edge;
  // at t = 0, the spectra steps (at most about 25 of them, evenly spaced) and T (full batch;
  // ntk_iterations > 0): the top of the NTK's spectrum from Lanczos iterations inside the closure; a
  // converged value above ntk_edge is an outlier
  std::vector<ntk_ritz> ntk;
};

namespace detail {
using vec = std::vector<double>;
using mat = std::vector<vec>;

/// One site type: its Gaussian sources (time series with causally filled covariances; a static
/// source is a series whose only nonzero covariance entry is [0][0]) and linear combinations of
/// them, stored as one coefficient series per source.
struct site {
  std::size_t T1;
  std::vector<mat> cov;  // [source][t][s]
  using lin = std::vector<vec>;
  site(std::size_t sources, std::size_t t1) : T1(t1), cov(sources, mat(t1, vec(t1, 0.0))) {}
  [[nodiscard]] lin zero() const { return lin(cov.size(), vec(T1, 0.0)); }
  static void axpy(double k, const lin& x, lin& y) {
    if (k == 0) return;
    for (std::size_t a = 0; a < x.size(); ++a)
      for (std::size_t r = 0; r < x[a].size(); ++r) y[a][r] += k * x[a][r];
  }
  /// The source covariance applied to x's coefficients (times ≤ upto): ⟨x y⟩ = dot(weighted(x), y).
  /// Computing it once per x makes a row of correlations O(t²) instead of O(t³).
  [[nodiscard]] lin weighted(const lin& x, std::size_t upto) const {
    lin out = zero();
    for (std::size_t a = 0; a < cov.size(); ++a)
      for (std::size_t s = 0; s <= upto; ++s) {
        if (x[a][s] == 0) continue;
        for (std::size_t r = 0; r <= upto; ++r) out[a][r] += cov[a][s][r] * x[a][s];
      }
    return out;
  }
  static double dot(const lin& wx, const lin& y, std::size_t upto) {
    double q = 0;
    for (std::size_t a = 0; a < wx.size(); ++a)
      for (std::size_t r = 0; r <= upto; ++r) q += wx[a][r] * y[a][r];
    return q;
  }
};

/// The outliers of M = M₀ + c Σ_{s<t} l(s) k(s)ᵀ (M₀: rows × cols, i.i.d. N(0, σ²)) when the
/// trajectory depends on M₀ only through Y = M₀K and Z = M₀ᵀL (K, L: the columns k(s), l(s)).
/// Conditioning M₀ on Y and Z (exact for Gaussian M₀) gives M = M̃ + F with M̃ an independent
/// Gaussian matrix on span(L)⊥ × span(K)⊥ and the finite-rank F = [Y L] Ω [K Z]ᵀ,
///   Ω = [[G_K⁺, 0], [c·I − G_L⁺ LᵀY G_K⁺, G_L⁺]].
/// Outliers of M/√rows are the s above the edge with det(I − Ω K_R(s) Ωᵀ K_L(s)) = 0, where
/// K_L = LᵀP_L L/s + (P_L⊥L)ᵀ(P_L⊥L)·(s/rows)·g_r(s²/rows)·... in units of the unnormalised s (the
/// code uses the normalised s̃ = s/√rows), with g_r, g_c the Stieltjes transforms of the
/// Marchenko–Pastur laws of M̃M̃ᵀ/rows and M̃ᵀM̃/rows. Gram matrices come in consistent units
/// (any common scaling of rows, cols and the Grams leaves the normalised outliers unchanged).
struct spike_grams {
  xt::xtensor<double, 2> gk, gl, yy, zz, ly;  // KᵀK, LᵀL, YᵀY, ZᵀZ, LᵀY (r × r)
  double c = 0, rows = 1, cols = 1, sigma = 1;
};

/// Orthonormalising map of a Gram matrix: columns E_k/√λ_k for the eigenvalues above `cut`·λ_max
/// (the rest are directions the vectors do not really span; in floating point they are noise).
SPECDYN_CORE_FN xt::xtensor<double, 2> whitener(const xt::xtensor<double, 2>& g, double cut)
#if SPECDYN_CORE_BODIES
{
  const std::size_t r = g.shape(0);
  if (r == 0) return xt::zeros<double>({std::size_t{0}, std::size_t{0}});
  auto [lam, vecs] = xt::linalg::eigh(g);
  const double top = xt::amax(xt::abs(lam))();
  std::vector<std::size_t> keep;
  for (std::size_t k = 0; k < r; ++k)
    if (lam(k) > cut * top) keep.push_back(k);
  xt::xtensor<double, 2> w = xt::zeros<double>({r, keep.size()});
  for (std::size_t j = 0; j < keep.size(); ++j)
    for (std::size_t i = 0; i < r; ++i) w(i, j) = vecs(i, keep[j]) / std::sqrt(lam(keep[j]));
  return w;
}
#else
;
#endif

/// A probe vector on one side of M, given by its inner products with the observed vectors and its
/// squared norm: on the rows side a ∈ R^rows with `first` = aᵀL and `second` = aᵀY (one entry per
/// column of L, i.e. per recorded step), on the columns side b ∈ R^cols with `first` = bᵀK and
/// `second` = bᵀZ. It must be a function of the trajectory (of M₀ only through Y and Z); its part
/// outside the observed span then sees M̃ as independent, isotropic noise.
struct spike_probe {
  std::vector<double> first, second;
  double norm2 = 1;
};

/// One outlier of M/√rows with its singular vectors (ũ, ṽ) measured against directions: the top
/// singular vectors of the update ΔM = c Σ_s l(s)k(s)ᵀ, and any probes passed in.
struct spike_outlier {
  double value = 0;                         // normalised singular value s/√rows
  double update_left = 0, update_right = 0; // |⟨ũ, û_ΔM⟩|², |⟨ṽ, v̂_ΔM⟩|² (top singular vectors of the update)
  std::vector<double> left, right;          // |⟨ũ, a⟩|²/|a|² per rows-side probe, |⟨ṽ, b⟩|²/|b|² per columns-side probe
  double null_residual = 0;                 // smallest / largest singular value of I − ΩK_RΩᵀK_L at the root (≈ 0)
};

/// The outliers of M = M₀ + c Σ_{s<t} l(s)k(s)ᵀ and their singular vectors. The singular value
/// equation of the Hermitian dilation of M̃ + LΩRᵀ (L = [Ỹ l̃], R = [k̃ Z̃]) reduces, with
/// y_L = ΩRᵀṽ and y_R = ΩᵀLᵀũ (up to the common factor 1/√2), to
///   y_L = Ω K_R(s) Ωᵀ K_L(s) y_L,   y_R = Ωᵀ K_L(s) y_L,
/// and the eigenvector is x = G(s)U y with G the resolvent of M̃'s dilation, so
///   ⟨a, ũ⟩ = √2 · aᵀG₁₁L y_L,   ⟨b, ṽ⟩ = √2 · bᵀG₂₂R y_R,   |x|² = −yᵀ (dK/ds) y = 1
/// (G² = −dG/ds). A vector a splits into its part on span(l̃), where G₁₁ = 1/s, and the rest, on
/// which G₁₁ acts as s·g_rows(s²/rows)/rows (isotropic: M̃ is independent of every observed vector).
SPECDYN_CORE_FN std::vector<spike_outlier> spiked_outlier_vectors(const spike_grams& sg, const std::vector<spike_probe>& left_probes,
                                                                  const std::vector<spike_probe>& right_probes, double cut = 1e-9)
#if SPECDYN_CORE_BODIES
{
  using m2 = xt::xtensor<double, 2>;
  using v1 = xt::xtensor<double, 1>;
  using xt::linalg::dot;
  if (sg.gk.shape(0) == 0) return {};
  const double s2 = sg.sigma * sg.sigma, gamma = sg.cols / sg.rows, edge = sg.sigma * (1 + std::sqrt(gamma)), sq_rows = std::sqrt(sg.rows);
  // orthonormal k̃ = K W_k, l̃ = L W_l and the consistent Ỹ = M₀k̃ = Y W_k, Z̃ = M₀ᵀl̃ = Z W_l
  const m2 wk = whitener(sg.gk, cut), wl = whitener(sg.gl, cut);
  const std::size_t rk = wk.shape(1), rl = wl.shape(1), r = rk + rl, n_obs = sg.gk.shape(0);
  if (rk == 0 || rl == 0) return {};
  const m2 wkt = xt::transpose(wk), wlt = xt::transpose(wl);
  const m2 yy = dot(dot(wkt, sg.yy), wk), zz = dot(dot(wlt, sg.zz), wl), ly = dot(dot(wlt, sg.ly), wk);  // ỸᵀỸ, Z̃ᵀZ̃, l̃ᵀỸ
  const m2 kz = xt::transpose(ly);                                                                      // k̃ᵀZ̃ = (M₀k̃)ᵀl̃
  // the update L Kᵀ = Σ_s l(s)k(s)ᵀ in the new bases: l̃ᵀ(L Kᵀ)k̃ = W_lᵀ(LᵀL)(KᵀK)W_k
  const m2 upd = dot(dot(dot(wlt, sg.gl), sg.gk), wk);
  // F = [Ỹ l̃] Ω [k̃ Z̃]ᵀ,  Ω = [[I, 0], [c·upd − l̃ᵀỸ, I]]
  m2 omega = xt::zeros<double>({r, r});
  for (std::size_t i = 0; i < rk; ++i) omega(i, i) = 1.0;
  for (std::size_t i = 0; i < rl; ++i) {
    omega(rk + i, rk + i) = 1.0;
    for (std::size_t j = 0; j < rk; ++j) omega(rk + i, j) = sg.c * upd(i, j) - ly(i, j);
  }
  // Grams of L = [Ỹ l̃] split on span(l̃) (where M̃ vanishes: resolvent 1/s) and its complement
  // (Marchenko–Pastur), and of R = [k̃ Z̃] split on span(k̃) and its complement
  m2 lpar = xt::zeros<double>({r, r}), lperp = lpar, rpar = lpar, rperp = lpar;
  const m2 yl_ly = dot(xt::transpose(ly), ly), zk_kz = dot(xt::transpose(kz), kz);  // ỸᵀP_lỸ, Z̃ᵀP_kZ̃
  for (std::size_t i = 0; i < rk; ++i)
    for (std::size_t j = 0; j < rk; ++j) {
      lpar(i, j) = yl_ly(i, j);                   // Ỹᵀ P_l Ỹ
      lperp(i, j) = yy(i, j) - yl_ly(i, j);
      rpar(i, j) = i == j ? 1.0 : 0.0;            // k̃ᵀk̃
    }
  for (std::size_t i = 0; i < rl; ++i)
    for (std::size_t j = 0; j < rl; ++j) {
      lpar(rk + i, rk + j) = i == j ? 1.0 : 0.0;  // l̃ᵀl̃
      rpar(rk + i, rk + j) = zk_kz(i, j);
      rperp(rk + i, rk + j) = zz(i, j) - zk_kz(i, j);
    }
  for (std::size_t i = 0; i < rk; ++i)
    for (std::size_t j = 0; j < rl; ++j) {
      lpar(i, rk + j) = ly(j, i);                 // Ỹᵀl̃
      lpar(rk + j, i) = ly(j, i);
      rpar(i, rk + j) = kz(i, j);                 // k̃ᵀZ̃
      rpar(rk + j, i) = kz(i, j);
    }
  // Marchenko–Pastur: m(z) = (1/cols) tr(M̃ᵀM̃/rows − z)⁻¹ solves σ²γ z m² + (z − σ²(1 − γ)) m + 1 = 0;
  // g = −m and its derivative in z from the same quadratic
  auto mp_cols = [&](double z) {
    const double b = z - s2 * (1 - gamma), disc = b * b - 4 * s2 * gamma * z;
    const double m = (-b + std::sqrt(std::max(0.0, disc))) / (2 * s2 * gamma * z);  // the branch ~ −1/z at large z
    const double dm = -(s2 * gamma * m * m + m) / (2 * s2 * gamma * z * m + b);
    return std::pair{-m, -dm};
  };
  auto mp_rows = [&](double z) {
    const auto [gc, dgc] = mp_cols(z);
    return std::pair{(sg.cols * gc + (sg.rows - sg.cols) / z) / sg.rows, (sg.cols * dgc - (sg.rows - sg.cols) / (z * z)) / sg.rows};
  };
  // K_L, K_R at the normalised singular value st (s = st√rows), and their derivatives in s
  struct kernels {
    m2 kl, kr, dkl, dkr;
    double fl, fr;  // the factors s·g(s²/rows)/rows on the complements
  };
  auto kernels_at = [&](double st, bool derivative) {
    const double s = st * sq_rows, z = st * st, pre = st / sq_rows;
    const auto [gr, dgr] = mp_rows(z);
    const auto [gc, dgc] = mp_cols(z);
    kernels k{lpar / s + lperp * (pre * gr), rpar / s + rperp * (pre * gc), {}, {}, pre * gr, pre * gc};
    if (derivative) {  // d/ds = (1/√rows) d/dst; d(st·g(st²))/dst = g + 2st²g'
      const double dl = (gr + 2 * z * dgr) / sg.rows, dr = (gc + 2 * z * dgc) / sg.rows;
      k.dkl = -lpar / (s * s) + lperp * dl;
      k.dkr = -rpar / (s * s) + rperp * dr;
    }
    return k;
  };
  const m2 omt = xt::transpose(omega);
  auto system = [&](const kernels& k) { return m2(xt::eye<double>(r) - dot(dot(dot(omega, k.kr), omt), k.kl)); };
  auto f = [&](double st) { return xt::linalg::det(system(kernels_at(st, false))); };  // det(I − Ω K_R Ωᵀ K_L)
  // scan above the edge on a grid geometric in s̃ − edge, bisect sign changes
  const m2 ff = dot(dot(dot(omega, rpar + rperp), omt), lpar + lperp);  // ‖F‖²_F = tr(Ω RᵀR Ωᵀ LᵀL)
  double fro2 = 0;
  for (std::size_t i = 0; i < r; ++i) fro2 += ff(i, i);
  const double smax = edge + 2 * std::sqrt(std::max(0.0, fro2) / sg.rows) + 1;
  std::vector<double> roots;
  const int n = 600;
  double x0 = edge * (1 + 1e-7), f0 = f(x0);
  for (int k = 1; k <= n; ++k) {
    const double x1 = edge + (smax - edge) * std::pow(1e-7, 1.0 - double(k) / n), f1 = f(x1);
    if (std::isfinite(f0) && std::isfinite(f1) && (f0 < 0) != (f1 < 0)) {
      double lo = x0, hi = x1, flo = f0;
      for (int it = 0; it < 200 && hi - lo > 1e-13 * hi; ++it) {
        const double mid_x = 0.5 * (lo + hi), fm = f(mid_x);
        if ((fm < 0) == (flo < 0)) { lo = mid_x; flo = fm; } else { hi = mid_x; }
      }
      roots.push_back(0.5 * (lo + hi));
    }
    x0 = x1;
    f0 = f1;
  }
  std::sort(roots.rbegin(), roots.rend());
  // a probe in the whitened bases: its coefficients on span(l̃) (resp. k̃) and its inner products with Ỹ (resp. Z̃)
  auto whiten_probe = [&](const spike_probe& p, const m2& w_first, const m2& w_second, const char* side) {
    require(p.first.size() == n_obs && p.second.size() == n_obs, std::string("spike probe (") + side + ")", p.first.size(),
            "give one inner product per observed vector (" + std::to_string(n_obs) + ")");
    v1 a = xt::zeros<double>({n_obs}), b = a;
    for (std::size_t i = 0; i < n_obs; ++i) a(i) = p.first[i], b(i) = p.second[i];
    return std::pair<v1, v1>{dot(xt::transpose(w_first), a), dot(xt::transpose(w_second), b)};
  };
  std::vector<std::pair<v1, v1>> lp, rp;
  for (const auto& p : left_probes) lp.push_back(whiten_probe(p, wl, wk, "rows side"));
  for (const auto& p : right_probes) rp.push_back(whiten_probe(p, wk, wl, "columns side"));
  // the update's top singular pair, as probes in span(l̃) and span(k̃)
  auto [upd_u, upd_s, upd_vt] = xt::linalg::svd(upd, false, true);
  const v1 a_upd = xt::view(upd_u, xt::all(), 0), b_upd = xt::view(upd_vt, 0, xt::all());
  std::vector<spike_outlier> out;
  for (double st : roots) {
    const kernels k = kernels_at(st, true);
    const m2 sys = system(k);
    auto [sys_u, sys_s, sys_vt] = xt::linalg::svd(sys, false, true);
    spike_outlier o;
    o.value = st;
    o.null_residual = sys_s(r - 1) / std::max(sys_s(0), 1e-300);
    const v1 y_l = xt::view(sys_vt, r - 1, xt::all());
    const v1 y_r = dot(omt, dot(k.kl, y_l));
    const double norm2 = -(xt::linalg::vdot(y_l, dot(k.dkl, y_l)) + xt::linalg::vdot(y_r, dot(k.dkr, y_r)));
    const double s = st * sq_rows;
    // ⟨probe, x⟩ on either side. Rows side: the span coordinates are y_L's l̃ part, the other ones its
    // Ỹ part and cross = l̃ᵀỸ; aᵀG₁₁L y_L = αᵀ(y_l̃ + cross·y_Ỹ)/s + (a_Ỹ − crossᵀα)ᵀy_Ỹ·f_l (the
    // complement, where M̃ acts). Columns side: y_R's k̃ part, its Z̃ part, cross = k̃ᵀZ̃ and f_r.
    auto overlap = [&](const v1& coef, const v1& other, double norm2_probe, const v1& y_span, const v1& y_other, const m2& cross, double f) {
      const double par = xt::linalg::vdot(coef, v1(y_span + dot(cross, y_other))) / s;
      const double perp = xt::linalg::vdot(v1(other - dot(xt::transpose(cross), coef)), y_other) * f;
      return 2 * (par + perp) * (par + perp) / (norm2_probe * norm2);
    };
    const v1 y_ly = xt::view(y_l, xt::range(0, rk)), y_ll = xt::view(y_l, xt::range(rk, r));
    const v1 yr_k = xt::view(y_r, xt::range(0, rk)), yr_z = xt::view(y_r, xt::range(rk, r));
    auto left_overlap = [&](const v1& alpha, const v1& a_y, double a2) { return overlap(alpha, a_y, a2, y_ll, y_ly, ly, k.fl); };
    auto right_overlap = [&](const v1& beta, const v1& b_z, double b2) { return overlap(beta, b_z, b2, yr_k, yr_z, kz, k.fr); };
    o.update_left = left_overlap(a_upd, dot(xt::transpose(ly), a_upd), 1.0);
    o.update_right = right_overlap(b_upd, dot(xt::transpose(kz), b_upd), 1.0);
    for (std::size_t i = 0; i < lp.size(); ++i) o.left.push_back(left_overlap(lp[i].first, lp[i].second, left_probes[i].norm2));
    for (std::size_t i = 0; i < rp.size(); ++i) o.right.push_back(right_overlap(rp[i].first, rp[i].second, right_probes[i].norm2));
    out.push_back(std::move(o));
  }
  return out;
}
#else
;
#endif

/// The outliers of M/√rows alone (spiked_outlier_vectors without the vectors), descending.
SPECDYN_CORE_FN std::vector<double> spiked_outliers(const spike_grams& sg, double cut = 1e-9)
#if SPECDYN_CORE_BODIES
{
  std::vector<double> v;
  for (const auto& o : spiked_outlier_vectors(sg, {}, {}, cut)) v.push_back(o.value);
  return v;
}
#else
;
#endif
/// A spectral law on [0, ∞) known above its support through the curve x ∈ (0, 1) ↦ (ζ, g(ζ), t(ζ)),
/// with ζ decreasing from ∞ (x → 0) to the support's right end `top` (x → 1), the Stieltjes
/// transform g(ζ) = ∫ dH(τ)/(τ − ζ) and t(ζ) = ∫ τ dH(τ)/(τ − ζ) = 1 + ζg(ζ) (kept separately: at
/// large ζ, 1 + ζg cancels catastrophically). Every law below has an explicit curve, so composing
/// them never nests root finding; g and t at a given ζ invert the curve by bisection.
struct law_point {
  double zeta, g, t;
};
struct law {
  std::function<law_point(double)> curve;
  double top = 0;
  [[nodiscard]] law_point at(double zeta) const {
    double l = 0, r = 1;  // ζ(x) decreases in x
    for (int it = 0; it < 200 && r - l > 1e-16; ++it) {
      const double mid = 0.5 * (l + r);
      (curve(mid).zeta > zeta ? l : r) = mid;
    }
    return curve(0.5 * (l + r));
  }
  [[nodiscard]] double g(double zeta) const { return at(zeta).g; }
  [[nodiscard]] double t(double zeta) const { return at(zeta).t; }
};

/// The point mass at 1 (ζ = 1/x).
SPECDYN_CORE_FN law unit_mass()
#if SPECDYN_CORE_BODIES
{
  return {[](double x) {
            const double z = 1 / x;
            return law_point{z, 1 / (1 - z), 1 / (1 - z)};
          },
          1.0};
}
#else
;
#endif

/// Law of a + b·τ (a ≥ 0, b > 0) for τ ~ H.
SPECDYN_CORE_FN law affine(const law& h, double a, double b)
#if SPECDYN_CORE_BODIES
{
  return {[h, a, b](double x) {
            const law_point p = h.curve(x);
            return law_point{a + b * p.zeta, p.g / b, a * p.g / b + p.t};
          },
          a + b * h.top};
}
#else
;
#endif

/// Law of ZᵀZ/n for Z p×n i.i.d. N(0, 1), c = p/n (Marchenko–Pastur, with its atom at 0 when c < 1):
/// g solves z g² + (z + 1 − c) g + 1 = 0 (the stable form of the root that behaves like −1/z), t = cg/(1 + g).
SPECDYN_CORE_FN law marchenko_pastur(double c)
#if SPECDYN_CORE_BODIES
{
  const double top = (1 + std::sqrt(c)) * (1 + std::sqrt(c));
  return {[c, top](double x) {
            const double z = top / x, b = z + 1 - c, g = 2 / (-b - std::sqrt(std::max(0.0, b * b - 4 * z)));
            return law_point{z, g, c * g / (1 + g)};
          },
          top};
}
#else
;
#endif

/// Law of ZᵀTZ/n for Z p×n i.i.d. N(0, 1), c = p/n and T with law H (Silverstein's equation): the
/// Stieltjes transform m of the n×n matrix solves z = −1/m + c ∫ τ dH(τ)/(1 + τm). With ζ = −1/m
/// running along H's curve, ∫ τ dH/(1 + τm) = −ζ t_H(ζ), so z = ζ(1 − c·t_H(ζ)), m = −1/ζ and
/// t = 1 + zm = c·t_H(ζ), all explicit in H's curve parameter x. z(x) is smallest at x*: the
/// right edge; the law's own curve is x ∈ (0, x*), where z decreases from ∞ to the edge.
SPECDYN_CORE_FN law silverstein(const law& h, double c)
#if SPECDYN_CORE_BODIES
{
  auto zof = [h, c](double x) {
    const law_point p = h.curve(x);
    return p.zeta * (1 - c * p.t);
  };
  // minimise z on (0, 1): a scan geometric towards both ends (a ratio c ≫ 1 puts the minimum
  // near ζ = ∞, an atom at the top near ζ = top), then golden section between the neighbours
  std::vector<double> xs;
  for (int k = 0; k <= 240; ++k) xs.push_back(0.5 * std::pow(1e-14, k / 240.0));
  std::reverse(xs.begin(), xs.end());
  for (int k = 1; k <= 240; ++k) xs.push_back(1 - 0.5 * std::pow(1e-14, k / 240.0));
  std::size_t kb = 0;
  double best = INFINITY;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const double zz = zof(xs[k]);
    if (zz < best) best = zz, kb = k;
  }
  double a = xs[kb == 0 ? 0 : kb - 1], b = xs[std::min(kb + 1, xs.size() - 1)];
  const double gr = (std::sqrt(5.0) - 1) / 2;
  double x1 = b - gr * (b - a), x2 = a + gr * (b - a), f1 = zof(x1), f2 = zof(x2);
  for (int it = 0; it < 120 && b - a > 1e-15; ++it) {
    if (f1 < f2) b = x2, x2 = x1, f2 = f1, x1 = b - gr * (b - a), f1 = zof(x1);
    else a = x1, x1 = x2, f1 = f2, x2 = a + gr * (b - a), f2 = zof(x2);
  }
  const double x_star = 0.5 * (a + b);
  return {[h, c, x_star](double y) {
            const law_point p = h.curve(x_star * y);
            return law_point{p.zeta * (1 - c * p.t), -1 / p.zeta, c * p.t};
          },
          zof(x_star)};
}
#else
;
#endif

}  // namespace detail

/// The right edge of the bulk of the NTK on P = αD training points, at a step where the backward
/// fields have second moments c_back[ℓ] = ⟨g_ℓ²⟩ (ℓ = 0 … L−1; g_{L−1} = w is the readout, g_0 = u
/// the signal entering the input weight). The kernel is K = XᵀM₀X/D with, nesting from the top,
///   M_L = I,   M_ℓ = c_back[ℓ] I + W_ℓᵀ M_{ℓ+1} W_ℓ/N (ℓ = L−1 … 1),   M₀ = c_back[0] I + Aᵀ M₁ A/N:
///   depth 1: M = c_w I + AᵀA/N;  depth 2: M = c_u I + Aᵀ(c_w I + WᵀW/N)A/N,
/// one term per layer (its backward norm times its input's Gram). The trained weights differ from
/// A₀, W₀ by finite rank, which moves no bulk: the bulk of K is that of the same formula with the
/// initial Gaussian weights. Composing Silverstein's equation gives it exactly: W_ℓᵀQW_ℓ/N =
/// σ²·Silverstein(Q, ratio 1) (Marchenko–Pastur for Q = I); AᵀQA/N = (σ²/ν)·Silverstein(Q, ratio ν);
/// K/α = Silverstein(M₀, ratio 1/α). Outliers of K (the learned directions) sit above this edge.
SPECDYN_CORE_FN double ntk_bulk_edge(const proportional_problem& pr, const std::vector<double>& c_back)
#if SPECDYN_CORE_BODIES
{
  require(c_back.size() == pr.depth, "c_back", c_back.size(), "give one backward second moment per layer");
  const double s2 = pr.sigma * pr.sigma;
  const std::size_t L = pr.depth;
  detail::law q = detail::unit_mass();
  for (std::size_t l = L - 1; l >= 1; --l)
    q = detail::affine(l == L - 1 ? detail::marchenko_pastur(1.0) : detail::silverstein(q, 1.0), c_back[l], s2);
  const detail::law m = detail::affine(detail::silverstein(q, pr.nu), c_back[0], s2 / pr.nu);
  return pr.alpha * detail::silverstein(m, 1 / pr.alpha).top;
}
#else
;
#endif

/// Depth 1 or 2 with the readout's ⟨w²⟩ = c_w and (depth 2) ⟨u²⟩ = c_u.
SPECDYN_CORE_FN double ntk_bulk_edge(const proportional_problem& pr, double c_w, double c_u)
#if SPECDYN_CORE_BODIES
{
  require(pr.depth <= 2, "depth", pr.depth, "give the backward moments of every layer (ntk_bulk_edge(pr, c_back))");
  return pr.depth == 1 ? ntk_bulk_edge(pr, std::vector<double>{c_w}) : ntk_bulk_edge(pr, std::vector<double>{c_u, c_w});
}
#else
;
#endif

namespace detail {
/// The closure's state: the sites, every variable as a list of slots, and the correlations. Slots
/// 0 … T are the training steps; further slots hold virtual vectors on which a frozen operator acts
/// (the NTK: closure_apply_ntk; a weight's M Mᵀ: closure_apply_gram). Neuron sites ℓ = 0 … L−1 each have a forward source (u^A for ℓ = 0, χ_ℓ from
/// W_ℓ's randomness) and a backward one (ξ_ℓ from W_{ℓ+1}'s, or the readout's initial value w(0) at
/// the top layer). Each slot creates at most one new source per matrix side, and `D`, `e`, `v`,
/// `h`, `gb` list, slot by slot, the vector whose random-matrix field that source is: u^X(s) is the
/// field of X applied to D[s], r^X(s) of Xᵀ applied to e[s], u^A(s) of A₀ applied to v[s], r^A(s) of
/// A₀ᵀ applied to gb[0][s], χ_ℓ(s) of W_ℓ₀ applied to h[ℓ−1][s], ξ_ℓ(s) of W_{ℓ+1,0}ᵀ applied to
/// gb[ℓ+1][s]. That bookkeeping is all the Onsager (response) terms need.
struct closure {
  enum { rX = 0, eps = 1 };             // data point μ
  enum { rA = 0, uX = 1, bstar = 2 };   // input coordinate i
  enum { fwd = 0, bwd = 1 };            // neuron of layer ℓ
  using lin = site::lin;
  proportional_problem pr;
  std::size_t L = 1;
  site mu{2, 1}, in{3, 1};
  std::vector<site> hid;
  std::vector<lin> D, beta, e, v;
  // h[ℓ][s]: forward field of layer ℓ (h[0] = A v/√D, h[ℓ] = W_ℓ h[ℓ−1]/√N); gb[ℓ][s]: backward
  // field (gb[L−1] = w, the readout; gb[ℓ] = W_{ℓ+1}ᵀ gb[ℓ+1]/√N; gb[0] = u enters the input weight)
  std::vector<std::vector<lin>> h, gb;
  mat c_v, c_e, c_d;
  std::vector<mat> c_h, c_g;
};

/// Row t of a site correlation C_x(t, s ≤ t) and the source covariance it drives, scale·C_x (only its
/// diagonal when that source is fresh at every step).
SPECDYN_CORE_FN void correlate(const site& st, const std::vector<site::lin>& x, mat& c, mat* source, double scale, bool white, std::size_t t)
#if SPECDYN_CORE_BODIES
{
  const site::lin wx = st.weighted(x[t], t);
  for (std::size_t s = 0; s <= t; ++s) {
    c[t][s] = c[s][t] = site::dot(wx, x[s], t);
    if (source) (*source)[t][s] = (*source)[s][t] = (white && s != t) ? 0.0 : scale * c[t][s];
  }
}
#else
;
#endif

/// An empty closure with `slots` slots (at least pr.steps + 1).
SPECDYN_CORE_FN closure make_closure(const proportional_problem& pr, std::size_t slots)
#if SPECDYN_CORE_BODIES
{
  closure c;
  c.pr = pr;
  c.L = pr.depth;
  const std::size_t S = slots, L = pr.depth;
  c.mu = site(2, S);
  c.in = site(3, S);
  c.hid.assign(L, site(2, S));
  if (!pr.online) c.mu.cov[closure::eps][0][0] = pr.noise * pr.noise;  // one ε per data point for the whole run
  c.in.cov[closure::bstar][0][0] = 1.0;
  c.hid[L - 1].cov[closure::bwd][0][0] = pr.sigma * pr.sigma;  // the readout's initial value
  c.D.assign(S, c.mu.zero());
  c.beta.assign(S, c.in.zero());
  c.e = c.v = c.beta;
  c.h.assign(L, std::vector<site::lin>(S, c.hid[0].zero()));
  c.gb = c.h;
  const mat zeros(S, vec(S, 0.0));
  c.c_v = c.c_e = c.c_d = zeros;
  c.c_h.assign(L, zeros);
  c.c_g.assign(L, zeros);
  return c;
}
#else
;
#endif

/// The fields a slot's vectors make through each random matrix, shared by the training step
/// (closure_step) and the frozen operators (closure_apply_ntk, closure_apply_gram): the slot's fresh
/// source plus the Onsager sums over every slot s ≤ j, plus the trained weights' rank-one updates of
/// the steps s < n (n = t in training step t; the frozen step otherwise). A coefficient on a source
/// not created yet is zero, so summing up to j is exact for every caller.
///   X·D[j]/√D on the input site:            u^X(j) + α Σ_{s≤j} R_{D[j]←r^X}(s) e(s)
SPECDYN_CORE_FN site::lin input_x_field(const closure& c, std::size_t j)
#if SPECDYN_CORE_BODIES
{
  site::lin v = c.in.zero();
  v[closure::uX][j] = 1.0;
  for (std::size_t s = 0; s <= j; ++s) site::axpy(c.pr.alpha * c.D[j][closure::rX][s], c.e[s], v);
  return v;
}
#else
;
#endif

///   Xᵀx/√D on the data site (x on the input site, in slot j): r^X(j) + Σ_{s≤j} R_{x←u^X}(s) D(s)
SPECDYN_CORE_FN site::lin data_x_field(const closure& c, const site::lin& x, std::size_t j)
#if SPECDYN_CORE_BODIES
{
  site::lin d = c.mu.zero();
  d[closure::rX][j] = 1.0;
  for (std::size_t s = 0; s <= j; ++s) site::axpy(x[closure::uX][s], c.D[s], d);
  return d;
}
#else
;
#endif

///   A(n)ᵀ·gb[0][j]/√D on the input site:     r^A(j) + Σ_{s≤j} [σ²ν R_{g_0←u^A}(s) + η̂γ̃0ν C_{g_0}(s,j)·1(s<n)] v(s)
SPECDYN_CORE_FN site::lin input_a_field(const closure& c, std::size_t j, std::size_t n)
#if SPECDYN_CORE_BODIES
{
  const double s2nu = c.pr.sigma * c.pr.sigma * c.pr.nu, egnu = c.pr.eta_hat * c.pr.gamma0_tilde * c.pr.nu;
  site::lin b = c.in.zero();
  b[closure::rA][j] = 1.0;
  for (std::size_t s = 0; s <= j; ++s) site::axpy(s2nu * c.gb[0][j][closure::fwd][s] + (s < n ? egnu * c.c_g[0][s][j] : 0.0), c.v[s], b);
  return b;
}
#else
;
#endif

///   layer ℓ's forward field A(n)·v[j]/√D (ℓ = 0) or W_ℓ(n)·h_{ℓ−1}[j]/√N:
///   u^A(j) or χ_ℓ(j) + Σ_{s≤j} [σ² R_{below←(its backward source)}(s) + η̂γ̃0 C_below(s,j)·1(s<n)] g_ℓ(s)
SPECDYN_CORE_FN site::lin forward_field(const closure& c, std::size_t l, std::size_t j, std::size_t n)
#if SPECDYN_CORE_BODIES
{
  const double s2 = c.pr.sigma * c.pr.sigma, eg = c.pr.eta_hat * c.pr.gamma0_tilde;
  const std::vector<site::lin>& below = l == 0 ? c.v : c.h[l - 1];
  const mat& c_below = l == 0 ? c.c_v : c.c_h[l - 1];
  const std::size_t src = l == 0 ? std::size_t(closure::rA) : std::size_t(closure::bwd);
  site::lin h = c.hid[l].zero();
  h[closure::fwd][j] = 1.0;
  for (std::size_t s = 0; s <= j; ++s) site::axpy(s2 * below[j][src][s] + (s < n ? eg * c_below[s][j] : 0.0), c.gb[l][s], h);
  return h;
}
#else
;
#endif

///   layer ℓ's backward field W_{ℓ+1}(n)ᵀ·gb[ℓ+1][j]/√N (ℓ < L − 1):
///   ξ_ℓ(j) + Σ_{s≤j} [σ² R_{g_{ℓ+1}←χ_{ℓ+1}}(s) + η̂γ̃0 C_{g_{ℓ+1}}(s,j)·1(s<n)] h_ℓ(s)
SPECDYN_CORE_FN site::lin backward_field(const closure& c, std::size_t l, std::size_t j, std::size_t n)
#if SPECDYN_CORE_BODIES
{
  const double s2 = c.pr.sigma * c.pr.sigma, eg = c.pr.eta_hat * c.pr.gamma0_tilde;
  site::lin g = c.hid[l].zero();
  g[closure::bwd][j] = 1.0;
  for (std::size_t s = 0; s <= j; ++s) site::axpy(s2 * c.gb[l + 1][j][closure::fwd][s] + (s < n ? eg * c.c_g[l + 1][s][j] : 0.0), c.h[l][s], g);
  return g;
}
#else
;
#endif

/// Training step t of the closure (the equations at the top of this file), in causal order.
SPECDYN_CORE_FN void closure_step(closure& c, std::size_t t)
#if SPECDYN_CORE_BODIES
{
  using C = closure;
  const auto& pr = c.pr;
  const std::size_t L = c.L;
  const double s2 = pr.sigma * pr.sigma, a = pr.alpha, nu = pr.nu, g = pr.gamma0_tilde, eh = pr.eta_hat;
  auto& h = c.h;
  auto& gb = c.gb;
  // (1) backward pass. Readout: w(t) = w(t−1) + η̂γ̃0 h_{L−1}(t−1); below it
  //     g_ℓ(t) = ξ_ℓ(t) + σ² Σ_{s<t} R_{g_{ℓ+1}←χ_{ℓ+1}}(t,s) h_ℓ(s) + η̂γ̃0 Σ_{s<t} C_{g_{ℓ+1}}(s,t) h_ℓ(s)
  //     and each g_ℓ drives the backward source below it: ξ_{ℓ−1} ~ GP(0, σ²C_{g_ℓ}), r^A ~ GP(0, σ²ν C_{g_0})
  for (std::size_t l = L; l-- > 0;) {
    auto& gl = gb[l];
    if (l == L - 1) {
      if (t == 0) {
        gl[0][C::bwd][0] = 1.0;
      } else {
        gl[t] = gl[t - 1];
        site::axpy(eh * g, h[l][t - 1], gl[t]);
      }
    } else {
      gl[t] = backward_field(c, l, t, t);
    }
    correlate(c.hid[l], gl, c.c_g[l], l > 0 ? &c.hid[l - 1].cov[C::bwd] : &c.in.cov[C::rA], l > 0 ? s2 : s2 * nu, false, t);
  }
  // (2) input coordinate: β(t) = A(t)ᵀu(t)/(γ0N) = [r^A(t) + …]/(γ̃0ν), e(t) = β* − β(t) + β(0)
  c.beta[t] = c.in.zero();
  site::axpy(1.0 / (g * nu), input_a_field(c, t, t), c.beta[t]);
  c.e[t] = c.in.zero();
  c.e[t][C::bstar][0] = 1.0;
  site::axpy(-1.0, c.beta[t], c.e[t]);
  site::axpy(1.0, c.beta[0], c.e[t]);
  // online: the batch at step t is new, so its field r^X(t) is independent of every earlier one
  correlate(c.in, c.e, c.c_e, &c.mu.cov[C::rX], 1.0, pr.online, t);
  // (3) data point: Δ(t) = r^X(t) + Σ_{s<t} R_e(t,s) Δ(s) + ε. Online, a point is seen once: no
  // memory term, its own fresh noise, and the v(t) below only reacts to the current step.
  auto& D = c.D;
  if (pr.online) {
    D[t][C::rX][t] = 1.0;
    D[t][C::eps][t] = 1.0;
    c.mu.cov[C::eps][t][t] = pr.noise * pr.noise;
  } else {
    D[t] = data_x_field(c, c.e[t], t);
    D[t][C::eps][0] += 1.0;  // the memory terms carry earlier steps' ε as well
  }
  correlate(c.mu, D, c.c_d, &c.in.cov[C::uX], a, false, t);
  // (4) input coordinate: v(t) = u^X(t) + α Σ_{s≤t} R_Δ(t,s) e(s)
  c.v[t] = input_x_field(c, t);
  correlate(c.in, c.v, c.c_v, &c.hid[0].cov[C::fwd], s2, false, t);
  // (5) forward pass: h_0(t) = A(t)v(t)/√D = u^A(t) + σ² Σ_{s≤t} R_v(t,s) g_0(s) + η̂γ̃0 Σ_{s<t} C_v(s,t) g_0(s),
  //     h_ℓ(t) = W_ℓ(t)h_{ℓ−1}(t)/√N = χ_ℓ(t) + σ² Σ_{s≤t} R_{h_{ℓ−1}←ξ_{ℓ−1}}(t,s) g_ℓ(s) + η̂γ̃0 Σ_{s<t} C_{h_{ℓ−1}}(s,t) g_ℓ(s)
  for (std::size_t l = 0; l < L; ++l) {
    h[l][t] = forward_field(c, l, t, t);
    if (l + 1 < L) correlate(c.hid[l], h[l], c.c_h[l], &c.hid[l + 1].cov[C::fwd], s2, false, t);  // the top layer's C_h drives nothing
  }
}
#else
;
#endif

/// The NTK of the network frozen after tf training steps, applied to the data vector r = c.D[j]
/// (slot j > tf, every earlier slot filled): returns K(tf)r at the data site, in the units where a
/// GD step is f ← f + (η/P)KΔ. K r is the first-order change of the outputs, per unit η̂, of one GD
/// step with residual r at the frozen weights, so it is the training step's own chain with r in
/// place of Δ (docs/proportional.md §5.3):
///   v_r = X r/√D,  h^r_0 = A(tf)v_r/√D,  h^r_ℓ = W_ℓ(tf)h^r_{ℓ−1}/√N        (forward)
///   δg_{L−1} = γ̃0 h^r_{L−1},  δg_{ℓ−1} = W_ℓ(tf)ᵀδg_ℓ/√N + γ̃0 C_{g_ℓ}(tf,tf) h^r_{ℓ−1}   (backward: δw, δW_ℓᵀg_ℓ)
///   δβ = C_{g_0}(tf,tf) v_r + A(tf)ᵀδg_0/(γ0N),   K r = Xᵀδβ/√D.
/// Each random-matrix product is a fresh Gaussian field plus Onsager terms over every earlier slot,
/// this one included (δβ depends on X r, so Xᵀδβ reacts to r itself: Silverstein's self-consistency,
/// unrolled slot by slot); the trained weights' finite-rank updates add the C(s, ·) sums over s < tf.
SPECDYN_CORE_FN site::lin closure_apply_ntk(closure& c, std::size_t j, std::size_t tf)
#if SPECDYN_CORE_BODIES
{
  using C = closure;
  const auto& pr = c.pr;
  const std::size_t L = c.L;
  const double s2 = pr.sigma * pr.sigma, a = pr.alpha, nu = pr.nu, g = pr.gamma0_tilde;
  auto& h = c.h;
  auto& gb = c.gb;
  correlate(c.mu, c.D, c.c_d, &c.in.cov[C::uX], a, false, j);  // u^X(j): the field of X r
  c.v[j] = input_x_field(c, j);                                  // v_r
  correlate(c.in, c.v, c.c_v, &c.hid[0].cov[C::fwd], s2, false, j);
  // forward through the frozen weights: A(tf) = A₀ + η̂γ̃0/√D Σ_{s<tf} u(s)v(s)ᵀ, likewise W_ℓ(tf)
  for (std::size_t l = 0; l < L; ++l) {
    h[l][j] = forward_field(c, l, j, tf);
    if (l + 1 < L) correlate(c.hid[l], h[l], c.c_h[l], &c.hid[l + 1].cov[C::fwd], s2, false, j);
  }
  // backward: the readout's change δw = γ̃0 h^r_{L−1}, then each W_ℓ(tf)ᵀ and the update δW_ℓᵀg_ℓ(tf)
  for (std::size_t l = L; l-- > 0;) {
    auto& gl = gb[l];
    if (l == L - 1) {
      gl[j] = c.hid[l].zero();
      site::axpy(g, h[l][j], gl[j]);
    } else {
      gl[j] = backward_field(c, l, j, tf);
      site::axpy(g * c.c_g[l + 1][tf][tf], h[l][j], gl[j]);
    }
    correlate(c.hid[l], gl, c.c_g[l], l > 0 ? &c.hid[l - 1].cov[C::bwd] : &c.in.cov[C::rA], l > 0 ? s2 : s2 * nu, false, j);
  }
  // δβ = C_u(tf,tf) v_r + A(tf)ᵀδu/(γ0N): e[j] is its slot (the vector whose Xᵀ field is r^X(j))
  auto& d = c.e[j];
  d = c.in.zero();
  site::axpy(c.c_g[0][tf][tf], c.v[j], d);
  site::axpy(1.0 / (g * nu), input_a_field(c, j, tf), d);
  correlate(c.in, c.e, c.c_e, &c.mu.cov[C::rX], 1.0, false, j);
  return data_x_field(c, d, j);  // K r = r^X(j) + Σ_{s≤j} R_δβ(s) D(s)
}
#else
;
#endif

/// Lanczos on a symmetric operator that the closure applies in virtual slots. `c` holds the
/// training steps 0 … T in slots 0 … T; the k-th iteration writes slot T + 1 + k. `st` is the site
/// the vectors live on, `start` the first vector (slots ≤ tf), and `apply(c, j, x)` returns the
/// operator applied to x, placing x and its intermediate vectors in slot j. Full reorthogonalisation;
/// stops when the top Ritz pair has converged (residual ≤ 1e-10·top), when the Krylov space is
/// invariant, when the vectors' coefficients have fewer than six digits left (|x|² below 1e-12 of its
/// cancellation-free sum Σ|coef·cov·coef|), or after `iterations`. `probes` (on the same site, slots
/// ≤ tf) get their squared overlaps with the top Ritz vector, ⟨p, x₁⟩²/|p|², in `probe_overlaps`.
/// Given the bulk edge of the operator's spectrum, it also stops after 40 iterations with the top Ritz
/// value still below it (no outlier there; the value is then a lower bound of the edge).
SPECDYN_CORE_FN ntk_ritz closure_lanczos(closure& c, const site& st, site::lin start, std::size_t tf, std::size_t iterations,
                                         const std::function<site::lin(closure&, std::size_t, const site::lin&)>& apply,
                                         const std::vector<site::lin>& probes = {}, std::vector<double>* probe_overlaps = nullptr,
                                         double bulk_edge = INFINITY)
#if SPECDYN_CORE_BODIES
{
  const std::size_t first = c.pr.steps + 1;
  require(first + iterations <= c.D.size(), "Lanczos iterations", iterations, "the closure has too few free slots");
  auto weighted = [&](const site::lin& x, std::size_t upto) { return st.weighted(x, upto); };
  std::vector<site::lin> q;
  {
    const double n = std::sqrt(site::dot(weighted(start, tf), start, tf));
    for (auto& x : start) for (auto& v : x) v /= n;
    q.push_back(std::move(start));
  }
  auto abs_norm2 = [&](const site::lin& x, std::size_t upto) {
    double q2 = 0;
    for (std::size_t a = 0; a < x.size(); ++a)
      for (std::size_t s = 0; s <= upto; ++s) {
        if (x[a][s] == 0) continue;
        for (std::size_t r = 0; r <= upto; ++r) q2 += std::abs(x[a][s] * st.cov[a][s][r] * x[a][r]);
      }
    return q2;
  };
  std::vector<double> al, be;
  auto top_pair = [&](std::size_t m) {
    xt::xtensor<double, 2> tri = xt::zeros<double>({m, m});
    for (std::size_t i = 0; i < m; ++i) {
      tri(i, i) = al[i];
      if (i + 1 < m) tri(i, i + 1) = tri(i + 1, i) = be[i];
    }
    return xt::linalg::eigh(tri);  // ascending
  };
  std::size_t last = first;
  for (std::size_t k = 0; k < iterations; ++k) {
    const std::size_t j = first + k;
    last = j;
    site::lin w = apply(c, j, q[k]);
    // three-term recurrence plus full reorthogonalisation (twice is enough)
    for (int pass = 0; pass < 3; ++pass) {
      const site::lin ww = weighted(w, j);
      for (std::size_t i = 0; i <= k; ++i) {
        const double h = site::dot(ww, q[i], j);
        if (pass == 0 && i == k) al.push_back(h);
        site::axpy(-h, q[i], w);
      }
    }
    const double b2 = site::dot(weighted(w, j), w, j);
    const double b = std::sqrt(std::max(0.0, b2));
    be.push_back(b);
    const auto [lam, vecs] = top_pair(k + 1);
    const double top = lam(k), res = b * std::abs(vecs(k, k));
    if (res <= 1e-10 * std::abs(top) || !(b > 1e-12 * std::abs(top))) break;
    if (b2 < 1e-12 * abs_norm2(w, j)) break;
    // no outlier: an isolated eigenvalue above the bulk is resolved within a few tens of iterations
    // (the top Ritz value exceeds the edge), so after 40 a top still below the edge is the edge's approach
    if (k + 1 >= 40 && top < bulk_edge) break;
    if (k + 1 == iterations) break;
    for (auto& x : w) for (auto& v : x) v /= b;
    q.push_back(std::move(w));
  }
  const std::size_t m = al.size();
  const auto [lam, vecs] = top_pair(m);
  ntk_ritz r;
  r.step = tf;
  r.iterations = m;
  r.top = lam(m - 1);
  r.second = m > 1 ? lam(m - 2) : NAN;
  r.weight = vecs(0, m - 1) * vecs(0, m - 1);
  r.residual = std::abs(be.back() * vecs(m - 1, m - 1));
  r.converged = r.residual <= 1e-5 * std::abs(r.top);
  for (std::size_t i = 0; i < m; ++i) {
    r.nodes.push_back(lam(i));
    r.weights.push_back(vecs(0, i) * vecs(0, i));
    r.top_vector.push_back(vecs(i, m - 1));
  }
  if (probe_overlaps) {
    probe_overlaps->clear();
    for (const auto& pv : probes) {
      const site::lin wp = weighted(pv, last);
      double px = 0;
      for (std::size_t i = 0; i < m; ++i) px += vecs(i, m - 1) * site::dot(wp, q[i], last);
      probe_overlaps->push_back(px * px / site::dot(wp, pv, last));
    }
  }
  return r;
}
#else
;
#endif

/// The top of the NTK's spectrum after tf training steps, from Lanczos iterations run inside the
/// closure: each iteration applies the frozen K(tf) to the latest Lanczos vector (one virtual slot,
/// closure_apply_ntk) and orthogonalises against all earlier ones with inner products that are data-site
/// correlations, so the tridiagonal matrix is the N = ∞ limit of the one Lanczos would build on the
/// networks' P×P kernel from the labels y. An outlier of K that y sees converges geometrically; with
/// none, the top Ritz value creeps up to the bulk edge from below.
/// `base` holds the training steps 0 … T in slots 0 … T and at least `iterations` free slots after them.
SPECDYN_CORE_FN ntk_ritz ntk_lanczos(const closure& base, std::size_t tf, std::size_t iterations, double bulk_edge = INFINITY)
#if SPECDYN_CORE_BODIES
{
  closure c = base;  // the virtual slots are written into a copy
  return closure_lanczos(c, c.mu, c.D[0], tf, iterations, [tf](closure& cc, std::size_t j, const site::lin& x) {
    cc.D[j] = x;
    return closure_apply_ntk(cc, j, tf);
  }, {}, nullptr, bulk_edge);  // start: Δ(0) = y, the output being centred
}
#else
;
#endif

/// M Mᵀ for the weight M = W_ℓ(tf)/√N, applied to the layer-ℓ neuron vector a in slot j. For a
/// square hidden weight (ℓ ≥ 1):
///   b = Mᵀa = ξ_{ℓ−1}(j) + σ² Σ_{s≤j} R_{a←χ_ℓ}(s) h_{ℓ−1}(s) + η̂γ̃0 Σ_{s<tf} ⟨g_ℓ(s) a⟩ h_{ℓ−1}(s)
///   M b = χ_ℓ(j) + σ² Σ_{s≤j} R_{b←ξ_{ℓ−1}}(s) g_ℓ(s) + η̂γ̃0 Σ_{s<tf} ⟨h_{ℓ−1}(s) b⟩ g_ℓ(s)
/// (a is the partner of the new backward source ξ_{ℓ−1}(j), b of the forward one χ_ℓ(j)). For the
/// input weight (ℓ = 0, M = A(tf)/√N with N = νD) b = A(tf)ᵀa/√D lives on the input site and
///   b = r^A(j) + σ²ν Σ_{s≤j} R_{a←u^A}(s) v(s) + η̂γ̃0ν Σ_{s<tf} ⟨u(s) a⟩ v(s),
///   M Mᵀa = [u^A(j) + σ² Σ_{s≤j} R_{b←r^A}(s) u(s) + η̂γ̃0 Σ_{s<tf} ⟨v(s) b⟩ u(s)] / ν.
/// Its top eigenvalue is the square of the weight's top normalised singular value, and b is the
/// weight's transpose applied to a (up to √ν for ℓ = 0): the right singular vector comes with it.
SPECDYN_CORE_FN site::lin closure_apply_gram(closure& c, std::size_t j, std::size_t tf, std::size_t l, const site::lin& a)
#if SPECDYN_CORE_BODIES
{
  using C = closure;
  require(l < c.L, "layer", l, "closure_apply_gram takes W_0 … W_{L−1}");
  const double s2 = c.pr.sigma * c.pr.sigma, nu = c.pr.nu;
  c.gb[l][j] = a;
  if (l == 0) {
    correlate(c.hid[0], c.gb[0], c.c_g[0], &c.in.cov[C::rA], s2 * nu, false, j);
    c.v[j] = input_a_field(c, j, tf);
    correlate(c.in, c.v, c.c_v, &c.hid[0].cov[C::fwd], s2, false, j);
    site::lin mb = forward_field(c, 0, j, tf);
    for (auto& x : mb) for (auto& v : x) v /= nu;
    return mb;
  }
  correlate(c.hid[l], c.gb[l], c.c_g[l], &c.hid[l - 1].cov[C::bwd], s2, false, j);
  c.h[l - 1][j] = backward_field(c, l - 1, j, tf);
  correlate(c.hid[l - 1], c.h[l - 1], c.c_h[l - 1], &c.hid[l].cov[C::fwd], s2, false, j);
  return forward_field(c, l, j, tf);
}
#else
;
#endif

/// The top outlier of the weight W_ℓ(tf)/√N and its singular vectors, by Lanczos on M Mᵀ inside the
/// closure (closure_apply_gram), started from the top left singular vector of the accumulated update.
/// Cut-free: the two-level determinant of spiked_outlier_vectors orthonormalises the update
/// history, whose Gram matrices decay without a gap, so its answer moves by up to 5e-4 (values) and
/// 0.006 (overlaps) with the cut; this route does not orthonormalise anything. `edge` is the weight's
/// bulk edge σ(1 + √(cols/rows)): a top below it after 40 iterations means no outlier.
struct weight_top {
  bool converged = false;
  double value = NAN;  // top singular value of W_ℓ(tf)/√N
  double update_left = NAN, update_right = NAN, readout = NAN, teacher = NAN;
  double residual = NAN;
};

SPECDYN_CORE_FN weight_top weight_top_outlier(const closure& base, std::size_t l, std::size_t tf, std::size_t iterations, double edge)
#if SPECDYN_CORE_BODIES
{
  weight_top out;
  if (tf == 0) return out;  // no update yet
  closure c = base;
  const std::size_t first = c.pr.steps + 1;
  const site& rows = c.hid[l];
  const site& cols = l == 0 ? c.in : c.hid[l - 1];
  const std::vector<site::lin>& kv = l == 0 ? c.v : c.h[l - 1];  // the update's column vectors k(s)
  const mat& ck = l == 0 ? c.c_v : c.c_h[l - 1];
  // top singular pair of the update Σ_{s<tf} l(s)k(s)ᵀ: left p = L u with G_K G_L u = λu, right ∝ K G_L u
  xt::xtensor<double, 2> gl = xt::zeros<double>({tf, tf}), gk = gl;
  for (std::size_t i = 0; i < tf; ++i)
    for (std::size_t k = 0; k < tf; ++k) gl(i, k) = c.c_g[l][i][k], gk(i, k) = ck[i][k];
  const auto e = whitener(gl, 1e-12);
  if (e.shape(1) == 0) return out;
  xt::xtensor<double, 2> sym = xt::linalg::dot(xt::linalg::dot(xt::transpose(e), xt::linalg::dot(xt::linalg::dot(gl, gk), gl)), e);
  sym = 0.5 * (sym + xt::transpose(sym));
  const auto [ev, evec] = xt::linalg::eigh(sym);
  const xt::xtensor<double, 1> u = xt::linalg::dot(e, xt::view(evec, xt::all(), ev.size() - 1));
  const xt::xtensor<double, 1> ur = xt::linalg::dot(gl, u);
  site::lin p = rows.zero(), p_right = cols.zero();
  for (std::size_t s = 0; s < tf; ++s) {
    site::axpy(u(s), c.gb[l][s], p);
    site::axpy(ur(s), kv[s], p_right);
  }
  const bool top = l + 1 == c.L;
  std::vector<site::lin> probes{p};
  if (top) probes.push_back(c.gb[l][tf]);  // the readout w(tf)
  std::vector<double> ov;
  const auto r = closure_lanczos(c, c.hid[l], p, tf, iterations,
                                 [tf, l](closure& cc, std::size_t j, const site::lin& x) { return closure_apply_gram(cc, j, tf, l, x); }, probes, &ov,
                                 edge * edge);
  out.residual = r.residual;
  out.converged = r.converged;
  if (!r.converged) return out;
  out.value = std::sqrt(r.top);
  out.update_left = ov[0];
  if (top) out.readout = ov[1];
  // right singular vector ∝ Mᵀx₁ = Σ_i y_i Mᵀq_i, the b of each iteration (its slot's column vector)
  const std::size_t last = first + r.iterations - 1;
  site::lin rv = cols.zero();
  for (std::size_t i = 0; i < r.iterations; ++i) site::axpy(r.top_vector[i], kv[first + i], rv);
  const site::lin wrv = cols.weighted(rv, last);
  const double rr = site::dot(wrv, rv, last);
  auto right_overlap = [&](const site::lin& probe) {
    const double pv = site::dot(wrv, probe, last);
    return pv * pv / (rr * site::dot(cols.weighted(probe, last), probe, last));
  };
  out.update_right = right_overlap(p_right);
  if (l == 0) {
    site::lin teacher = c.in.zero();
    teacher[closure::bstar][0] = 1.0;
    out.teacher = right_overlap(teacher);
  }
  return out;
}
#else
;
#endif

}  // namespace detail

/// One causal pass of the proportional closure for depth L = pr.depth (deep_linear{L+1}); the
/// equations are at the top of this file and in docs/proportional.md.
SPECDYN_CORE_FN proportional_solution solve_proportional(const proportional_problem& pr)
#if SPECDYN_CORE_BODIES
{
  pr.validate();
  using detail::site;
  using lin = site::lin;
  using detail::mat;
  using detail::vec;
  using C = detail::closure;
  const std::size_t T1 = pr.steps + 1, L = pr.depth;
  const double g = pr.gamma0_tilde, eh = pr.eta_hat, nu = pr.nu;
  const bool lanczos = pr.ntk_iterations > 0 && !pr.online;
  // free slots after the training steps for the Lanczos iterations: the NTK's, and the weights' top
  // outliers at the spectra steps (converged in 20-30 iterations in our runs; 80 at most)
  constexpr std::size_t weight_iterations = 80;
  C cl = detail::make_closure(pr, T1 + std::max<std::size_t>(lanczos ? pr.ntk_iterations : 0, pr.spectra_every ? weight_iterations : 0));
  const site &mu = cl.mu, &in = cl.in;
  const std::vector<site>& hid = cl.hid;
  const std::vector<lin>&beta = cl.beta, &v = cl.v;
  const std::vector<std::vector<lin>>&h = cl.h, &gb = cl.gb;
  const mat &c_v = cl.c_v, &c_e = cl.c_e, &c_d = cl.c_d;
  const std::vector<mat>&c_h = cl.c_h, &c_g = cl.c_g;
  (void)mu;
  proportional_solution out;
  std::vector<double> c_back(L);
  for (std::size_t t = 0; t < T1; ++t) {
    detail::closure_step(cl, t);
    out.train_loss.push_back(0.5 * c_d[t][t]);
    out.test_loss.push_back(0.5 * (c_e[t][t] + pr.noise * pr.noise));
    out.teacher_overlap.push_back(beta[t][C::bstar][0] - beta[0][C::bstar][0]);
    out.readout_norm.push_back(c_g[L - 1][t][t]);
    for (std::size_t l = 0; l < L; ++l) c_back[l] = c_g[l][t][t];
    out.ntk_edge.push_back(ntk_bulk_edge(pr, c_back));
    if (!std::isfinite(c_d[t][t]) || c_d[t][t] > 1e12) {
      out.train_loss.back() = INFINITY;
      throw divergence_error(t, "the loss", "the proportional theory's training loss diverges; lower η/P (--lr-over-p) or γ̃0");
    }
  }
  if (lanczos) {  // t = 0, the spectra steps and T
    // at most about 25 steps: every spectra step up to that, then a coarser multiple of it
    const std::size_t every = pr.spectra_every == 0 ? pr.steps + 1 : pr.spectra_every * std::max<std::size_t>(1, (pr.steps / pr.spectra_every + 23) / 24);
    for (std::size_t t = 0; t <= pr.steps; t += every) out.ntk.push_back(detail::ntk_lanczos(cl, t, pr.ntk_iterations, out.ntk_edge[t]));
    if (out.ntk.back().step != pr.steps) out.ntk.push_back(detail::ntk_lanczos(cl, pr.steps, pr.ntk_iterations, out.ntk_edge[pr.steps]));
  }
  if (pr.spectra_every == 0) return out;
  // Weight spectra. The trajectory up to step t sees the initial weights only through their products
  // with the update vectors (A₀v, A₀ᵀu; W₀h, W₀ᵀg), the "observed" fields below, so the outliers of
  // A(t) and W_ℓ(t) follow from detail::spiked_outliers with the Gram matrices of these vectors.
  const std::size_t T = pr.steps;
  std::vector<lin> p(T1, hid[0].zero()), q(T1, in.zero());
  for (std::size_t t = 0; t < T1; ++t) {
    p[t] = h[0][t];  // A₀v(t)/√D: h_0(t) without the accumulated updates
    q[t] = beta[t];
    for (auto& x : q[t]) for (auto& c : x) c *= g * nu;  // A₀ᵀu(t)/√D: γ̃0ν β(t) without the updates
    for (std::size_t s = 0; s < t; ++s) {
      site::axpy(-eh * g * c_v[s][t], gb[0][s], p[t]);
      site::axpy(-eh * g * nu * c_g[0][s][t], v[s], q[t]);
    }
  }
  // Gram matrices over steps 0 … T (spike_grams at step t takes the leading t × t block; row t gives
  // the probes at t: the readout w(t) is the top weight's backward vector l(t))
  auto gram = [&](const site& st, const std::vector<lin>& xs, const std::vector<lin>& ys, double scale) {
    xt::xtensor<double, 2> m = xt::zeros<double>({T1, T1});
    for (std::size_t i = 0; i < T1; ++i) {
      const lin wx = st.weighted(xs[i], T);
      for (std::size_t j = 0; j < T1; ++j) m(i, j) = scale * site::dot(wx, ys[j], T);
    }
    return m;
  };
  auto lead = [](const xt::xtensor<double, 2>& m, std::size_t r) { return xt::xtensor<double, 2>(xt::view(m, xt::range(0, r), xt::range(0, r))); };
  auto row = [](const xt::xtensor<double, 2>& m, std::size_t i, std::size_t n) {
    std::vector<double> r(n);
    for (std::size_t j = 0; j < n; ++j) r[j] = m(i, j);
    return r;
  };
  // units: D = 1, so N = ν; vectors on the N side have Gram N⟨··⟩, on the D side D⟨··⟩
  struct layer_grams {
    std::string name;
    xt::xtensor<double, 2> gk, gl, yy, zz, ly, kz;
    double c, rows, cols;
  };
  std::vector<layer_grams> layers;
  layers.push_back({"W0", gram(in, v, v, 1.0), gram(hid[0], gb[0], gb[0], nu), gram(hid[0], p, p, nu), gram(in, q, q, 1.0), gram(hid[0], gb[0], p, nu),
                    gram(in, v, q, 1.0), eh * g, nu, 1.0});
  // the teacher β* (|β*|² = D: Gram 1 in these units) against W0's observed vectors v(s) and A₀ᵀu(s)
  std::vector<lin> teacher(T1, in.zero());
  teacher[0][C::bstar][0] = 1.0;
  const xt::xtensor<double, 2> teacher_k = gram(in, teacher, v, 1.0), teacher_z = gram(in, teacher, q, 1.0);
  // square W_ℓ (ℓ ≥ 1): input k = h_{ℓ−1}, backward l = g_ℓ, y = W_ℓ₀k/√N = h_ℓ and z = W_ℓ₀ᵀl/√N = g_{ℓ−1}, each without the updates
  for (std::size_t l = 1; l < L; ++l) {
    std::vector<lin> y(T1, hid[l].zero()), z(T1, hid[l - 1].zero());
    for (std::size_t t = 0; t < T1; ++t) {
      y[t] = h[l][t];
      z[t] = gb[l - 1][t];
      for (std::size_t s = 0; s < t; ++s) {
        site::axpy(-eh * g * c_h[l - 1][s][t], gb[l][s], y[t]);
        site::axpy(-eh * g * c_g[l][s][t], h[l - 1][s], z[t]);
      }
    }
    layers.push_back({"W" + std::to_string(l), gram(hid[l - 1], h[l - 1], h[l - 1], nu), gram(hid[l], gb[l], gb[l], nu), gram(hid[l], y, y, nu * nu),
                      gram(hid[l - 1], z, z, nu * nu), gram(hid[l], gb[l], y, nu * std::sqrt(nu)), gram(hid[l - 1], h[l - 1], z, nu * std::sqrt(nu)),
                      eh * g / std::sqrt(nu), nu, nu});
  }
  for (std::size_t li = 0; li < layers.size(); ++li) {
    const auto& lg = layers[li];
    proportional_spectrum sp;
    sp.name = lg.name;
    sp.edge = pr.sigma * (1 + std::sqrt(lg.cols / lg.rows));
    for (std::size_t t = 0; t <= T; t += pr.spectra_every) {
      detail::spike_grams sg{lead(lg.gk, t), lead(lg.gl, t), lead(lg.yy, t), lead(lg.zz, t), lead(lg.ly, t), lg.c, lg.rows, lg.cols, pr.sigma};
      // probes: the readout w(t) = l(t) of the top weight (rows side), the teacher on W0's columns side
      std::vector<detail::spike_probe> left, right;
      const bool top = li + 1 == L, input = li == 0;
      if (top) left.push_back({row(lg.gl, t, t), row(lg.ly, t, t), lg.gl(t, t)});
      if (input) right.push_back({row(teacher_k, 0, t), row(teacher_z, 0, t), 1.0});
      const auto os = detail::spiked_outlier_vectors(sg, left, right, pr.spike_cut);
      sp.steps.push_back(t);
      sp.outliers.emplace_back();
      sp.overlap_update_left.emplace_back();
      sp.overlap_update_right.emplace_back();
      sp.overlap_readout.emplace_back();
      sp.overlap_teacher.emplace_back();
      for (const auto& o : os) {
        sp.outliers.back().push_back(o.value);
        sp.overlap_update_left.back().push_back(o.update_left);
        sp.overlap_update_right.back().push_back(o.update_right);
        if (top) sp.overlap_readout.back().push_back(o.left.front());
        if (input) sp.overlap_teacher.back().push_back(o.right.front());
      }
      // the top outlier by Lanczos in the closure (cut-free; see detail::weight_top_outlier) replaces
      // the determinant's when it has converged above the edge; the others stay the determinant's
      sp.two_level_top.push_back(os.empty() ? NAN : os.front().value);
      // run where the determinant sees an outlier (it refines that one; near the escape an outlier
      // the determinant's cut hides would be missed, by at most the step it takes to grow)
      const auto wt = os.empty() ? detail::weight_top{} : detail::weight_top_outlier(cl, li, t, weight_iterations, sp.edge);
      sp.lanczos_residual.push_back(wt.residual);
      if (wt.converged && wt.value > sp.edge * (1 + 1e-6)) {
        sp.outliers.back().front() = wt.value;
        sp.overlap_update_left.back().front() = wt.update_left;
        sp.overlap_update_right.back().front() = wt.update_right;
        if (top) sp.overlap_readout.back().front() = wt.readout;
        if (input) sp.overlap_teacher.back().front() = wt.teacher;
      }
      // kᵀ(M₀ᵀl) = (M₀k)ᵀl: ⟨k z⟩ and ⟨l y⟩ come from different sites, so their agreement checks the closure
      double res = 0, scale = 0;
      for (std::size_t i = 0; i < t; ++i)
        for (std::size_t j = 0; j < t; ++j) {
          res = std::max(res, std::abs(lg.kz(i, j) - lg.ly(j, i)));
          scale = std::max(scale, std::abs(lg.kz(i, j)));
        }
      sp.identity_residual.push_back(scale > 0 ? res / scale : 0.0);
    }
    out.spectra.push_back(std::move(sp));
  }
  return out;
}
#else
;
#endif

}  // namespace specdyn::dmft
