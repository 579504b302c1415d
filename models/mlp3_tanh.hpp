// mlp3_tanh: D → N → N → C, tanh.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto mlp3_tanh = network(input, dense | tanh, dense | tanh, readout);
}  // namespace specdyn::models
