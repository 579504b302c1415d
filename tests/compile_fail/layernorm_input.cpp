// expect: specdyn: layernorm cannot act on the input x
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, layernorm, dense | tanh, readout);
}  // namespace specdyn::user
int main() {}
