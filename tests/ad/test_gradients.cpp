// The generated reverse pass against central finite differences (every activation × every named
// rule × 1–3 dense layers, MSE and cross-entropy) and against a gradient derived by hand for a
// two-layer network.
#include <catch2/catch.hpp>

#include "support.hpp"

using namespace specdyn;
using namespace specdyn::testing;

namespace {
// Central differences with step h have truncation error O(h²) ~ 1e-12 and round-off
// O(ε_mach/h) ~ 1e-10 relative; 1e-6 leaves room for ill-conditioned entries.
constexpr double fd_tolerance = 1e-6;
constexpr double fd_step = 1e-6;
// Two ways of evaluating the same sums in double: agreement to rounding.
constexpr double hand_tolerance = 1e-12;

template <class Decl>
void check_fd(Decl decl, const std::string& rule, ad::loss_kind kind, bool centre) {
  constexpr std::size_t L = Decl::hidden_layers;
  const std::size_t D = 4, N = 6, C = kind == ad::loss_kind::mse ? 2 : 3, P = 5;
  auto net = bind(decl, rule_by_name(rule, L), {.D = D, .N = N, .C = C}, {.gamma0 = 0.7, .sigma = 1.3, .eta = 0.1, .seed = 11});
  auto data = make_task({.kind = task_kind::linear_teacher}, D, C, P, 0, 5);
  if (kind == ad::loss_kind::cross_entropy) data.y = one_hot_labels(C, P, 3);
  matrix f0;
  if (centre) {  // centre on a different network's outputs so the shift is not trivially zero
    auto ws = net.make_workspace(P);
    net.forward(data.x, ws);
    f0 = 0.5 * ws.out;
  }
  const matrix* f0p = centre ? &f0 : nullptr;
  const auto grad = gradient_of(net, data, kind, f0p);
  for (std::size_t i = 0; i < grad.size(); ++i) {
    matrix fd = xt::zeros_like(grad[i]);
    auto& w = net.params().w[i];
    for (std::size_t k = 0; k < w.size(); ++k) {
      const double saved = w.data()[k];
      const double h = fd_step * std::max(1.0, std::abs(saved));
      w.data()[k] = saved + h;
      const double up = loss_of(net, data, kind, f0p);
      w.data()[k] = saved - h;
      const double down = loss_of(net, data, kind, f0p);
      w.data()[k] = saved;
      fd.data()[k] = (up - down) / (2 * h);
    }
    INFO(Decl::describe() << " rule " << rule << " loss " << to_string(kind) << " centre " << centre << " layer " << i);
    CHECK(rel_err(grad[i], fd) < fd_tolerance);
  }
}

template <class Act>
void check_activation(Act act) {
  using namespace dsl;
  for (const std::string rule : {"mup", "mup_tp4", "mf", "ntk", "sp", "sp_lr"}) {
    for (auto kind : {ad::loss_kind::mse, ad::loss_kind::cross_entropy}) {
      check_fd(network(input, dense | act, readout), rule, kind, false);
      check_fd(network(input, dense | act, dense | act, readout), rule, kind, true);
      check_fd(network(input, dense | act, dense | act, dense | act, readout), rule, kind, false);
    }
  }
}
}  // namespace

TEST_CASE("reverse pass equals central differences: linear", "[ad][gradient]") { check_activation(dsl::linear); }
TEST_CASE("reverse pass equals central differences: relu", "[ad][gradient]") { check_activation(dsl::relu); }
TEST_CASE("reverse pass equals central differences: tanh", "[ad][gradient]") { check_activation(dsl::tanh); }
TEST_CASE("reverse pass equals central differences: erf", "[ad][gradient]") { check_activation(dsl::erf); }
TEST_CASE("reverse pass equals central differences: softplus", "[ad][gradient]") { check_activation(dsl::softplus); }

TEST_CASE("mixed activations in one network", "[ad][gradient]") {
  using namespace dsl;
  check_fd(network(input, dense | dsl::erf, dense | relu, dense | softplus, readout), "mup", ad::loss_kind::mse, true);
}

TEST_CASE("reverse pass equals the hand-derived two-layer gradient", "[ad][gradient]") {
  // f_μ = s1 Σ_j v_j φ(h_jμ),  h_jμ = s0 Σ_k W_jk x_kμ,  ℒ = (1/2P) Σ_μ (f_μ − y_μ)²
  // ∂ℒ/∂v_j  = (1/P) Σ_μ (f_μ − y_μ) s1 φ(h_jμ)
  // ∂ℒ/∂W_jk = (1/P) Σ_μ (f_μ − y_μ) s1 v_j φ'(h_jμ) s0 x_kμ
  using namespace dsl;
  const std::size_t D = 7, N = 9, P = 6;
  auto net = bind(network(input, dense | dsl::tanh, readout), ntk, {.D = D, .N = N, .C = 1},
                  {.gamma0 = 1.5, .sigma = 0.9, .eta = 0.1, .seed = 2});
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "relu"}, D, 1, P, 0, 8);
  const auto grad = gradient_of(net, data, ad::loss_kind::mse);
  const auto& W = net.params().w[0];
  const auto& v = net.params().w[1];
  const double s0 = net.scale(0), s1 = net.scale(1);
  matrix gW = xt::zeros<double>({N, D}), gv = xt::zeros<double>({std::size_t{1}, N});
  for (std::size_t mu = 0; mu < P; ++mu) {
    std::vector<double> h(N);
    double f = 0;
    for (std::size_t j = 0; j < N; ++j) {
      for (std::size_t k = 0; k < D; ++k) h[j] += s0 * W(j, k) * data.x(k, mu);
      f += s1 * v(0, j) * std::tanh(h[j]);
    }
    const double r = f - data.y(0, mu);
    for (std::size_t j = 0; j < N; ++j) {
      gv(0, j) += r * s1 * std::tanh(h[j]) / double(P);
      const double dphi = 1 - std::tanh(h[j]) * std::tanh(h[j]);
      for (std::size_t k = 0; k < D; ++k) gW(j, k) += r * s1 * v(0, j) * dphi * s0 * data.x(k, mu) / double(P);
    }
  }
  CHECK(rel_err(grad[0], gW) < hand_tolerance);
  CHECK(rel_err(grad[1], gv) < hand_tolerance);
}
