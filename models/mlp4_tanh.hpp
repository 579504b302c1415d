// mlp4_tanh: D → N → N → N → C, tanh (three hidden layers).
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto mlp4_tanh = network(input, dense | tanh, dense | tanh, dense | tanh, readout);
}  // namespace specdyn::models
