// expect: specdyn: unknown activation after `dense |`
#include "specdyn/dsl.hpp"
namespace specdyn::user {  // inside specdyn, dsl::tanh hides ::tanh
using namespace specdyn::dsl;
struct sigmoid_without_derivative { static double phi(double x) { return x; } };
constexpr auto net = network(input, dense | sigmoid_without_derivative{}, readout);
}  // namespace specdyn::user
int main() {}
