// mlp3_bias: D → N → N → C with biases, tanh.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto mlp3_bias = network(input, dense | bias | tanh, dense | bias | tanh, readout);
}  // namespace specdyn::models
