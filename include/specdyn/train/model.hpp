// A declared network bound to a scaling rule and runtime sizes: the weights, their forward
// multipliers and learning rates, drawn and sized once. Widths are runtime values, so a width
// sweep reuses one compiled model type.
//   auto net = specdyn::bind(models::mlp3_tanh, dsl::mup, {.D = 64, .N = 1024, .C = 1},
//                            {.gamma0 = 1, .sigma = 1, .eta = 0.5, .seed = 7});
//   net.forward(x, ws);   // see ad/chain.hpp for the workspace
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "specdyn/ad/chain.hpp"
#include "specdyn/dsl.hpp"
#include "specdyn/dsl/rule_map.hpp"
#include "specdyn/errors.hpp"
#include "specdyn/data/rng.hpp"

namespace specdyn {

using matrix = xt::xtensor<double, 2>;

/// Runtime sizes: input dimension D, width N, outputs C.
struct shape {
  std::size_t D = 0, N = 0, C = 1;
};

/// Runtime hyper-parameters: output scale γ0, initial weight std σ, learning rate η in
/// function-space units (docs/conventions.md §1) and the seed of the initial weights.
struct hyper {
  double gamma0 = 1.0, sigma = 1.0, eta = 0.5;
  std::uint64_t seed = 0;
};

template <class Decl>
class model {
 public:
  static constexpr std::size_t L = Decl::hidden_layers;
  using decl_type = Decl;
  using workspace_type = ad::workspace<Decl>;

  model(rule_info rule, shape s, hyper h) : rule_(std::move(rule)), shape_(s), hyper_(h) {
    require(s.D >= 1, "D (input dimension)", s.D, "use a positive integer");
    require(s.N >= 1, "N (width)", s.N, "use a positive integer");
    require(s.C >= 1, "C (outputs)", s.C, "use a positive integer");
    require(h.gamma0 > 0 && std::isfinite(h.gamma0), "gamma0", h.gamma0, "use a positive finite number");
    require(h.sigma > 0 && std::isfinite(h.sigma), "sigma", h.sigma, "use a positive finite number");
    require(h.eta > 0 && std::isfinite(h.eta), "eta (learning rate)", h.eta, "use a positive finite number");
    const auto& e = rule_.table;
    const double n = double(s.N);
    auto pw = [n](dsl::rational r) { return std::pow(n, -r.value()); };  // N^{-r}
    for (std::size_t i = 0; i <= L; ++i) {
      const bool first = i == 0, last = i == L;
      const dsl::rational a = first ? e.a_input : last ? e.a_readout : e.a_hidden;
      const dsl::rational b = first ? e.b_input : last ? e.b_readout : e.b_hidden;
      params_.scale[i] = pw(a) * (first ? 1.0 / std::sqrt(double(s.D)) : 1.0) * (last ? 1.0 / h.gamma0 : 1.0);
      lr_[i] = h.eta * h.gamma0 * h.gamma0 * pw(e.c);
      const std::size_t rows = last ? s.C : s.N, cols = first ? s.D : s.N;
      params_.w[i] = matrix({rows, cols});
      rng gen(h.seed, rng::stream::weights, i);
      const double std_dev = h.sigma * pw(b);
      init_std_[i] = std_dev;
      for (auto& x : params_.w[i]) x = std_dev * gen.normal();
    }
  }

  [[nodiscard]] const rule_info& rule() const { return rule_; }
  [[nodiscard]] const shape& sizes() const { return shape_; }
  [[nodiscard]] const hyper& hyper_params() const { return hyper_; }
  [[nodiscard]] ad::parameters<L>& params() { return params_; }
  [[nodiscard]] const ad::parameters<L>& params() const { return params_; }
  /// Raw learning rate of weight matrix i (η γ0² N^{-c} for every built-in rule).
  [[nodiscard]] const std::array<double, L + 1>& learning_rates() const { return lr_; }
  /// Effective weight W_eff^i = scale_i w^i, so that pre_i = W_eff^i · input_i.
  [[nodiscard]] double scale(std::size_t i) const { return params_.scale[i]; }
  /// Standard deviation of the raw initial entries of w^i (σ N^{-b_i}).
  [[nodiscard]] double init_std(std::size_t i) const { return init_std_[i]; }
  /// Standard deviation of the entries of W_eff^i at initialisation.
  [[nodiscard]] double effective_std(std::size_t i) const { return params_.scale[i] * init_std_[i]; }
  /// The richness γ0_eff of the μP-form network with the same forward pass: the readout of
  /// docs/conventions.md §1 has entries σ/(γ0 N), so γ0_eff = σ/(N · std(W_eff^L)). μP and MF give γ0,
  /// NTK gives γ0/√N.
  [[nodiscard]] double effective_gamma0() const {
    return hyper_.sigma / (double(shape_.N) * effective_std(L));
  }

  [[nodiscard]] workspace_type make_workspace(std::size_t cols) const { return {shape_.N, shape_.C, cols}; }
  void forward(const matrix& x, workspace_type& ws) const { ad::forward(params_, x, ws); }
  template <class Sink>
  void reverse(const matrix& x, workspace_type& ws, const Sink& sink) const { ad::reverse(params_, x, ws, sink); }
  /// One GD update in place from the adjoints in ws.adj_out (forward must have run on x).
  void reverse_update(const matrix& x, workspace_type& ws) {
    ad::reverse(params_, x, ws, ad::update_sink<L>{&params_.w, &lr_});
  }

  /// Name of weight matrix i as used in records and error messages: W0 (input), W1.., readout.
  static std::string layer_name(std::size_t i) { return i == L ? "readout" : "W" + std::to_string(i); }

 private:
  rule_info rule_;
  shape shape_;
  hyper hyper_;
  ad::parameters<L> params_;
  std::array<double, L + 1> lr_{};
  std::array<double, L + 1> init_std_{};
};

template <dsl::scaling_rule_type Rule, class Decl>
rule_info make_rule_info(Decl, Rule) {
  return {std::string(Rule::name), Rule::table, dsl::classify(Rule::table, Decl::hidden_layers)};
}

/// Binds a declaration to a scaling rule and runtime sizes.
template <dsl::network_type Decl, dsl::scaling_rule_type Rule>
model<Decl> bind(Decl decl, Rule rule, shape s, hyper h) {
  return model<Decl>(make_rule_info(decl, rule), s, h);
}
/// Binds with a runtime rule (e.g. chosen on the command line).
template <dsl::network_type Decl>
model<Decl> bind(Decl, rule_info rule, shape s, hyper h) {
  return model<Decl>(std::move(rule), s, h);
}

}  // namespace specdyn
