// expect: specdyn: the readout must be the last layer
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense | tanh, readout, dense | tanh);
}  // namespace specdyn::user
int main() {}
