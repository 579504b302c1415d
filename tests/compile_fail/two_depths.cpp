// expect: specdyn: at most one repeat<any_depth> per network
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense, repeat<any_depth>(residual(relu, dense)), repeat<any_depth>(residual(relu, dense)), readout);
}  // namespace specdyn::user
int main() {}
