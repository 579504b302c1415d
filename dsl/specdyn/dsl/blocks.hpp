// The blocks of the declaration language. A network is a sequence of blocks; a block is a layer
// (a dense layer with optional bias, width multiplier and activation; an activation on its own;
// a layer norm) or a composition (residual(body…): h ← h + m_L · body(h); repeat<K>(block…): K
// copies in sequence). Blocks are empty types: everything about them is compile-time, widths and
// depths of repeat<any_depth> are runtime values.
//   dense | tanh                 a dense layer to width N, then tanh
//   dense_w<2> | bias | relu     to width 2N, with a bias, then ReLU (dense_w<1, 2>: width N/2)
//   residual(relu, dense)        h ← h + m_L W φ(h)/√N   (a depth-μP block)
//   residual(layernorm, dense_w<4> | relu, dense)        a pre-LN MLP block
//   repeat<16>(residual(relu, dense))                    16 blocks; repeat<any_depth>: --depth at run time
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <ratio>
#include <string>
#include <string_view>
#include <type_traits>

#include "specdyn/dsl/activations.hpp"

namespace specdyn::dsl {

template <class... Bs>
std::string describe_blocks();
namespace detail {
template <class In, class... Bs> struct width_after;
template <class In, class... Bs> struct widths_ok;
}  // namespace detail

/// The data source: x ∈ R^D. Its weights belong to the first dense layer.
struct input_t { static constexpr std::string_view kind = "input"; };
/// The linear readout to C outputs, from the last stream's width.
struct readout_t { static constexpr std::string_view kind = "readout"; };

/// A fully connected layer to width (Num/Den)·N, with an optional bias added before the activation.
/// HasAct: an activation was given with `|` (a bare `dense` is linear and can still take one).
template <class Act, std::intmax_t Num, std::intmax_t Den, bool Bias, bool HasAct>
struct dense_layer {
  static_assert(Den != 0, "specdyn: a width multiplier dense_w<Num, Den> needs Den ≠ 0");
  static_assert(Num > 0 && Den > 0, "specdyn: a width multiplier must be positive: dense_w<Num, Den> with Num, Den ≥ 1");
  using activation_type = Act;
  using width = std::ratio<Num, Den>;
  static constexpr bool has_bias = Bias;
  static constexpr bool has_activation = HasAct;
  static constexpr std::string_view kind = "dense";
};

/// An activation used as a block of its own (e.g. the φ in residual(relu, dense)).
template <class Act>
struct activation_block {
  using activation_type = Act;
  static constexpr std::string_view kind = "activation";
};

/// Layer normalisation over the width (no mean/variance parameters); Gain: a learnable gain per
/// neuron, initialised to 1 and trained like a bias (input-like μP scaling).
template <bool Gain>
struct layernorm_block {
  static constexpr bool has_gain = Gain;
  static constexpr std::string_view kind = "layernorm";
};

/// h ← h + m_L · body(h), m_L = β L^{−α_L} from the scaling rule (L: residual blocks of the network).
template <class... Body>
struct residual_block {
  static constexpr std::string_view kind = "residual";
  static std::string describe() { return "residual(" + describe_blocks<Body...>() + ")"; }
  /// The body must end at the width it starts from (the stream's), and so must nested bodies.
  template <class In>
  static constexpr bool body_widths_ok = std::ratio_equal_v<typename detail::width_after<In, Body...>::type, In> &&
                                         detail::widths_ok<In, Body...>::value;
};

/// Marker for a repeat count given at run time (`--depth`): a depth-generic declaration.
inline constexpr std::size_t any_depth = std::numeric_limits<std::size_t>::max();

/// K copies of the body in sequence (K = any_depth: the count is a runtime value).
template <std::size_t K, class... Body>
struct repeat_block {
  static constexpr std::size_t count = K;
  static constexpr std::string_view kind = "repeat";
  static std::string describe() {
    return "repeat<" + (K == any_depth ? std::string("depth") : std::to_string(K)) + ">(" + describe_blocks<Body...>() + ")";
  }
  /// Copies follow each other, so the body must also end at the width it starts from.
  template <class In>
  static constexpr bool body_widths_ok = std::ratio_equal_v<typename detail::width_after<In, Body...>::type, In> &&
                                         detail::widths_ok<In, Body...>::value;
};

struct bias_t { static constexpr std::string_view kind = "bias"; };
struct gain_t { static constexpr std::string_view kind = "gain"; };

inline constexpr input_t input{};
inline constexpr readout_t readout{};
inline constexpr dense_layer<linear_t, 1, 1, false, false> dense{};
inline constexpr dense_layer<linear_t, 1, 1, true, false> dense_b{};
/// A dense layer to width (Num/Den)·N. (C++ cannot let `dense` be both a value and a template, so the
/// width multiplier is spelt dense_w<2> rather than dense<2>.)
template <std::intmax_t Num, std::intmax_t Den = 1>
inline constexpr dense_layer<linear_t, Num, Den, false, false> dense_w{};
inline constexpr bias_t bias{};
inline constexpr gain_t gain{};
inline constexpr layernorm_block<false> layernorm{};

template <class T> inline constexpr bool is_dense = false;
template <class A, std::intmax_t N, std::intmax_t D, bool B, bool H>
inline constexpr bool is_dense<dense_layer<A, N, D, B, H>> = true;
template <class T> inline constexpr bool is_activation_block = false;
template <class A> inline constexpr bool is_activation_block<activation_block<A>> = true;
template <class T> inline constexpr bool is_layernorm = false;
template <bool G> inline constexpr bool is_layernorm<layernorm_block<G>> = true;
template <class T> inline constexpr bool is_residual = false;
template <class... B> inline constexpr bool is_residual<residual_block<B...>> = true;
template <class T> inline constexpr bool is_repeat = false;
template <std::size_t K, class... B> inline constexpr bool is_repeat<repeat_block<K, B...>> = true;

/// dense | activation, dense | bias
template <class A, std::intmax_t N, std::intmax_t D, bool B, bool H, class X>
constexpr auto operator|(dense_layer<A, N, D, B, H>, X) {
  if constexpr (std::is_same_v<X, bias_t>) {
    static_assert(!H, "specdyn: put the bias before the activation: dense | bias | relu");
    static_assert(!B, "specdyn: this dense layer already has a bias");
    return dense_layer<A, N, D, true, false>{};
  } else {
    static_assert(!H, "specdyn: a dense layer takes one activation; write a further activation as a block of its own");
    static_assert(activation<X>,
                  "specdyn: unknown activation after `dense |`; use linear, relu, tanh, erf, softplus, "
                  "or a struct with name, phi, dphi and d2phi");
    if constexpr (activation<X>) return dense_layer<X, N, D, B, true>{};
    else return dense_layer<A, N, D, B, H>{};
  }
}
/// layernorm | gain
constexpr auto operator|(layernorm_block<false>, gain_t) { return layernorm_block<true>{}; }

namespace detail {
/// An activation passed as a block becomes an activation_block; blocks stay as they are.
template <class X>
constexpr auto as_block(X) {
  if constexpr (activation<X>) return activation_block<X>{};
  else return X{};
}
template <class X>
using block_of = decltype(as_block(X{}));

template <class T>
inline constexpr bool is_block = is_dense<T> || is_activation_block<T> || is_layernorm<T> || is_residual<T> || is_repeat<T>;
template <class T>
inline constexpr bool is_end = std::is_same_v<T, input_t> || std::is_same_v<T, readout_t>;

/// Counts over a block tree (repeat<K> counts its body K times; repeat<any_depth> once, scaled at run time).
template <class B> struct count;
template <class... Bs>
struct count_list {
  static constexpr std::size_t dense = (std::size_t{0} + ... + count<Bs>::dense);
  static constexpr std::size_t residuals = (std::size_t{0} + ... + count<Bs>::residuals);
  static constexpr std::size_t dynamic = (std::size_t{0} + ... + count<Bs>::dynamic);
};
template <class B>
struct count {
  static constexpr std::size_t dense = is_dense<B> ? 1 : 0;
  static constexpr std::size_t residuals = 0;
  static constexpr std::size_t dynamic = 0;  // repeats with a runtime count
};
template <class... Body>
struct count<residual_block<Body...>> {
  static constexpr std::size_t dense = count_list<Body...>::dense;
  static constexpr std::size_t residuals = 1 + count_list<Body...>::residuals;
  static constexpr std::size_t dynamic = count_list<Body...>::dynamic;
};
template <std::size_t K, class... Body>
struct count<repeat_block<K, Body...>> {
  static constexpr std::size_t k = K == any_depth ? 1 : K;
  static constexpr std::size_t dense = k * count_list<Body...>::dense;
  static constexpr std::size_t residuals = k * count_list<Body...>::residuals;
  static constexpr std::size_t dynamic = (K == any_depth ? 1 : 0) + count_list<Body...>::dynamic;
};

/// The width multiplier (as a ratio) after a block sequence that starts at width In.
template <class In>
struct width_after<In> { using type = In; };
template <class In, class B, class... Rest>
struct width_after<In, B, Rest...> {
  template <class X, bool Dense = is_dense<X>> struct pick { using type = In; };  // compositions keep the stream's width
  template <class X> struct pick<X, true> { using type = typename X::width; };
  using next = typename pick<B>::type;
  using type = typename width_after<next, Rest...>::type;
};

/// Whether a block tree contains a dense layer / a repeat with a runtime count.
template <class... Bs>
inline constexpr bool has_dense = count_list<Bs...>::dense > 0;
template <class... Bs>
inline constexpr bool has_dynamic = count_list<Bs...>::dynamic > 0;

/// Checks that every residual body returns to the width it started from.
template <class In>
struct widths_ok<In> { static constexpr bool value = true; };
template <class In, class B, class... Rest>
struct widths_ok<In, B, Rest...> {
  static constexpr bool inner = [] {
    if constexpr (is_residual<B> || is_repeat<B>) return B::template body_widths_ok<In>;
    else return true;
  }();
  static constexpr bool value = inner && widths_ok<typename width_after<In, B>::type, Rest...>::value;
};
}  // namespace detail

/// residual(body…): the body's blocks in order, added to the stream with the rule's branch multiplier.
template <class... Body>
constexpr auto residual(Body...) {
  static_assert(sizeof...(Body) >= 1, "specdyn: residual() needs a body: residual(relu, dense)");
  static_assert(((!detail::is_end<Body>) && ...), "specdyn: input and readout cannot be inside residual(…) or repeat<K>(…)");
  static_assert((detail::is_block<detail::block_of<Body>> && ...),
                "specdyn: residual() takes blocks: dense…, activations, layernorm, residual(…), repeat<K>(…)");
  static_assert(detail::has_dense<detail::block_of<Body>...>, "specdyn: a residual body needs a dense layer (it adds W·… to the stream)");
  return residual_block<detail::block_of<Body>...>{};
}

namespace detail {
template <std::size_t K>
struct repeat_fn {
  template <class... Body>
  constexpr auto operator()(Body...) const {
    static_assert(K >= 1, "specdyn: repeat<0> repeats nothing; use a count of at least 1 (or repeat<any_depth> for --depth)");
    static_assert(sizeof...(Body) >= 1, "specdyn: repeat<K>() needs blocks to repeat: repeat<8>(residual(relu, dense))");
    static_assert(((!is_end<Body>) && ...), "specdyn: input and readout cannot be inside residual(…) or repeat<K>(…)");
    static_assert((is_block<block_of<Body>> && ...),
                  "specdyn: repeat<K>() takes blocks: dense…, activations, layernorm, residual(…), repeat<K>(…)");
    return repeat_block<K, block_of<Body>...>{};
  }
};
}  // namespace detail
/// repeat<K>(blocks…): K copies of the blocks in sequence, each with its own weights.
template <std::size_t K>
inline constexpr detail::repeat_fn<K> repeat{};

/// One line describing a block tree: "repeat<4>(residual(relu → dense)) → relu".
template <class B>
std::string describe_block();
template <class... Bs>
std::string describe_blocks() {
  std::string out;
  ((out += (out.empty() ? "" : " → ") + describe_block<Bs>()), ...);
  return out;
}
template <class B>
std::string describe_block() {
  if constexpr (is_dense<B>) {
    std::string s = "dense";
    using W = typename B::width;
    if (W::num != 1 || W::den != 1) s += "<" + std::to_string(W::num) + (W::den != 1 ? "/" + std::to_string(W::den) : "") + ">";
    if (B::has_bias) s += "+b";
    if (B::has_activation) s += "|" + std::string(B::activation_type::name);
    return s;
  } else if constexpr (is_activation_block<B>) {
    return std::string(B::activation_type::name);
  } else if constexpr (is_layernorm<B>) {
    return B::has_gain ? "layernorm|gain" : "layernorm";
  } else {
    return B::describe();
  }
}

}  // namespace specdyn::dsl

