// specdyn's declaration language in one include: layers, activations, scaling rules, network().
#pragma once
#include "specdyn/dsl/activations.hpp"
#include "specdyn/dsl/network.hpp"
#include "specdyn/dsl/rational.hpp"
#include "specdyn/dsl/scaling.hpp"
