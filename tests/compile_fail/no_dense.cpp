// expect: specdyn: a network needs at least one dense layer
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, readout);
}  // namespace specdyn::user
int main() {}
