// expect: specdyn: input and readout cannot be inside residual
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense, residual(dense, readout), readout);
}  // namespace specdyn::user
int main() {}
