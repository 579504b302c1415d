// Cost of the proportional-limit theory (dmft/proportional.hpp) against the number of steps T and
// the depth (1: deep_linear2, 2: deep_linear3, 3: deep_linear4). The solve is one causal pass whose step t touches
// O(t²) coefficients per variable, so the cost grows like T³; the run prints the fitted exponent.
// `proportional_ntk` adds the NTK's top by Lanczos inside the closure at t = 0 and T (the default
// 60 iterations at most, each one virtual slot): its extra cost is printed against the plain solve.
// Sweep throughput (points per minute) is measured by `specdyn sweep` itself (docs/proportional.md).
#include <cmath>
#include <cstdio>

#include "../support.hpp"
#include "specdyn/dmft/proportional.hpp"
#include "specdyn/stats.hpp"

using namespace specdyn;

namespace {
void solve(benchmark::State& state, std::size_t ntk_iterations) {
  const auto steps = std::size_t(state.range(0)), depth = std::size_t(state.range(1));
  for (auto _ : state) {
    // γ̃0 = 4, η/P = 0.005: stable at every T here
    auto sol = dmft::solve_proportional(
        {.alpha = 2, .nu = 1, .gamma0_tilde = 4, .eta_hat = 0.005, .steps = steps, .depth = depth, .ntk_iterations = ntk_iterations});
    benchmark::DoNotOptimize(sol.train_loss.back());
  }
}
}  // namespace

int main(int argc, char** argv) {
  const std::vector<long> ts{25, 50, 100, 200};
  for (long depth : {1, 2, 3})
    for (long t : ts) {
      benchmark::RegisterBenchmark("proportional", solve, 0)->Args({t, depth})->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark("proportional_ntk", solve, 60)->Args({t, depth})->Unit(benchmark::kMillisecond);
    }
  const auto med = bench::run_all(argc, argv);
  for (long depth : {1, 2, 3}) {
    std::vector<double> x, y;
    for (long t : ts) {
      const auto k = "proportional/" + std::to_string(t) + "/" + std::to_string(depth);
      if (!med.count(k)) continue;
      x.push_back(double(t));
      y.push_back(med.at(k));
    }
    const auto fit = stats::power_law_fit(x, y);
    std::printf("depth %ld: T = %ld takes %.3f s; time ∝ T^%.2f over T = %ld..%ld\n", depth, ts.back(), y.empty() ? NAN : y.back(), fit.slope,
                ts.front(), ts.back());
    for (long t : ts) {
      const auto a = "proportional/" + std::to_string(t) + "/" + std::to_string(depth), b = "proportional_ntk/" + std::to_string(t) + "/" + std::to_string(depth);
      if (med.count(a) && med.count(b)) std::printf("  T = %ld: with the NTK's top at t = 0 and T %.3f s (%.2f× the plain solve)\n", t, med.at(b), med.at(b) / med.at(a));
    }
  }
}
