// mlp3_relu: D → N → N → C, ReLU.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto mlp3_relu = network(input, dense | relu, dense | relu, readout);
}  // namespace specdyn::models
