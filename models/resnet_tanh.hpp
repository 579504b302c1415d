// resnet_tanh: D → N, then --depth residual blocks h ← h + m_L W tanh(h)/√N, tanh, readout.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto resnet_tanh = network(input, dense, repeat<any_depth>(residual(tanh, dense)), tanh, readout);
}  // namespace specdyn::models
