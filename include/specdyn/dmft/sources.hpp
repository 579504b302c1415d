// Gaussian sources of the single-site process, sampled causally in time, and their responses by
// Stein's lemma. A source x(t) ∈ R^d (t = 0..T) with covariance blocks C(t, s) is written through
// i.i.d. innovations, x(t) = Σ_{s≤t} A(t, s) ξ(s), with A the block lower-triangular factor of C
// built one time row at a time (C(t, ·) is known only after the fields at t are formed). Diagonal
// blocks come from an eigen-decomposition, so singular covariances (φ = id, the rank-one readout)
// are handled: A(t, t) = V Λ^{1/2} and its pseudo-inverse acts on the support only.
// Stein: for F depending on x(≤t), ⟨∂F/∂x(s)⟩ A(·) = ⟨F ξ(s)ᵀ⟩, solved block by block backwards.
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <vector>

#if SPECDYN_CORE_BODIES  // LAPACK through xtensor-blas: parsed only where the bodies compile (core.hpp)
#include <xtensor-blas/xlinalg.hpp>
#endif

#include "specdyn/ad/blas.hpp"
#include "specdyn/errors.hpp"

namespace specdyn::dmft {

using matrix = xt::xtensor<double, 2>;

class gaussian_source {
 public:
  gaussian_source() = default;
  /// d: dimension per time; particles: S; constant: one draw at t = 0 used at every t.
  gaussian_source(std::size_t d, std::size_t particles, bool constant) : d_(d), s_(particles), constant_(constant) {}

  [[nodiscard]] std::size_t dim() const { return d_; }
  [[nodiscard]] bool constant() const { return constant_; }
  [[nodiscard]] std::size_t times() const { return factor_.size(); }

  /// Adds time row t = times(): cov[s] = C(t, s) for s = 0..t ([d, d] each, C(t, t) symmetric).
  /// Returns the smallest eigenvalue of the conditional covariance relative to the marginal
  /// variance scale (negative beyond rounding: the kernels are not a covariance).
  SPECDYN_CORE_FN double extend(const std::vector<matrix>& cov)
#if SPECDYN_CORE_BODIES
  {
    const std::size_t t = times();
    std::vector<matrix> row(t + 1);
    for (std::size_t s = 0; s < t; ++s) {
      // A(t, s) = [C(t, s) − Σ_{s'<s} A(t, s') A(s, s')ᵀ] · A(s, s)^{+ᵀ}
      matrix x = cov[s];
      for (std::size_t sp = 0; sp < s; ++sp) blas::gemm(false, true, -1.0, row[sp], factor_[s][sp], 1.0, x);
      row[s] = matrix({d_, d_});
      blas::gemm(false, false, 1.0, x, pinv_t_[s], 0.0, row[s]);
    }
    matrix cond = cov[t];
    for (std::size_t s = 0; s < t; ++s) blas::gemm(false, true, -1.0, row[s], row[s], 1.0, cond);
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t j = 0; j < i; ++j) cond(i, j) = cond(j, i) = 0.5 * (cond(i, j) + cond(j, i));
    auto [lam, vec] = xt::linalg::eigh(cond);
    double lmax = 0, lmin = INFINITY, scale = 0;
    for (double l : lam) { lmax = std::max(lmax, std::abs(l)); lmin = std::min(lmin, l); }
    for (std::size_t i = 0; i < d_; ++i) scale = std::max(scale, cov[t](i, i));
    // Directions whose conditional variance is below 1e-9 of the marginal variance (a new component
    // of relative size < 3e-5) are treated as determined by the past: keeping them lets their
    // pseudo-inverse amplify rounding by 1/cut (with a 1e-12 cut, deep_linear3 over 30 steps reached a
    // conditional eigenvalue of −1e-6; with 1e-10 it stayed at −3e-15 on an Intel machine but reached
    // −1.0e-6 at step 21 of a 100-step deep_linear3 march on an AMD EPYC one).
    const double cut = std::max(1e-11 * lmax, 1e-9 * scale) + 1e-300;
    matrix a({d_, d_}), pinv_t({d_, d_});
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t k = 0; k < d_; ++k) {
        const bool on = lam(k) > cut;
        a(i, k) = on ? vec(i, k) * std::sqrt(lam(k)) : 0.0;       // A = V Λ^{1/2}
        pinv_t(i, k) = on ? vec(i, k) / std::sqrt(lam(k)) : 0.0;  // A^{+ᵀ} = V Λ^{-1/2}
      }
    row[t] = a;
    factor_.push_back(std::move(row));
    pinv_t_.push_back(pinv_t);
    return lmin / std::max(scale, 1e-300);
  }
#else
  ;
#endif

  /// Stores the innovations of time t ([S, d]) and returns x(t) = Σ_{s≤t} ξ(s) A(t, s)ᵀ ([S, d]).
  /// (Innovations are kept for Stein; source values are not, except for a constant source.)
  matrix sample(std::size_t t, matrix innovations) {
    if (xi_.size() <= t) xi_.resize(t + 1);
    xi_[t] = std::move(innovations);
    matrix x = xt::zeros<double>({s_, d_});
    for (std::size_t s = 0; s <= t; ++s) blas::gemm(false, true, 1.0, xi_[s], factor_[t][s], 1.0, x);
    if (constant_) constant_value_ = x;
    return x;
  }
  /// The value of a constant source (drawn at t = 0).
  [[nodiscard]] const matrix& constant_value() const { return constant_value_; }
  [[nodiscard]] const matrix& innovations(std::size_t t) const { return xi_[t]; }

  /// ⟨∂F/∂x(s)⟩ for s = 0..t_max, given F [S, m] depending on x(0..t_max) only: blocks [m, d].
  /// Solves R A = E with E(s) = ⟨F ξ(s)ᵀ⟩ (centred when `centre`, a control variate for Monte
  /// Carlo; exact designs must not centre), by back-substitution over the block rows of A.
  SPECDYN_CORE_FN std::vector<matrix> stein(const matrix& f, std::size_t t_max, bool centre) const
#if SPECDYN_CORE_BODIES
  {
    const std::size_t m = f.shape(1);
    matrix fc = f;
    if (centre) {
      for (std::size_t j = 0; j < m; ++j) {
        double mean = 0;
        for (std::size_t i = 0; i < s_; ++i) mean += f(i, j);
        mean /= double(s_);
        for (std::size_t i = 0; i < s_; ++i) fc(i, j) -= mean;
      }
    }
    std::vector<matrix> r(t_max + 1);
    for (std::size_t s = t_max + 1; s-- > 0;) {
      matrix y({m, d_});
      blas::gemm(true, false, 1.0 / double(s_), fc, xi_[s], 0.0, y);  // E(s) = ⟨F ξ(s)ᵀ⟩
      for (std::size_t sp = s + 1; sp <= t_max; ++sp) blas::gemm(false, false, -1.0, r[sp], factor_[sp][s], 1.0, y);
      // R(s) = Y A(s, s)^+ = Y Λ^{-1/2} Vᵀ  (minimum norm: the response on the support)
      r[s] = matrix({m, d_});
      blas::gemm(false, true, 1.0, y, pinv_t_[s], 0.0, r[s]);
    }
    return r;
  }
#else
  ;
#endif

 private:
  std::size_t d_ = 0, s_ = 0;
  bool constant_ = false;
  std::vector<std::vector<matrix>> factor_;  // factor_[t][s] = A(t, s), s ≤ t
  std::vector<matrix> pinv_t_;                // A(t, t)^{+ᵀ}
  std::vector<matrix> xi_;
  matrix constant_value_;
};

}  // namespace specdyn::dmft
