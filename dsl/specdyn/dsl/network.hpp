// The declaration language: layers and network(). A network is an input, one or more dense
// layers (each with an activation) and a readout, held as a flat hana::tuple of layer types.
// Mistakes fail at compile time with one sentence starting "specdyn:".
// Declare inside a namespace nested in specdyn (as models/ does): there `using namespace dsl`
// makes dsl::tanh and dsl::erf hide C's ::tanh and ::erf; at global scope they would be ambiguous.
//   inline constexpr auto mlp3_tanh =
//       specdyn::dsl::network(input, dense | tanh, dense | tanh, readout);   // D → N → N → C
//   static_assert(decltype(mlp3_tanh)::hidden_layers == 2);
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/hana.hpp>

#include "specdyn/dsl/activations.hpp"

namespace specdyn::dsl {

namespace hana = boost::hana;

/// The data source: x ∈ R^D. Its weights belong to the first dense layer.
struct input_t { static constexpr std::string_view kind = "input"; };
/// A fully connected layer to width N followed by an activation.
template <class Act>
struct dense_layer {
  using activation_type = Act;
  static constexpr std::string_view kind = "dense";
};
struct dense_t { static constexpr std::string_view kind = "dense"; };
/// The linear readout to C outputs.
struct readout_t { static constexpr std::string_view kind = "readout"; };

inline constexpr input_t input{};
inline constexpr dense_t dense{};
inline constexpr readout_t readout{};

template <class A>
constexpr auto operator|(dense_t, A) {
  static_assert(activation<A>,
                "specdyn: unknown activation after `dense |`; use linear, relu, tanh, erf, softplus, "
                "or a struct with name, phi, dphi and d2phi");
  return dense_layer<A>{};
}

template <class T> inline constexpr bool is_dense = false;
template <class A> inline constexpr bool is_dense<dense_layer<A>> = true;
template <class T>
inline constexpr bool is_layer = std::is_same_v<T, input_t> || std::is_same_v<T, readout_t> || is_dense<T>;

/// A declared network. Depth, layer kinds and activations are in the type; sizes are not.
template <class... Layers>
struct network_decl {
  static constexpr std::size_t size = sizeof...(Layers);
  /// L: the number of dense layers (= the number of hidden pre-activation fields h^1..h^L).
  static constexpr std::size_t hidden_layers = (std::size_t{0} + ... + (is_dense<Layers> ? 1 : 0));
  /// Weight matrices: W^0 (input, N×D), W^1..W^{L-1} (hidden, N×N), W^L (readout, C×N).
  static constexpr std::size_t weight_layers = hidden_layers + 1;
  static constexpr hana::tuple<Layers...> layers{};
  /// The dense layers only, in order: dense_types[ℓ-1] is the layer producing h^ℓ.
  static constexpr auto dense_types = hana::filter(hana::tuple_t<Layers...>, [](auto t) {
    return hana::bool_c<is_dense<typename decltype(t)::type>>;
  });

  /// The activation of the I-th dense layer (0-based), i.e. of h^{I+1}.
  template <std::size_t I>
  using activation = typename decltype(+dense_types[hana::size_c<I>])::type::activation_type;

  /// "input → dense|tanh → dense|tanh → readout"
  static std::string describe() {
    std::string out;
    ((out += (out.empty() ? "" : " → ") + layer_name<Layers>()), ...);
    return out;
  }

 private:
  template <class L>
  static std::string layer_name() {
    if constexpr (is_dense<L>) return "dense|" + std::string(L::activation_type::name);
    else return std::string(L::kind);
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
constexpr bool last_is_readout = std::is_same_v<typename decltype((std::type_identity<Ls>{}, ...))::type, readout_t>;
}  // namespace detail

template <class... Layers>
constexpr auto network(Layers...) {
  static_assert(sizeof...(Layers) >= 1, "specdyn: a network needs layers: network(input, dense | tanh, readout)");
  static_assert((is_layer<Layers> && ...),
                "specdyn: network() takes only input, dense | activation and readout; did you forget `dense |`?");
  static_assert(detail::count_inputs<Layers...> == 1, "specdyn: a network has exactly one input layer");
  static_assert(detail::first_is_input<Layers...>, "specdyn: the input must be the first layer");
  static_assert(detail::count_readouts<Layers...> >= 1, "specdyn: a network must end with a readout layer");
  static_assert(detail::count_readouts<Layers...> <= 1, "specdyn: a network has exactly one readout layer");
  static_assert(detail::count_readouts<Layers...> == 0 || detail::last_is_readout<Layers...>, "specdyn: the readout must be the last layer");
  static_assert(!(is_layer<Layers> && ...) || (std::size_t{0} + ... + (is_dense<Layers> ? 1 : 0)) >= 1,
                "specdyn: a network needs at least one dense layer between input and readout");
  return network_decl<Layers...>{};
}

template <class T> inline constexpr bool is_network = false;
template <class... Ls> inline constexpr bool is_network<network_decl<Ls...>> = true;
template <class T>
concept network_type = is_network<std::remove_cvref_t<T>>;

}  // namespace specdyn::dsl
