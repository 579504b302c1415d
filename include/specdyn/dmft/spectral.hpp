// The two-level spectral theory: where the outliers of every hidden weight's singular-value
// spectrum sit during training, at N = ∞ (docs/spectra-theory.md derives all of this).
//
// Level 1 is the training DMFT. A hidden weight after t steps is M(t) = W(t)/√N = X + Ĝ Ω Φ̂ᵀ with
// X = W(0)/√N, spike vectors ĝ_α(s) (row side) and φ_α(s) (column side), Ω = coef·I; the DMFT
// gives their Gram matrices, hence the update's singular values θ_k and the naive (independent
// spike) BBP prediction σ(θ/σ + σ/θ).
//
// Level 2 keeps the spikes' dependence on X. Training uses X only through the products
// ȳ = Xφ(s) and ẑ = Xᵀĝ(s); conditioned on them (Gaussian conditioning), X is a finite-rank
// matrix X₀ = P_G^⊥ Ŷ Φ̂⁺ + Ĝ(ĜᵀĜ)⁺Ẑᵀ plus P_G^⊥ X̃ P_Φ^⊥ with X̃ an independent copy. So M is an
// independent bulk plus the finite-rank F = X₀ + ĜΩΦ̂ᵀ, whose row space splits into span Ĝ and
// the part of Ŷ orthogonal to it, and whose column space into span Φ̂ and the part of Ẑ orthogonal
// to it. On span Ĝ and span Φ̂ the compressed bulk acts as zero (resolvent 1/s), on the orthogonal
// parts as a free semicircle (resolvent m(s), the Stieltjes transform of the semicircle of radius
// 2σ). In orthonormal coordinates F = Ψ and the outliers are the s > 2σ where
//     S(s) = D_r^{1/2} Ψ D_c Ψᵀ D_r^{1/2},  D_r = diag(1/s · I_G, m(s) · I_Y⊥),  D_c = diag(1/s · I_Φ, m(s) · I_Z⊥)
// has eigenvalue 1. Only Gram matrices of ĝ, ȳ (row side) and φ, ẑ (column side) enter, and the
// particle solver measures them (solver_options::spike_moments).
//   auto pred = specdyn::dmft::predict_hidden(sol.spikes[1], /*t=*/20, sigma);   // pred.outliers
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <vector>

#if SPECDYN_CORE_BODIES  // LAPACK through xtensor-blas: parsed only where the bodies compile (core.hpp)
#include <xtensor-blas/xlinalg.hpp>
#endif
#include <xtensor/xview.hpp>

#include "specdyn/dmft/particles.hpp"
#include "specdyn/spectra/outlier_equation.hpp"

