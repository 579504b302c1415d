// resnet_relu: D → N, then --depth residual blocks h ← h + m_L W relu(h)/√N, relu, readout (depth-μP's test bed).
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto resnet_relu = network(input, dense, repeat<any_depth>(residual(relu, dense)), relu, readout);
}  // namespace specdyn::models
