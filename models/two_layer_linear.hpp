// two_layer_linear: D → N → C, linear. The same declaration as deep_linear2: the command line registers
// it as an alias of deep_linear2 (models/CMakeLists.txt), so its commands are compiled once.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto two_layer_linear = network(input, dense | linear, readout);
}  // namespace specdyn::models
