// The declaration language's network(): an input, a sequence of blocks (dsl/blocks.hpp) and a
// readout. The first block is a dense layer (it holds the input weights). Mistakes fail at compile
// time with one sentence starting "specdyn:".
// Declare inside a namespace nested in specdyn (as models/ does): there `using namespace dsl`
// makes dsl::tanh and dsl::erf hide C's ::tanh and ::erf; at global scope they would be ambiguous.
//   inline constexpr auto mlp3_tanh = network(input, dense | tanh, dense | tanh, readout);   // D → N → N → C
//   inline constexpr auto resnet = network(input, dense, repeat<16>(residual(relu, dense)), relu, readout);
//   static_assert(decltype(mlp3_tanh)::hidden_layers == 2 && decltype(mlp3_tanh)::is_chain);
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/hana.hpp>

#include "specdyn/dsl/activations.hpp"
#include "specdyn/dsl/blocks.hpp"

namespace specdyn::dsl {

namespace hana = boost::hana;

namespace detail {
/// A plain chain layer: dense to width N without a bias (the vocabulary before blocks existed).
template <class B>
inline constexpr bool is_chain_layer = [] {
  if constexpr (is_dense<B>) return !B::has_bias && std::ratio_equal_v<typename B::width, std::ratio<1>>;
  else return false;
}();
}  // namespace detail

/// A declared network: its blocks between input and readout. Depth, block kinds, activations and
/// width multipliers are in the type; widths, D, C and the count of repeat<any_depth> are not.
template <class... Blocks>
struct network_decl {
  /// A chain of dense layers (input, dense | φ, …, readout): the vocabulary every consumer has
  /// always handled; the theory of chains has its own solvers (dmft/particles.hpp, dmft/proportional.hpp).
  static constexpr bool is_chain = (detail::is_chain_layer<Blocks> && ...);
  /// Dense layers (a repeat<any_depth> body counted once). For a chain: L, the number of hidden fields h^1..h^L.
  static constexpr std::size_t hidden_layers = detail::count_list<Blocks...>::dense;
  /// Weight matrices of a chain: W^0 (input, N×D), W^1..W^{L-1} (hidden, N×N), W^L (readout, C×N).
  static constexpr std::size_t weight_layers = hidden_layers + 1;
  /// Residual blocks (L of the depth scaling), and how many more each unit of --depth adds.
  static constexpr std::size_t static_residuals = detail::count_list<Blocks...>::residuals;
  /// Whether a repeat<any_depth> sets the depth at run time.
  static constexpr bool depth_generic = detail::has_dynamic<Blocks...>;
  using blocks = hana::tuple<Blocks...>;
  /// The width multiplier of the last stream (the readout's fan-in / N).
  using readout_width = typename detail::width_after<std::ratio<1>, Blocks...>::type;

  /// The chain's dense layers in order (chains only): dense_types[ℓ-1] produces h^ℓ.
  static constexpr auto dense_types = hana::filter(hana::tuple_t<Blocks...>, [](auto t) {
    return hana::bool_c<is_dense<typename decltype(t)::type>>;
  });
  /// The activation of the I-th dense layer (0-based) of a chain, i.e. of h^{I+1}.
  template <std::size_t I>
  using activation = typename decltype(+dense_types[hana::size_c<I>])::type::activation_type;

  /// "input → dense|tanh → dense|tanh → readout"
  static std::string describe() {
    std::string out = "input";
    ((out += " → " + chain_name<Blocks>()), ...);
    return out + " → readout";
  }

