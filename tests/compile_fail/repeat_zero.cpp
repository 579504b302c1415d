// expect: specdyn: repeat<0> repeats nothing
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense, repeat<0>(residual(relu, dense)), readout);
}  // namespace specdyn::user
int main() {}
