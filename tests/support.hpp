// Shared helpers for the tests: small data sets, loss and gradient of a bound model.
#pragma once

#include <array>
#include <cmath>

#include "specdyn/ad/loss.hpp"
#include "specdyn/train/model.hpp"
#include "specdyn/data/tasks.hpp"
#include "specdyn/train/trainer.hpp"

namespace specdyn::testing {

// One quantity evaluated two ways in double (different order of operations, or an exact design):
// rounding only, amplified by at most ~1e4 through accumulation and conditioning.
inline constexpr double same_algebra = 1e-12;
// An iterative solve (Lanczos, fixed-point iteration) run to 1e-12 against the direct answer.
inline constexpr double solver_agreement = 1e-10;

inline double rel_err(const matrix& a, const matrix& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a.data()[i] - b.data()[i]) * (a.data()[i] - b.data()[i]);
    den += b.data()[i] * b.data()[i];
  }
  return std::sqrt(num / den);
}

/// A named rule (mup, mup_tp4, mf, ntk, sp, sp_lr) with its verdict, as the command line builds it.
inline rule_info rule_by_name(const std::string& name, std::size_t hidden_layers) { return rule_from_name(name, hidden_layers); }

/// ℒ(θ) on the whole data set (optionally centred on f0).
template <class Decl>
double loss_of(const model<Decl>& net, const dataset& data, ad::loss_kind kind, const matrix* f0 = nullptr) {
  auto ws = net.make_workspace(data.samples());
  net.forward(data.x, ws);
  return kind == ad::loss_kind::mse ? ad::mse::value(ws.out, f0, data.y) : ad::cross_entropy::value(ws.out, f0, data.y);
}

/// ∇ℒ with respect to every raw parameter tensor, by the generated reverse pass.
template <class Decl>
std::vector<matrix> gradient_of(const model<Decl>& net, const dataset& data, ad::loss_kind kind, const matrix* f0 = nullptr) {
  auto ws = net.make_workspace(data.samples());
  net.forward(data.x, ws);
  if (kind == ad::loss_kind::mse) ad::mse::adjoint(ws.out, f0, data.y, ws.adj_out);
  else ad::cross_entropy::adjoint(ws.out, f0, data.y, ws.adj_out);
  std::vector<matrix> grad(net.parameter_count());
  for (std::size_t i = 0; i < grad.size(); ++i) grad[i] = xt::zeros_like(net.params().w[i]);
  net.reverse(data.x, ws, ad::gradient_sink{&grad});
  return grad;
}

/// One-hot labels [C, P] drawn at random (for cross-entropy checks).
inline matrix one_hot_labels(std::size_t c, std::size_t p, std::uint64_t seed) {
  rng gen(seed, rng::stream::data, 99);
  matrix y = xt::zeros<double>({c, p});
  for (std::size_t mu = 0; mu < p; ++mu) y(gen.below(c), mu) = 1.0;
  return y;
}

}  // namespace specdyn::testing
