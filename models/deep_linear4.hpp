// deep_linear4: D → N → N → N → C, linear.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto deep_linear4 = network(input, dense | linear, dense | linear, dense | linear, readout);
}  // namespace specdyn::models
