// A declared network bound to a scaling rule and runtime sizes: its parameter tensors (weights,
// biases, layer-norm gains), their forward multipliers and learning rates, drawn and sized once.
// Widths and the depth of repeat<any_depth> are runtime values, so a width or depth sweep reuses
// one compiled model type.
//   auto net = specdyn::bind(models::mlp3_tanh, dsl::mup, {.D = 64, .N = 1024, .C = 1},
//                            {.gamma0 = 1, .sigma = 1, .eta = 0.5, .seed = 7});
//   auto ws = net.make_workspace(P);
//   net.forward(x, ws);   // ws.out: [C, P]
// Conventions (docs/conventions.md): parameter i computes with scale_i · w_i, scale_i = n_i^{-a}
// (÷√D for the input layer, ÷γ0 for the readout), w_i(0) ~ N(0, σ² n_i^{-2b}), and trains at the raw
// rate η γ0² n_i^{-c} (× L^{-c_depth} inside residual branches), where n_i is the layer's own width:
// its fan-in for hidden and readout weights, its fan-out for the input weight and its size for biases
// and gains. For a chain every n_i is N. Residual branches are multiplied by m_L = β L^{-α_L}.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "specdyn/ad/program.hpp"
#include "specdyn/dsl.hpp"
#include "specdyn/dsl/rule_map.hpp"
#include "specdyn/errors.hpp"
#include "specdyn/data/rng.hpp"

namespace specdyn {

using matrix = xt::xtensor<double, 2>;

/// Runtime sizes: input dimension D, width N, outputs C, and the repeat count of repeat<any_depth>
/// (0: the declaration's default, 1 copy; only depth-generic declarations read it).
struct shape {
  std::size_t D = 0, N = 0, C = 1, depth = 0;
};

/// Runtime hyper-parameters: output scale γ0, initial weight std σ, learning rate η in
/// function-space units (docs/conventions.md §1), the seed of the initial weights, the initial
/// std of biases, and the branch multiplier's prefactor β (m_L = β L^{-α_L}).
struct hyper {
  double gamma0 = 1.0, sigma = 1.0, eta = 0.5;
  std::uint64_t seed = 0;
  double sigma_bias = 1.0, branch = 1.0;
};

template <class Decl>
class model {
 public:
  using decl_type = Decl;
  using program_type = ad::program<Decl>;
  using workspace_type = ad::workspace<Decl>;
  using tangent_workspace_type = ad::tangent_workspace<Decl>;
  /// Chains: the number of dense layers L (parameters W0 … W(L−1), readout).
  static constexpr std::size_t L = Decl::hidden_layers;

