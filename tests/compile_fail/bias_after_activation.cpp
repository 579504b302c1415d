// expect: specdyn: put the bias before the activation
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense | relu | bias, readout);
}  // namespace specdyn::user
int main() {}
