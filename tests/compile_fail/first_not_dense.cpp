// expect: specdyn: the first block after the input must be a dense layer
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, relu, dense, readout);
}  // namespace specdyn::user
int main() {}
