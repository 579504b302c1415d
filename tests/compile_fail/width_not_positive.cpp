// expect: specdyn: a width multiplier must be positive
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense_w<0> | tanh, readout);
}  // namespace specdyn::user
int main() {}
