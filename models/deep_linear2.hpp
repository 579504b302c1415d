// deep_linear2: D → N → C, linear (the proportional-limit setting's two-layer network).
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto deep_linear2 = network(input, dense | linear, readout);
}  // namespace specdyn::models
