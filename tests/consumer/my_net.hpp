// A user's own architecture, declared once: three dense layers with different activations.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto my_net = network(input, dense | erf, dense | relu, dense | tanh, readout);
}  // namespace specdyn::models