 private:
  template <class B>
  static std::string chain_name() {
    // chains keep the names records have always carried ("dense|linear" for `dense | linear`)
    if constexpr (is_dense<B>) {
      if constexpr (detail::is_chain_layer<B> && B::has_activation) return "dense|" + std::string(B::activation_type::name);
      else return describe_block<B>();
    } else {
      return describe_block<B>();
    }
  }
};

namespace detail {
template <class... Ls>
constexpr std::size_t count_inputs = (std::size_t{0} + ... + (std::is_same_v<Ls, input_t> ? 1 : 0));
template <class... Ls>
constexpr std::size_t count_readouts = (std::size_t{0} + ... + (std::is_same_v<Ls, readout_t> ? 1 : 0));
template <class First, class... Rest>
constexpr bool first_is_input = std::is_same_v<First, input_t>;
template <class... Ls>
using last_of = typename decltype((std::type_identity<Ls>{}, ...))::type;
template <class... Ls>
constexpr bool last_is_readout = std::is_same_v<last_of<Ls...>, readout_t>;

/// The blocks strictly between input and readout, as a network_decl (input first, readout last).
template <class List, class... Ls> struct drop_last;
template <class... Acc, class Last>
struct drop_last<network_decl<Acc...>, Last> { using type = network_decl<Acc...>; };
template <class... Acc, class X, class Y, class... Ls>
struct drop_last<network_decl<Acc...>, X, Y, Ls...> { using type = typename drop_last<network_decl<Acc..., X>, Y, Ls...>::type; };
template <class... Ls> struct middle;
template <class First, class... Rest>
struct middle<First, Rest...> { using type = typename drop_last<network_decl<>, Rest...>::type; };
template <class... Ls>
using middle_of = typename middle<Ls...>::type;

template <class... Ls>
struct first_block { using type = void; };
template <class F, class... Ls>
struct first_block<F, Ls...> { using type = F; };
}  // namespace detail

/// The block-level checks of network(), on its blocks between input and readout.
template <class... Blocks>
constexpr auto check_blocks(network_decl<Blocks...> d) {
  using first = typename detail::first_block<Blocks...>::type;
  static_assert(sizeof...(Blocks) >= 1 && detail::has_dense<Blocks...>,
                "specdyn: a network needs at least one dense layer between input and readout");
  static_assert(!is_layernorm<first>,
                "specdyn: layernorm cannot act on the input x (its dimension D is fixed); put it after the first dense layer");
  static_assert(sizeof...(Blocks) == 0 || is_dense<first>,
                "specdyn: the first block after the input must be a dense layer (it holds the input weights): network(input, dense | tanh, …)");
  if constexpr (sizeof...(Blocks) >= 1 && is_dense<first>) {
    static_assert(detail::widths_ok<std::ratio<1>, Blocks...>::value,
                  "specdyn: a residual or repeated body must end at the width it starts from (the stream's); "
                  "its last dense layer must have the stream's width multiplier");
  }
  static_assert(detail::count_list<Blocks...>::dynamic <= 1,
                "specdyn: at most one repeat<any_depth> per network (the depth is one runtime number)");
  return d;
}

template <class... Layers>
constexpr auto network(Layers...) {
  static_assert(sizeof...(Layers) >= 1, "specdyn: a network needs layers: network(input, dense | tanh, readout)");
  static_assert(((detail::is_block<detail::block_of<Layers>> || detail::is_end<Layers>) && ...),
                "specdyn: network() takes only input, blocks (dense…, activations, layernorm, residual(…), repeat<K>(…)) and readout; "
                "did you forget `dense |`?");
  static_assert(detail::count_inputs<Layers...> == 1, "specdyn: a network has exactly one input layer");
  static_assert(detail::first_is_input<Layers...>, "specdyn: the input must be the first layer");
  static_assert(detail::count_readouts<Layers...> >= 1, "specdyn: a network must end with a readout layer");
  static_assert(detail::count_readouts<Layers...> <= 1, "specdyn: a network has exactly one readout layer");
  static_assert(detail::count_readouts<Layers...> == 0 || detail::last_is_readout<Layers...>, "specdyn: the readout must be the last layer");
  if constexpr (sizeof...(Layers) >= 2 && detail::count_inputs<Layers...> == 1 && detail::first_is_input<Layers...> &&
                detail::count_readouts<Layers...> == 1 && detail::last_is_readout<Layers...> &&
                ((detail::is_block<detail::block_of<Layers>> || detail::is_end<Layers>) && ...)) {
    using decl = detail::middle_of<detail::block_of<Layers>...>;
    return check_blocks(decl{});
  } else {
    return network_decl<>{};
  }
}

template <class T> inline constexpr bool is_network = false;
template <class... Ls> inline constexpr bool is_network<network_decl<Ls...>> = true;
template <class T>
concept network_type = is_network<std::remove_cvref_t<T>>;

}  // namespace specdyn::dsl
