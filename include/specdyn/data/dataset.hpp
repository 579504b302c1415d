// A data set as the trainer and the theory see it: inputs x [D, P] and targets y [C, P] as
// columns, optionally with held-out points. Tasks (data/tasks.hpp) and loaders build these.
#pragma once

#include <xtensor/xtensor.hpp>

namespace specdyn {

using matrix = xt::xtensor<double, 2>;

/// Training inputs x [D, P], targets y [C, P] and optional held-out points.
struct dataset {
  matrix x, y;
  matrix x_test, y_test;  // empty when the task has no test set
  [[nodiscard]] std::size_t samples() const { return x.shape(1); }
  [[nodiscard]] bool has_test() const { return x_test.size() > 0; }
};

}  // namespace specdyn
