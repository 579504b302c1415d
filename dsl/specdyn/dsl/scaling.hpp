// Scaling rules as abc-parameterizations (Yang & Hu, Tensor Programs IV; docs/conventions.md §2).
// A rule is a constexpr table of exponents per layer kind (input, hidden, readout) plus the
// learning-rate exponent c. Layer ℓ of kind k computes with W_eff = N^{-a_k} w, draws
// w ~ N(0, σ² N^{-2 b_k}) and trains with raw learning rate η γ0² N^{-c}; the readout further
// divides by γ0 and the input layer by √D. The verdict (stable / feature learning / kernel /
// trivial / unstable) is a constexpr function of the table and the number of hidden layers.
//   using my_rule = specdyn::dsl::scaling_rule<"my_mup", specdyn::dsl::exponents{
//       .a_input = 0, .a_hidden = {1, 2}, .a_readout = 1, .c = -1}>;
//   static_assert(specdyn::dsl::classify(my_rule::table, 2) == specdyn::dsl::verdict::feature_learning);
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

#include "specdyn/dsl/rational.hpp"

namespace specdyn::dsl {

/// Exponents of one abc-parameterization. Structural, so it can be a template argument.
/// Biases and layer-norm gains are per-neuron weights on a constant input (TP5 treats them like the
/// input layer): their forward multiplier is N^{-a_bias}, their initial entries N(0, σ_b² N^{-2 b_bias})
/// (gains start at 1). Residual branches are multiplied by m_L = β L^{-alpha_depth} (L: residual blocks)
/// and the weights inside them train at L^{-c_depth} times the rate of the rest.
struct exponents {
  rational a_input{0}, a_hidden{0}, a_readout{0};
  rational b_input{0}, b_hidden{0}, b_readout{0};
  rational c{0};
  rational a_bias{0}, b_bias{0};
  rational alpha_depth{0}, c_depth{0};
  // Entrywise optimizers (Adam, sign descent): the exponents g of each kind's gradient entries,
  // |∂L/∂w| ∝ n^{-g}. Left unset (entrywise_given = false) they are derived from the table by
  // gradient_exponents() below; a rule may set them (sp does: g = 0, one rate for every tensor).
  rational g_input{0}, g_hidden{0}, g_readout{0}, g_bias{0};
  bool entrywise_given = false;
  friend constexpr bool operator==(const exponents&, const exponents&) = default;
};

/// The width exponents g of the gradient entries at initialisation, |∂L/∂w_k| ∝ n^{-g_k}
/// (docs/optimizers.md §1). The loss's adjoint at the outputs is O(1); through the readout
/// (entries n^{-(a_{L+1}+b_{L+1})}) every pre-activation's adjoint is n^{-(a_{L+1}+b_{L+1})} (the
/// hidden Jacobians are O(1) because a_ℓ + b_ℓ = 1/2); a weight's entry multiplies that by its own
/// multiplier n^{-a_k} and an O(1) input:
///   g_readout = a_{L+1},  g_k = a_k + a_{L+1} + b_{L+1} (input, hidden, biases and gains).
/// An entrywise optimizer normalises the gradient away, so its rate must carry this scale back:
/// Adam on parameter k runs at (SGD rate) × n^{-g_k} with ε × n^{-g_k}, which moves every layer by
/// the same order as the rule's SGD step (for μP: Tensor Programs V's Adam table).
struct gradient_scale_exponents {
  rational input, hidden, readout, bias;
};
constexpr gradient_scale_exponents gradient_exponents(const exponents& e) {
  if (e.entrywise_given) return {e.g_input, e.g_hidden, e.g_readout, e.g_bias};
  const rational back = e.a_readout + e.b_readout;
  return {e.a_input + back, e.a_hidden + back, e.a_readout, e.a_bias + back};
}

/// String literal usable as a template argument (the rule's name travels with its type).
template <std::size_t Size>
struct fixed_string {
  char text[Size]{};
  constexpr fixed_string(const char (&s)[Size]) { std::copy_n(s, Size, text); }
  [[nodiscard]] constexpr std::string_view view() const { return {text, Size - 1}; }
};

enum class verdict { unstable, trivial, kernel, feature_learning };

constexpr std::string_view to_string(verdict v) {
  switch (v) {
    case verdict::unstable: return "unstable";
    case verdict::trivial: return "trivial";
    case verdict::kernel: return "kernel";
    case verdict::feature_learning: return "feature_learning";
  }
  return "?";
}

/// TP4's r exponent for a network with `hidden_layers` = L dense layers (docs/conventions.md §2):
/// r = min(a_{L+1}+b_{L+1}, 2a_{L+1}+c) + c − 1 + min_{ℓ=1..L}[2a_ℓ + 𝟙(ℓ=1)].
constexpr rational r_exponent(const exponents& e, std::size_t hidden_layers) {
  rational inner = rational{2} * e.a_input + rational{1};
  if (hidden_layers >= 2) inner = min(inner, rational{2} * e.a_hidden);
  return min(e.a_readout + e.b_readout, rational{2} * e.a_readout + e.c) + e.c - rational{1} + inner;
}

/// TP4 Theorems 3.3 and 3.4. Stability needs Θ(1) pre-activations at initialisation
/// (a_1+b_1 = 0, a_ℓ+b_ℓ = 1/2, a_{L+1}+b_{L+1} ≥ 1/2), features that do not blow up (r ≥ 0)
/// and logits that do not blow up (2a_{L+1}+c ≥ 1, a_{L+1}+b_{L+1}+r ≥ 1). A common summary
/// leaves out the logit conditions; without them SP at c = 0 with one hidden layer would pass.
/// Among stable rules: feature learning iff r = 0; kernel iff r > 0 and the function still moves,
/// through the features (a_{L+1}+b_{L+1}+r = 1) or the readout's own update (2a_{L+1}+c = 1);
/// otherwise trivial. (The readout clause is TP4's; without it two-layer SP at c = 1 would be
/// called trivial although its readout update moves f by O(1).)
constexpr verdict classify(const exponents& e, std::size_t hidden_layers) {
  const rational half{1, 2};
  const rational r = r_exponent(e, hidden_layers);
  const bool init_ok = e.a_input + e.b_input == rational{0} &&
                       (hidden_layers < 2 || e.a_hidden + e.b_hidden == half) &&
                       e.a_readout + e.b_readout >= half;
  const bool stable = init_ok && r >= rational{0} && rational{2} * e.a_readout + e.c >= rational{1} &&
                      e.a_readout + e.b_readout + r >= rational{1};
  if (!stable) return verdict::unstable;
  if (r == rational{0}) return verdict::feature_learning;
  if (e.a_readout + e.b_readout + r == rational{1} || rational{2} * e.a_readout + e.c == rational{1})
    return verdict::kernel;
  return verdict::trivial;
}

/// The verdict as depth L → ∞ for residual networks (Bordelon et al. 2309.16620; TP VI). At
/// initialisation the L branches add variance L · m_L² ∝ L^{1−2α}; in training each block's weights
/// move the stream by m_L² · rate ∝ L^{−2α−c_depth}, L of them in sum: L^{1−2α−c_depth}. Stable iff
/// neither grows; feature learning in depth iff the blocks' total update stays O(1) (α = 1/2 with a
/// depth-independent rate: depth-μP; α = 1 with the rate ∝ L: the ODE scaling); otherwise the blocks
/// freeze as L grows (trivial in depth).
constexpr verdict classify_depth(const exponents& e) {
  const rational one{1}, two{2};
  const rational init = one - two * e.alpha_depth, learn = init - e.c_depth;
  if (init > rational{0} || learn > rational{0}) return verdict::unstable;
  if (learn == rational{0}) return verdict::feature_learning;
  return verdict::trivial;
}

/// A scaling rule is a type carrying its name and exponent table.
template <fixed_string Name, exponents Table>
struct scaling_rule {
  static constexpr std::string_view name = Name.view();
  static constexpr exponents table = Table;
  template <std::size_t HiddenLayers>
  static constexpr verdict verdict_for = classify(Table, HiddenLayers);
  static constexpr verdict depth_verdict = classify_depth(Table);
};

template <class T>
concept scaling_rule_type = requires {
  { T::name } -> std::convertible_to<std::string_view>;
  { T::table } -> std::convertible_to<exponents>;
};

namespace rules {
inline constexpr rational half{1, 2};
/// μP in docs/conventions.md §1 form: readout 1/(γ0 N), raw learning rate η γ0² N.
inline constexpr exponents mup_table{.a_input = 0, .a_hidden = half, .a_readout = 1, .c = -1};
/// μP as tabulated in TP4 (related to mup_table by the abc symmetry with θ = −1/2).
inline constexpr exponents mup_tp4_table{.a_input = -half, .a_hidden = 0, .a_readout = half,
                                          .b_input = half, .b_hidden = half, .b_readout = half, .c = 0,
                                          .a_bias = -half, .b_bias = half};
/// Depth-μP: μP's width exponents and branches multiplied by L^{-1/2} at a depth-independent rate.
inline constexpr exponents depth_mup_table{.a_input = 0, .a_hidden = half, .a_readout = 1, .c = -1, .alpha_depth = half};
/// NTK parameterization: readout 1/(γ0 √N), raw learning rate η γ0².
inline constexpr exponents ntk_table{.a_input = 0, .a_hidden = half, .a_readout = half, .c = 0};
/// Standard parameterization with a width-independent learning rate (unstable as N → ∞). With Adam
/// or sign descent: one rate and one ε for every tensor, as PyTorch's defaults (g = 0).
inline constexpr exponents sp_table{.b_hidden = half, .b_readout = half, .c = 0, .entrywise_given = true};
/// Standard parameterization with learning rate η/N (kernel regime); entrywise optimizers at η/N for every tensor.
inline constexpr exponents sp_lr_table{.b_hidden = half, .b_readout = half, .c = 1, .entrywise_given = true};
}  // namespace rules

using mup_t = scaling_rule<"mup", rules::mup_table>;
using mup_tp4_t = scaling_rule<"mup_tp4", rules::mup_tp4_table>;
/// Mean-field parameterization: the same exponents as μP (§1.1 form), kept as its own name.
using mean_field_t = scaling_rule<"mf", rules::mup_table>;
using ntk_t = scaling_rule<"ntk", rules::ntk_table>;
using sp_t = scaling_rule<"sp", rules::sp_table>;
using sp_lr_t = scaling_rule<"sp_lr", rules::sp_lr_table>;
using depth_mup_t = scaling_rule<"depth_mup", rules::depth_mup_table>;

inline constexpr mup_t mup{};
inline constexpr mup_tp4_t mup_tp4{};
inline constexpr mean_field_t mean_field{};
inline constexpr ntk_t ntk{};
inline constexpr sp_t sp{};
inline constexpr sp_lr_t sp_lr{};
inline constexpr depth_mup_t depth_mup{};
}  // namespace specdyn::dsl
