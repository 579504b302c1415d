// expect: specdyn: a dense layer takes one activation
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense | relu | tanh, readout);
}  // namespace specdyn::user
int main() {}
