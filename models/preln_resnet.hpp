// preln_resnet: pre-LayerNorm residual MLP blocks h ← h + m_L W2 relu(W1 LN(h)), --depth of them, then LN and the readout.
#pragma once
#include "specdyn/dsl.hpp"

namespace specdyn::models {
using namespace specdyn::dsl;
inline constexpr auto preln_resnet = network(input, dense, repeat<any_depth>(residual(layernorm, dense | relu, dense)), layernorm, readout);
}  // namespace specdyn::models
