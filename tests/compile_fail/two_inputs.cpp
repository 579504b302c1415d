// expect: specdyn: a network has exactly one input layer
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, input, dense | tanh, readout);
}  // namespace specdyn::user
int main() {}
