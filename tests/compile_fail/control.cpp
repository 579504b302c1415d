// expect: compiles
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
constexpr auto net = network(input, dense | tanh, dense | relu, readout);
static_assert(decltype(net)::hidden_layers == 2);
static_assert(classify(mup_t::table, 2) == verdict::feature_learning);
}  // namespace specdyn::user
int main() {}
