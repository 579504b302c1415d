// Loss-Hessian top eigenvalue from exact Hessian-vector products (forward-over-reverse through
// the generated passes, ad/chain.hpp) and Lanczos (Spectra). The Hessian is preconditioned by the
// per-layer learning rates, Λ^{1/2} H Λ^{1/2} with Λ_i = lr_i/η, so that GD on the quadratic
// model is stable iff η·λ_max < 2 — the same units as the NTK ratio (η/P)λ_max(K)
// (docs/conventions.md §6). For MSE at a zero-residual point H = Gauss–Newton and λ_max = λ_max(K)/P.
//   specdyn::spectra::hessian h(net, x, y, f0, ad::loss_kind::mse);
//   double top = h.top_eigenvalue();
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <functional>
#include <vector>

#include "specdyn/ad/loss.hpp"
#include "specdyn/errors.hpp"
#include "specdyn/spectra/lanczos.hpp"
#include "specdyn/train/model.hpp"

namespace specdyn::spectra {

template <class Decl>
class hessian {
 public:
  using weights = std::vector<matrix>;

  /// Evaluates the network and its gradient fields at the current weights, once. The model is
  /// held by reference (a temporary one is refused at compile time); x, y and f0 are copied.
  template <class D = Decl>
  hessian(const model<Decl>&&, const matrix&, const matrix&, const matrix*, ad::loss_kind) {
    static_assert(sizeof(D) == 0, "specdyn: hessian keeps a reference to the model; pass a named model, not a temporary");
  }
  hessian(const model<Decl>& net, const matrix& x, const matrix& y, const matrix* f0, ad::loss_kind kind)
      : net_(net), x_(x), y_(y), f0_copy_(f0 ? *f0 : matrix()), f0_(f0 ? &f0_copy_ : nullptr), kind_(kind),
        ws_(net.make_workspace(x.shape(1))),
        tw_(net.make_tangent_workspace(x.shape(1))) {
    net.forward(x_, ws_);
    if (kind == ad::loss_kind::mse) ad::mse::adjoint(ws_.out, f0_, y_, ws_.adj_out);
    else ad::cross_entropy::adjoint(ws_.out, f0_, y_, ws_.adj_out);
    net.reverse(x_, ws_, ad::no_sink{});
    const std::size_t np = net.parameter_count();
    v_.resize(np);
    hv_.resize(np);
    precond_.resize(np);
    for (std::size_t i = 0; i < np; ++i) {
      v_[i] = xt::zeros_like(net.params().w[i]);
      hv_[i] = xt::zeros_like(net.params().w[i]);
      dim_ += v_[i].size();
      precond_[i] = std::sqrt(net.learning_rates()[i] / net.hyper_params().eta);
    }
  }

  [[nodiscard]] std::size_t dim() const { return dim_; }

  /// hv = H v, the Hessian of ℒ with respect to the raw weights.
  void hvp(const weights& v, weights& hv) {
    ad::program<Decl>::forward_tangent(net_.params(), v, x_, ws_, tw_);
    if (kind_ == ad::loss_kind::mse) ad::mse::adjoint_tangent(ws_.out, f0_, tw_.out_dot, tw_.adj_out_dot);
    else ad::cross_entropy::adjoint_tangent(ws_.out, f0_, tw_.out_dot, tw_.adj_out_dot);
    ad::program<Decl>::reverse_tangent(net_.params(), v, x_, ws_, tw_, hv);
  }

  /// Replaces Λ by an entrywise preconditioner: inverse[i] holds P⁻¹'s diagonal for parameter i
  /// (its shape), so that top_eigenvalue() is λ_max(P⁻¹H) = λ_max(P^{-1/2} H P^{-1/2}) — for Adam
  /// with P = (√v̂ + ε)/rate, the preconditioned sharpness of Cohen et al. (2022).
  void set_entrywise_preconditioner(const weights& inverse) {
    entry_.resize(inverse.size());
    for (std::size_t i = 0; i < inverse.size(); ++i) {
      entry_[i] = inverse[i];
      for (auto& v : entry_[i]) v = std::sqrt(v);
    }
  }

  /// y = Λ^{1/2} H Λ^{1/2} x on flattened weights (P^{-1/2} H P^{-1/2} x with an entrywise preconditioner).
  void apply_preconditioned(const double* x, double* y) {
    auto c = [this](std::size_t i, std::size_t k) { return entry_.empty() ? precond_[i] : entry_[i].data()[k]; };
    std::size_t off = 0;
    for (std::size_t i = 0; i < v_.size(); ++i) {
      for (std::size_t k = 0; k < v_[i].size(); ++k) v_[i].data()[k] = c(i, k) * x[off + k];
      off += v_[i].size();
    }
    hvp(v_, hv_);
    off = 0;
    for (std::size_t i = 0; i < hv_.size(); ++i) {
      for (std::size_t k = 0; k < hv_[i].size(); ++k) y[off + k] = c(i, k) * hv_[i].data()[k];
      off += hv_[i].size();
    }
  }

  /// λ_max(Λ^{1/2} H Λ^{1/2}); GD at learning rate η is locally stable iff η·λ_max < 2.
  double top_eigenvalue(double tol = 1e-8) {
    return lanczos_top(dim_, [this](const double* x, double* y) { apply_preconditioned(x, y); }, tol);
  }

 private:
  const model<Decl>& net_;
  matrix x_, y_, f0_copy_;
  const matrix* f0_;
  ad::loss_kind kind_;
  ad::workspace<Decl> ws_;
  ad::tangent_workspace<Decl> tw_;
  weights v_, hv_;
  weights entry_;  // √P⁻¹ entrywise (empty: the per-tensor Λ^{1/2})
  std::vector<double> precond_;
  std::size_t dim_ = 0;
};

}  // namespace specdyn::spectra