  model(rule_info rule, shape s, hyper h) : rule_(std::move(rule)), shape_(s), hyper_(h) {
    require(s.D >= 1, "D (input dimension)", s.D, "use a positive integer");
    require(s.N >= 1, "N (width)", s.N, "use a positive integer");
    require(s.C >= 1, "C (outputs)", s.C, "use a positive integer");
    require(h.gamma0 > 0 && std::isfinite(h.gamma0), "gamma0", h.gamma0, "use a positive finite number");
    require(h.sigma > 0 && std::isfinite(h.sigma), "sigma", h.sigma, "use a positive finite number");
    require(h.eta > 0 && std::isfinite(h.eta), "eta (learning rate)", h.eta, "use a positive finite number");
    require(h.sigma_bias >= 0 && std::isfinite(h.sigma_bias), "sigma_bias", h.sigma_bias, "use a non-negative finite number");
    require(h.branch > 0 && std::isfinite(h.branch), "branch multiplier beta", h.branch, "use a positive finite number");
    if constexpr (Decl::depth_generic) require(s.depth >= 1, "depth", s.depth, "a depth-generic declaration needs --depth ≥ 1");
    dims_ = {s.D, s.N, s.C, Decl::depth_generic ? s.depth : 1};
    check_widths();
    info_ = program_type::info(dims_);
    blocks_ = program_type::residual_blocks(dims_);
    const auto& e = rule_.table;
    const double depth_factor = blocks_ > 0 ? double(blocks_) : 1.0;
    params_.branch = h.branch * std::pow(depth_factor, -e.alpha_depth.value());
    const std::size_t np = info_.size();
    params_.w.resize(np);
    params_.scale.resize(np);
    lr_.resize(np);
    init_std_.resize(np);
    grad_scale_.resize(np);
    const dsl::gradient_scale_exponents g = dsl::gradient_exponents(e);
    for (std::size_t i = 0; i < np; ++i) {
      const ad::param_info& pi = info_[i];
      const double n = double(own_width(pi));
      auto pw = [n](dsl::rational r) { return std::pow(n, -r.value()); };  // n^{-r}
      const bool vec = pi.kind == ad::param_kind::bias || pi.kind == ad::param_kind::gain;
      const dsl::rational a = pi.kind == ad::param_kind::input ? e.a_input : pi.kind == ad::param_kind::readout ? e.a_readout
                              : vec ? e.a_bias : e.a_hidden;
      const dsl::rational b = pi.kind == ad::param_kind::input ? e.b_input : pi.kind == ad::param_kind::readout ? e.b_readout
                              : vec ? e.b_bias : e.b_hidden;
      params_.scale[i] = pw(a) * (pi.kind == ad::param_kind::input ? 1.0 / std::sqrt(double(s.D)) : 1.0) *
                         (pi.kind == ad::param_kind::readout ? 1.0 / h.gamma0 : 1.0);
      lr_[i] = h.eta * h.gamma0 * h.gamma0 * pw(e.c) * (pi.in_branch ? std::pow(depth_factor, -e.c_depth.value()) : 1.0);
      // the gradient entries' scale (docs/optimizers.md §1): n^{-g}/γ0, ÷√D for the input layer and
      // × m_L inside residual branches; 1 for rules that give g = 0 (one rate for every tensor)
      const dsl::rational gi = pi.kind == ad::param_kind::input ? g.input : pi.kind == ad::param_kind::readout ? g.readout
                               : vec ? g.bias : g.hidden;
      grad_scale_[i] = e.entrywise_given && gi == dsl::rational{0} ? 1.0
                       : pw(gi) / h.gamma0 * (pi.kind == ad::param_kind::input ? 1.0 / std::sqrt(double(s.D)) : 1.0) *
                             (pi.in_branch ? params_.branch : 1.0);
      params_.w[i] = matrix({pi.rows, pi.cols});
      if (pi.kind == ad::param_kind::gain) {  // effective gain 1 at initialisation
        init_std_[i] = 0;
        params_.w[i].fill(1.0 / params_.scale[i]);
        continue;
      }
      rng gen(h.seed, rng::stream::weights, i);
      const double std_dev = (pi.kind == ad::param_kind::bias ? h.sigma_bias : h.sigma) * pw(b);
      init_std_[i] = std_dev;
      for (auto& x : params_.w[i]) x = std_dev * gen.normal();
    }
  }

  [[nodiscard]] const rule_info& rule() const { return rule_; }
  [[nodiscard]] const shape& sizes() const { return shape_; }
  [[nodiscard]] const ad::dims& dimensions() const { return dims_; }
  [[nodiscard]] const hyper& hyper_params() const { return hyper_; }
  [[nodiscard]] ad::parameters& params() { return params_; }
  [[nodiscard]] const ad::parameters& params() const { return params_; }
  /// Every parameter tensor, in forward order: kind, name, shape, where it sits.
  [[nodiscard]] const std::vector<ad::param_info>& parameter_info() const { return info_; }
  [[nodiscard]] std::size_t parameter_count() const { return info_.size(); }
  /// Residual blocks L of this network (m_L = β L^{-α_L}); 0 for networks without residual blocks.
  [[nodiscard]] std::size_t residual_blocks() const { return blocks_; }
  /// The residual branch multiplier m_L.
  [[nodiscard]] double branch_multiplier() const { return params_.branch; }
  /// Raw learning rate of parameter i.
  [[nodiscard]] const std::vector<double>& learning_rates() const { return lr_; }
  /// The scale of parameter i's gradient entries at initialisation, n_i^{-g_i}/γ0 (÷√D, × m_L in
  /// branches): an entrywise optimizer (Adam, sign descent) steps at learning_rates()[i] × this,
  /// with ε × this (docs/optimizers.md §1).
  [[nodiscard]] const std::vector<double>& gradient_scales() const { return grad_scale_; }
  /// Effective tensor scale_i w_i, so that pre = W_eff · input.
  [[nodiscard]] double scale(std::size_t i) const { return params_.scale[i]; }
  /// Standard deviation of the raw initial entries of w_i (σ n_i^{-b_i}; 0 for gains).
  [[nodiscard]] double init_std(std::size_t i) const { return init_std_[i]; }
  /// Standard deviation of the entries of W_eff_i at initialisation.
  [[nodiscard]] double effective_std(std::size_t i) const { return params_.scale[i] * init_std_[i]; }
  /// The index of the readout weight (the last parameter).
  [[nodiscard]] std::size_t readout_index() const { return info_.size() - 1; }
  /// The richness γ0_eff of the μP-form network with the same forward pass: the readout of
  /// docs/conventions.md §1 has entries σ/(γ0 N), so γ0_eff = σ/(N · std(W_eff^L)). μP and MF give γ0,
  /// NTK gives γ0/√N.
  [[nodiscard]] double effective_gamma0() const {
    return hyper_.sigma / (double(shape_.N) * effective_std(readout_index()));
  }

