// expect: specdyn: a network must end with a readout layer
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense | tanh, dense | tanh);
}  // namespace specdyn::user
int main() {}
