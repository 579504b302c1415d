// The infinite-width theory of a declared network, layer by layer: which order parameters exist
// per layer and the boundary terms (input source constant in time, readout source one scalar per
// neuron). How a scaling rule reaches the theory (γ0_eff, κ_i) lives beside the DSL in
// dsl/rule_map.hpp; the equations are in docs/dmft.md.
//   auto layers = specdyn::dmft::layers_of<decltype(models::mlp3_tanh)>();
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "specdyn/dsl.hpp"
#include "specdyn/errors.hpp"
#include "specdyn/ad/program.hpp"
#include "specdyn/dsl/rule_map.hpp"

namespace specdyn::dmft {

/// Per-layer description of the closure, for the equation printer and records.
struct layer_terms {
  std::size_t index;          // ℓ = 1..L (h^ℓ)
  std::string activation;
  bool input;                 // u^1 ~ N(0, σ² K^x), constant in time, no Rφ^0
  bool readout;               // z^L = w: the readout source r^L ~ N(0, σ²), G^{L+1} = 1, no Rg^{L+1}
};

template <class Decl>
std::vector<layer_terms> layers_of() {
  std::vector<layer_terms> out;
  ad::static_for<Decl::hidden_layers>([&](auto i) {
    using A = typename Decl::template activation<i>;
    out.push_back({i + 1, std::string(A::name), i == 0, i + 1 == Decl::hidden_layers});
  });
  return out;
}

}  // namespace specdyn::dmft
