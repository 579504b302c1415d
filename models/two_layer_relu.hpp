// two_layer_relu: D → N → C, ReLU.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto two_layer_relu = network(input, dense | relu, readout);
}  // namespace specdyn::models
