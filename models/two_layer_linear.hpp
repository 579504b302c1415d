// two_layer_linear: D → N → C, linear.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto two_layer_linear = network(input, dense | linear, readout);
}  // namespace specdyn::models
