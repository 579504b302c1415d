// resnet_linear: a deep linear residual network, h ← h + m_L W h/√N (--depth blocks); its theory is exact.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto resnet_linear = network(input, dense, repeat<any_depth>(residual(dense)), readout);
}  // namespace specdyn::models
