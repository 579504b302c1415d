// The README's example: declare a new architecture and train it under μP.
#include <cstdio>

#include "specdyn/data/tasks.hpp"
#include "specdyn/train/trainer.hpp"

namespace specdyn::models {  // declare inside specdyn: there dsl::tanh hides C's ::tanh
using namespace dsl;
inline constexpr auto my_net = network(input, dense | erf, dense | relu, dense | tanh, readout);
}  // namespace specdyn::models

int main() {
  using namespace specdyn;
  auto net = bind(models::my_net, dsl::mup, {.D = 32, .N = 512, .C = 1}, {.gamma0 = 1, .eta = 0.5, .seed = 1});
  auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, 32, 1, 128, 256, /*seed=*/1);
  trainer tr(net, data, {.steps = 200, .centre = true});
  tr.run([](std::size_t t, auto& tr) {
    if (t % 50 == 0) std::printf("step %3zu  train %.4f  test %.4f\n", t, tr.train_loss().back(), tr.evaluate_test());
  });
}
