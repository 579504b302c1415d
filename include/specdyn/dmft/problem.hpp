// The training problem a theory is solved for, and the one place where the loss and the batch
// schedule enter the DMFT. The output f(t) is exact in the theory, so both are cheap and exact:
//   MSE:            Δ_α = y_α − f_α                 (ℒ = (1/2P) Σ |f − y|²)
//   cross-entropy:  Δ_α = y_α − softmax(f_α)        (ℒ = −(1/P) Σ y·log softmax(f))
//   mini-batch SGD: the update at step s uses Δ_eff,α(s) = (P/|B_s|) 𝟙[α ∈ B_s] Δ_α(s)
// with the network's own batch sequence B_s (data/batches.hpp), so the theory follows the very
// batches a finite-width run with the same seed sees. Test points ride along with Δ = 0.
#pragma once

#include <cmath>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "specdyn/ad/loss.hpp"
#include "specdyn/dsl/rule_map.hpp"

namespace specdyn::dmft {

using matrix = xt::xtensor<double, 2>;

struct problem {
  matrix x;                  // [D, P_all]  (train columns first)
  matrix y;                  // [C, P_all]
  std::size_t p_train = 0;
  double sigma = 1.0, eta = 0.5;
  std::size_t steps = 10;
  effective_rule rule;
  ad::loss_kind loss = ad::loss_kind::mse;
  std::vector<std::vector<std::size_t>> batches;  // B_s for s = 0..steps−1; empty: full-batch GD
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