namespace specdyn::dmft {

/// Stieltjes transform of the semicircle on [−2σ, 2σ], m(s) = (s − √(s² − 4σ²))/(2σ²) for s ≥ 2σ:
/// the resolvent of the dilation of a square Gaussian matrix with entry variance σ²/N.
SPECDYN_CORE_FN double semicircle_m(double s, double sigma)
#if SPECDYN_CORE_BODIES
{
  const double s2 = sigma * sigma;
  return (s - std::sqrt(std::max(s * s - 4 * s2, 0.0))) / (2 * s2);
}
#else
;
#endif
/// dm/ds = −m² / (1 − σ² m²).
SPECDYN_CORE_FN double semicircle_dm(double s, double sigma)
#if SPECDYN_CORE_BODIES
{
  const double m = semicircle_m(s, sigma), s2 = sigma * sigma;
  return -m * m / (1 - s2 * m * m);
}
#else
;
#endif
/// Classical square BBP for an independent spike of strength θ on entries of variance σ²/N.
inline double naive_bbp(double theta, double sigma) { return theta > sigma ? theta + sigma * sigma / theta : 2 * sigma; }

struct spectral_options {
  // Gram eigen-directions below cut × the largest diagonal entry are dropped. Exact Grams (linear
  // closure) carry rounding errors of ~1e-13 relative after a long march and their spectra decay
  // without a gap, so directions below ~1e-9 are noise once projected: with 1e-10 a frozen update
  // (conditioning alone, T = 60) showed a spurious root 0.1 % above the edge on an AMD EPYC machine,
  // while 1e-8 moves trained outliers by < 1e-5. Monte Carlo Grams from S particles carry relative errors ~ S^{-1/2} that
  // the projections amplify by 1/eigenvalue, so the particle theory uses cut ≈ S_total^{-1/2};
  // measured on exact finite-width Grams, cuts up to 1e-2 move the top outlier by < 1 %.
  double cut = 1e-8;
  double edge_resolution = 1e-9;  // roots below 2σ(1 + this) are not reported (particles: 1e-2)
  std::size_t update_values = 8;  // θ_k reported per step
  bool independent = false;       // cut the dependence: F = ĜΩΦ̂ᵀ alone on a free bulk (naive BBP, via the general solver)
};

/// The prediction for one hidden weight at one step.
struct hidden_prediction {
  std::size_t step = 0;
  std::vector<double> outliers;             // two-level, descending, > 2σ
  std::vector<double> naive;                // independent-spike BBP for each θ_k > σ
  std::vector<double> update_singular;      // θ_k, descending
  std::vector<double> overlap_spike_left;   // |⟨u_k, û_1⟩|²: outlier k's left vector with the update's top left vector
  std::vector<double> overlap_spike_right;  // |⟨v_k, v̂_1⟩|²
  std::vector<double> overlap_initial;      // with the top singular vectors of X: 0 at N = ∞ (edge vectors)
  std::size_t rank_row = 0, rank_col = 0;   // sizes of the orthonormal bases kept
  std::size_t unresolved = 0;               // roots dropped as Monte Carlo noise (run/theory.hpp)
};

namespace detail {
/// An orthonormal basis Q of a family A (known through its Gram matrix Γ = AᵀA): A = Q C with
/// C = Λ^{1/2}Vᵀ, and Qᵀb = W (Aᵀb) with W = Λ^{−1/2}Vᵀ, over the eigen-directions above `floor`.
struct gram_basis {
  matrix coords, project;  // C [k, n], W [k, n]
  [[nodiscard]] std::size_t size() const { return coords.shape(0); }
};
SPECDYN_CORE_FN gram_basis make_basis(const matrix& gram, double floor)
#if SPECDYN_CORE_BODIES
{
  gram_basis b;
  const auto [lam, vec] = spectra::eigen_above(gram, floor);
  const std::size_t n = gram.shape(0), k = lam.size();
  b.coords = matrix({k, n});
  b.project = matrix({k, n});
  for (std::size_t j = 0; j < k; ++j)
    for (std::size_t i = 0; i < n; ++i) {
      b.coords(j, i) = std::sqrt(lam[j]) * vec(i, j);
      b.project(j, i) = vec(i, j) / std::sqrt(lam[j]);
    }
  return b;
}
#else
;
#endif
inline matrix leading(const matrix& m, std::size_t n) { return xt::view(m, xt::range(0, n), xt::range(0, n)); }
SPECDYN_CORE_FN matrix mul(const matrix& a, const matrix& b, bool ta = false, bool tb = false)
#if SPECDYN_CORE_BODIES
{
  matrix c({ta ? a.shape(1) : a.shape(0), tb ? b.shape(0) : b.shape(1)});
  if (c.size()) blas::gemm(ta, tb, 1.0, a, b, 0.0, c);
  else c.fill(0.0);
  return c;
}
#else
;
#endif
SPECDYN_CORE_FN double max_abs_diag(const matrix& m)
#if SPECDYN_CORE_BODIES
{
  double x = 0;
  for (std::size_t i = 0; i < m.shape(0); ++i) x = std::max(x, std::abs(m(i, i)));
  return x;
}
#else
;
#endif
}  // namespace detail

/// Level 1 and level 2 for hidden weight spikes `sg` after t steps (spikes s < t), bulk scale σ.
SPECDYN_CORE_FN hidden_prediction predict_hidden(const spike_grams& sg, std::size_t t, double sigma, const spectral_options& opt = {})
#if SPECDYN_CORE_BODIES
{
  using namespace detail;
  io::throw_if_interrupted("while predicting outliers (step " + std::to_string(t) + ")");
  hidden_prediction out;
  out.step = t;
  const std::size_t n = std::min(t, sg.steps) * sg.p;
  if (n == 0) return out;
  const matrix gg = leading(sg.gg, n), gy = leading(sg.gy, n), yy = leading(sg.yy, n);
  const matrix pp = leading(sg.pp, n), pz = leading(sg.pz, n), zz = leading(sg.zz, n);
  // orthonormal bases: span Ĝ, then Ŷ ⊥ Ĝ (row side); span Φ̂, then Ẑ ⊥ Φ̂ (column side)
  const gram_basis bg = make_basis(gg, opt.cut * std::max(max_abs_diag(gg), 1e-300));
  const gram_basis bp = make_basis(pp, opt.cut * std::max(max_abs_diag(pp), 1e-300));
  const matrix update = sg.coef * mul(bg.coords, bp.coords, false, true);  // ĜΩΦ̂ᵀ in (G, Φ) coordinates [kg, kp]
  {  // level 1: θ_k and naive BBP
    if (update.size()) {
      auto [u, sv, vt] = xt::linalg::svd(update, false, false);
      for (std::size_t k = 0; k < std::min(sv.size(), opt.update_values); ++k) out.update_singular.push_back(sv(k));
    }
    for (double th : out.update_singular)
      if (th > sigma) out.naive.push_back(naive_bbp(th, sigma));
  }
  const std::size_t kg = bg.size(), kp = bp.size();
  matrix psi;  // F in [G, Y⊥] × [Φ, Z⊥] coordinates
  std::size_t ky = 0, kz = 0;
  if (opt.independent) {
    psi = update;
  } else {
    const matrix a_y = mul(bg.project, gy);  // Q_Gᵀ Ŷ [kg, n]
    const matrix a_z = mul(bp.project, pz);  // Q_Φᵀ Ẑ [kp, n]
    const matrix res_y = yy - mul(a_y, a_y, true), res_z = zz - mul(a_z, a_z, true);
    const gram_basis by = make_basis(res_y, opt.cut * std::max(max_abs_diag(yy), 1e-300));
    const gram_basis bz = make_basis(res_z, opt.cut * std::max(max_abs_diag(zz), 1e-300));
    ky = by.size();
    kz = bz.size();
    psi = xt::zeros<double>({kg + ky, kp + kz});
    // (G, Φ): Q_Gᵀ X Q_Φ (from ĜᵀXΦ̂ = ĜᵀŶ = ẐᵀΦ̂, averaged over both sides) + the update
    const matrix gxp = 0.5 * (mul(a_y, bp.project, false, true) + mul(bg.project, a_z, false, true));
    xt::view(psi, xt::range(0, kg), xt::range(0, kp)) = gxp + update;
    xt::view(psi, xt::range(0, kg), xt::range(kp, kp + kz)) = mul(bg.project, bz.coords, false, true);  // Ĝ(ĜᵀĜ)⁺Ẑᵀ on Z⊥
    xt::view(psi, xt::range(kg, kg + ky), xt::range(0, kp)) = mul(by.coords, bp.project, false, true);  // P_G^⊥ŶΦ̂⁺
  }
  out.rank_row = psi.shape(0);
  out.rank_col = psi.shape(1);
  if (psi.size() == 0) return out;
  const std::size_t kr = psi.shape(0), kc = psi.shape(1);
  // resolvent weights: 1/s on span Ĝ, span Φ̂ (the compressed bulk vanishes there), m(s) elsewhere
  auto weights = [&](double s, std::vector<double>& dr, std::vector<double>& dc, bool derivative) {
    const double a = derivative ? -1.0 / (s * s) : 1.0 / s;
    const double m = derivative ? semicircle_dm(s, sigma) : semicircle_m(s, sigma);
    const bool ind = opt.independent;
    dr.assign(kr, 0.0);
    dc.assign(kc, 0.0);
    for (std::size_t i = 0; i < kr; ++i) dr[i] = ind ? m : (i < kg ? a : m);
    for (std::size_t j = 0; j < kc; ++j) dc[j] = ind ? m : (j < kp ? a : m);
  };
  auto s_matrix = [&](double s) {
    std::vector<double> dr, dc;
    weights(s, dr, dc, false);
    matrix left = psi;  // D_r^{1/2} Ψ D_c^{1/2}
    for (std::size_t i = 0; i < kr; ++i)
      for (std::size_t j = 0; j < kc; ++j) left(i, j) *= std::sqrt(dr[i] * dc[j]);
    return mul(left, left, false, true);
  };
  const double edge = 2 * sigma;
  double frob = 0;
  for (double v : psi) frob += v * v;
  out.outliers = spectra::crossings([&](double s) { return spectra::eigenvalues_desc(s_matrix(s)); },
                                    edge * (1 + std::max(opt.edge_resolution, 1e-12)), edge + std::sqrt(frob) + 1.0);
  // overlaps: at a root, S e = e gives c_r = D_r^{−1/2} e, c_c = Ψᵀ D_r^{1/2} e; the eigenvector of the
  // dilation is ψ = R(s) W c with |ψ|² = −cᵀ K'(s) c, and ⟨q, u⟩ = qᵀ D_r c_r / |ψ_row|, |ψ_row|² = |ψ|²/2.
  matrix lu, rv;
  if (update.size()) {
    auto [u, sv, vt] = xt::linalg::svd(update, true, true);
    lu = u;
    rv = xt::transpose(vt);
  }
  for (std::size_t k = 0; k < out.outliers.size(); ++k) {
    const double s = out.outliers[k];
    auto [lam, vec] = xt::linalg::eigh(matrix(0.5 * (s_matrix(s) + xt::transpose(s_matrix(s)))));
    std::size_t best = 0;
    for (std::size_t i = 1; i < kr; ++i)
      if (std::abs(lam(i) - 1) < std::abs(lam(best) - 1)) best = i;
    std::vector<double> dr, dc, ddr, ddc;
    weights(s, dr, dc, false);
    weights(s, ddr, ddc, true);
    std::vector<double> cr(kr), cc(kc, 0.0);
    for (std::size_t i = 0; i < kr; ++i) cr[i] = vec(i, best) / std::sqrt(dr[i]);
    for (std::size_t j = 0; j < kc; ++j)
      for (std::size_t i = 0; i < kr; ++i) cc[j] += psi(i, j) * dr[i] * cr[i];
    double norm2 = 0;
    for (std::size_t i = 0; i < kr; ++i) norm2 -= cr[i] * ddr[i] * cr[i];
    for (std::size_t j = 0; j < kc; ++j) norm2 -= cc[j] * ddc[j] * cc[j];
    const double half = norm2 / 2;
    double ol = 0, orr = 0;
    if (lu.size()) {
      for (std::size_t i = 0; i < kg; ++i) ol += lu(i, 0) * dr[i] * cr[i];
      for (std::size_t j = 0; j < kp; ++j) orr += rv(j, 0) * dc[j] * cc[j];
    }
    out.overlap_spike_left.push_back(half > 0 ? ol * ol / half : std::nan(""));
    out.overlap_spike_right.push_back(half > 0 ? orr * orr / half : std::nan(""));
    out.overlap_initial.push_back(0.0);
  }
  return out;
}
#else
;
#endif

/// Level 1 for the input weight (D fixed): the D singular values of W⁰(t)/√N at N = ∞, from
///   (1/N) W⁰(t)ᵀW⁰(t) = σ² I + (1/D) X [coef (S_R + S_Rᵀ) + coef² Σ_{s,s'<t} ⟨ĝ(s)ĝ(s')⟩] Xᵀ,
/// S_R = Σ_{s<t} σ²⟨∂ĝ(s)/∂u¹⟩ (Stein: (1/N) W⁰ᵀĝ_α = D^{−1/2} Σ_β S_R,αβ x_β). x: [D, P] training inputs.
SPECDYN_CORE_FN std::vector<double> predict_input(const spike_grams& sg, std::size_t t, double sigma, const matrix& x)
#if SPECDYN_CORE_BODIES
{
  const std::size_t d = x.shape(0), p = sg.p, steps = std::min(t, sg.steps);
  matrix inner = xt::zeros<double>({p, p});
  for (std::size_t s = 0; s < steps; ++s) {
    inner += sg.coef * (sg.response[s] + xt::transpose(sg.response[s]));
    for (std::size_t s2 = 0; s2 < steps; ++s2)
      inner += sg.coef * sg.coef * matrix(xt::view(sg.gg, xt::range(s * p, (s + 1) * p), xt::range(s2 * p, (s2 + 1) * p)));
  }
  const matrix xi = detail::mul(x, inner);
  matrix w = detail::mul(xi, x, false, true) / double(d);
  for (std::size_t i = 0; i < d; ++i) w(i, i) += sigma * sigma;
  std::vector<double> out;
  for (double e : spectra::eigenvalues_desc(w)) out.push_back(std::sqrt(std::max(e, 0.0)));
  return out;
}
#else
;
#endif

}  // namespace specdyn::dmft
