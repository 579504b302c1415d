// The mini-batch schedule of SGD: each epoch is a Fisher–Yates shuffle of the training points
// (from the seed's "batches" stream), cut into consecutive batches; a batch that would run past the
// end of the epoch starts a new one. The trainer draws its batches here and the theory replays the
// same sequence, so a finite-width SGD run and its DMFT see identical batches.
//   specdyn::batch_schedule sched(P, B, seed);
//   const auto& idx = sched.next();   // indices of the next batch
#pragma once

#include <numeric>
#include <vector>

#include "specdyn/data/rng.hpp"

namespace specdyn {

class batch_schedule {
 public:
  batch_schedule() = default;
  batch_schedule(std::size_t points, std::size_t batch, std::uint64_t seed)
      : gen_(seed, rng::stream::batches), order_(points), batch_(batch), current_(batch) {
    std::iota(order_.begin(), order_.end(), std::size_t{0});
  }
  /// The next batch (valid until the next call).
  const std::vector<std::size_t>& next() {
    const std::size_t p = order_.size();
    if (first_ || cursor_ + batch_ > p) {  // new epoch: shuffle in place
      for (std::size_t i = p - 1; i > 0; --i) std::swap(order_[i], order_[gen_.below(i + 1)]);
      cursor_ = 0;
      first_ = false;
    }
    for (std::size_t j = 0; j < batch_; ++j) current_[j] = order_[cursor_ + j];
    cursor_ += batch_;
    return current_;
  }
  /// The first `steps` batches of a schedule.
  static std::vector<std::vector<std::size_t>> sequence(std::size_t points, std::size_t batch, std::uint64_t seed,
                                                        std::size_t steps) {
    batch_schedule s(points, batch, seed);
    std::vector<std::vector<std::size_t>> out;
    for (std::size_t t = 0; t < steps; ++t) out.push_back(s.next());
    return out;
  }

 private:
  rng gen_{0};
  std::vector<std::size_t> order_;
  std::size_t batch_ = 0, cursor_ = 0;
  std::vector<std::size_t> current_;
  bool first_ = true;
};

}  // namespace specdyn
