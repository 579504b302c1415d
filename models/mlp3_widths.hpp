// mlp3_widths: unequal widths D → 2N → N/2 → C, tanh (width ratios 2 and 1/4 in the hidden weight).
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto mlp3_widths = network(input, dense_w<2> | tanh, dense_w<1, 2> | tanh, readout);
}  // namespace specdyn::models
