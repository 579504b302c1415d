// deep_linear3: D → N → N → C, linear.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto deep_linear3 = network(input, dense | linear, dense | linear, readout);
}  // namespace specdyn::models