  [[nodiscard]] workspace_type make_workspace(std::size_t cols) const { return program_type::make_workspace(dims_, cols); }
  [[nodiscard]] tangent_workspace_type make_tangent_workspace(std::size_t cols) const {
    return program_type::make_tangent_workspace(dims_, cols);
  }
  void forward(const matrix& x, workspace_type& ws) const { program_type::forward(params_, x, ws); }
  template <class Sink>
  void reverse(const matrix& x, workspace_type& ws, const Sink& sink) const {
    program_type::reverse(params_, x, ws, sink);
  }
  /// One GD update in place from the adjoints in ws.adj_out (forward must have run on x).
  void reverse_update(const matrix& x, workspace_type& ws) { program_type::reverse(params_, x, ws, ad::update_sink{&params_.w, &lr_}); }

  /// Name of parameter i as used in records and error messages: W0 (input), W1.., readout, b<k>, g<j>.
  [[nodiscard]] const std::string& parameter_name(std::size_t i) const { return info_[i].name; }
  /// Chains: the name of weight matrix i (W0, W1, …, readout).
  static std::string layer_name(std::size_t i) { return i == L ? "readout" : "W" + std::to_string(i); }

 private:
  /// The width n_i a parameter's exponents refer to.
  static std::size_t own_width(const ad::param_info& pi) {
    switch (pi.kind) {
      case ad::param_kind::input: return pi.rows;
      case ad::param_kind::hidden:
      case ad::param_kind::readout: return pi.cols;
      default: return pi.rows;
    }
  }
  /// Every width multiplier must give a whole number of neurons at this N.
  void check_widths() const {
    bool ok = true;
    std::string bad;
    auto visit = [&](auto self, auto tuple) -> void {
      boost::hana::for_each(tuple, [&](auto b) {
        using B = decltype(b);
        if constexpr (dsl::is_dense<B>) {
          using W = typename B::width;
          if ((shape_.N * std::size_t(W::num)) % std::size_t(W::den) != 0) {
            ok = false;
            bad = std::to_string(W::num) + "/" + std::to_string(W::den);
          }
        } else if constexpr (dsl::is_residual<B> || dsl::is_repeat<B>) {
          self(self, children(b));
        }
      });
    };
    visit(visit, typename Decl::blocks{});
    if (!ok)
      throw usage_error("--width = " + std::to_string(shape_.N) + ": the width multiplier " + bad +
                        " of this declaration needs a width that makes (multiplier · N) a whole number");
  }
  template <class... B>
  static constexpr auto children(dsl::residual_block<B...>) { return boost::hana::tuple<B...>{}; }
  template <std::size_t K, class... B>
  static constexpr auto children(dsl::repeat_block<K, B...>) { return boost::hana::tuple<B...>{}; }

  rule_info rule_;
  shape shape_;
  ad::dims dims_;
  hyper hyper_;
  std::vector<ad::param_info> info_;
  std::size_t blocks_ = 0;
  ad::parameters params_;
  std::vector<double> lr_, init_std_, grad_scale_;
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
