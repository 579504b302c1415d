// expect: specdyn: network() takes only input, blocks
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense, 3, readout);
}  // namespace specdyn::user
int main() {}
