// The training problem a theory is solved for, and the one place where the loss and the batch
// schedule enter the DMFT. The output f(t) is exact in the theory, so both are cheap and exact:
//   MSE:            Δ_α = y_α − f_α                 (ℒ = (1/2P) Σ |f − y|²)
//   cross-entropy:  Δ_α = y_α − softmax(f_α)        (ℒ = −(1/P) Σ y·log softmax(f))
//   mini-batch SGD: the update at step s uses Δ_eff,α(s) = (P/|B_s|) 𝟙[α ∈ B_s] Δ_α(s)
// with the network's own batch sequence B_s (data/batches.hpp), so the theory follows the very
// batches a finite-width run with the same seed sees. Test points ride along with Δ = 0.
#pragma once

#include <cmath>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "specdyn/ad/loss.hpp"
#include "specdyn/dsl/rule_map.hpp"

namespace specdyn::dmft {

using matrix = xt::xtensor<double, 2>;

/// The optimizer a theory follows (docs/optimizers.md §5). Linear ones (GD, heavy ball, Nesterov,
/// with decoupled weight decay d = 1 − ηλ on every weight matrix) keep the closure's form: a weight
/// at step t is d^t W(0) + Σ_{s<t} c(t, s) × (GD's update from step s). Entrywise ones (sign descent,
/// Adam/AdamW) replace the update of each entry by a nonlinear function of that entry's gradient
/// history: the solver then carries the pairwise state of every (neuron, neuron) pair.
struct update_rule {
  // pairwise_gd: GD through the entrywise machinery (U = Ĝ): the same numbers as gd to rounding with
  // the same particles, which is how the pairwise solver is tested
  enum class kind { gd, momentum, nesterov, sign, adam, pairwise_gd };
  kind how = kind::gd;
  double mu = 0;       // heavy-ball / Nesterov momentum
  double decay = 1.0;  // d = 1 − ηλ per step, every weight matrix (1: no decay)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam (ε in units of the gradient entries' scale)
  [[nodiscard]] bool plain() const { return how == kind::gd && decay == 1.0; }
  [[nodiscard]] bool entrywise() const { return how == kind::sign || how == kind::adam || how == kind::pairwise_gd; }
  /// d^t: what is left of W(0) at step t.
  [[nodiscard]] double retained(std::size_t t) const { return decay == 1.0 ? 1.0 : std::pow(decay, double(t)); }
  /// The step taken at r in velocity form, a·g(r) + b·v(r) with v(r) = μ v(r−1) + g(r): GD (1, 0),
  /// heavy ball (0, 1), Nesterov (1, μ) — for parameters whose update the solvers accumulate step by step.
  [[nodiscard]] std::pair<double, double> step_form() const {
    return how == kind::momentum ? std::pair{0.0, 1.0} : how == kind::nesterov ? std::pair{1.0, mu} : std::pair{1.0, 0.0};
  }
  /// c(t, s) for s < t (linear kinds): the weight of step s's gradient in W(t), Σ_{r=s}^{t−1} d^{t−1−r} k(r − s)
  /// with k(j) the share of g(s) in the step taken at s + j: GD δ_j0, heavy ball μ^j, Nesterov δ_j0 + μ^{j+1}.
  [[nodiscard]] double weight(std::size_t t, std::size_t s) const {
    if (how == kind::gd && decay == 1.0) return 1.0;
    double c = 0;
    for (std::size_t r = s; r < t; ++r) {
      const double j = double(r - s);
      const double k = how == kind::momentum ? std::pow(mu, j) : how == kind::nesterov ? (r == s ? 1.0 : 0.0) + std::pow(mu, j + 1) : (r == s ? 1.0 : 0.0);
      c += retained(t - 1 - r) * k;
    }
    return c;
  }
};

struct problem {
  matrix x;                  // [D, P_all]  (train columns first)
  matrix y;                  // [C, P_all]
  std::size_t p_train = 0;
  double sigma = 1.0, eta = 0.5;
  std::size_t steps = 10;
  effective_rule rule;
  ad::loss_kind loss = ad::loss_kind::mse;
  std::vector<std::vector<std::size_t>> batches;  // B_s for s = 0..steps−1; empty: full-batch GD
  update_rule update;                             // the optimizer (plain GD/SGD by default)
  [[nodiscard]] std::size_t p_all() const { return x.shape(1); }
  [[nodiscard]] std::size_t outputs() const { return y.shape(0); }
  [[nodiscard]] bool batched() const { return !batches.empty(); }

  /// Residuals Δ = y − f (MSE) or y − softmax(f) (cross-entropy) on the training points, 0 on test points.
  [[nodiscard]] matrix residual(const matrix& f) const {
    const std::size_t c = outputs(), p = p_all();
    matrix d = xt::zeros<double>({c, p});
    for (std::size_t mu = 0; mu < p_train; ++mu) {
      if (loss == ad::loss_kind::mse) {
        for (std::size_t a = 0; a < c; ++a) d(a, mu) = y(a, mu) - f(a, mu);
      } else {
        double mx = -INFINITY, z = 0;
        for (std::size_t a = 0; a < c; ++a) mx = std::max(mx, f(a, mu));
        for (std::size_t a = 0; a < c; ++a) z += std::exp(f(a, mu) - mx);
        for (std::size_t a = 0; a < c; ++a) d(a, mu) = y(a, mu) - std::exp(f(a, mu) - mx) / z;
      }
    }
    return d;
  }
  /// The residual the update at step s uses: Δ scaled by P/|B_s| on the batch, 0 off it.
  [[nodiscard]] matrix update_residual(const matrix& resid, std::size_t s) const {
    if (!batched() || s >= batches.size()) return resid;
    matrix d = xt::zeros_like(resid);
    const double w = double(p_train) / double(batches[s].size());
    for (std::size_t mu : batches[s])
      for (std::size_t a = 0; a < d.shape(0); ++a) d(a, mu) = w * resid(a, mu);
    return d;
  }
  /// Mean loss over points [from, to) of outputs f.
  [[nodiscard]] double loss_value(const matrix& f, std::size_t from, std::size_t to) const {
    if (to <= from) return std::nan("");
    const std::size_t c = outputs();
    double s = 0;
    for (std::size_t mu = from; mu < to; ++mu) {
      if (loss == ad::loss_kind::mse) {
        for (std::size_t a = 0; a < c; ++a) s += 0.5 * (f(a, mu) - y(a, mu)) * (f(a, mu) - y(a, mu));
      } else {
        double mx = -INFINITY, z = 0;
        for (std::size_t a = 0; a < c; ++a) mx = std::max(mx, f(a, mu));
        for (std::size_t a = 0; a < c; ++a) z += std::exp(f(a, mu) - mx);
        for (std::size_t a = 0; a < c; ++a) s -= y(a, mu) * (f(a, mu) - mx - std::log(z));
      }
    }
    return s / double(to - from);
  }
  [[nodiscard]] double train_loss(const matrix& f) const { return loss_value(f, 0, p_train); }
  [[nodiscard]] double test_loss(const matrix& f) const { return loss_value(f, p_train, p_all()); }
};

}  // namespace specdyn::dmft
