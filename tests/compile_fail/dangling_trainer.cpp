// expect: specdyn: trainer keeps a reference to its data set
#include "specdyn/data/tasks.hpp"
#include "specdyn/train/trainer.hpp"
#include "mlp3_tanh.hpp"
int main() {
  using namespace specdyn;
  auto net = bind(models::mlp3_tanh, dsl::mup, {.D = 4, .N = 8, .C = 1}, {});
  trainer tr(net, make_task({}, 4, 1, 8, 0, 1), {.steps = 1});  // the task data would die here
  tr.run();
}
