// expect: specdyn: a residual body needs a dense layer
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense, residual(relu), readout);
}  // namespace specdyn::user
int main() {}
