// expect: specdyn: network() takes only input, dense | activation and readout
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, linear, readout);
}  // namespace specdyn::user
int main() {}
