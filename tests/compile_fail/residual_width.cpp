// expect: specdyn: a residual or repeated body must end at the width it starts from
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense, residual(relu, dense_w<2>), readout);
}  // namespace specdyn::user
int main() {}
