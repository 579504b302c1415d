// Cost of the two-level spectral theory (dmft/spectral.hpp) against the training DMFT it builds
// on, for mlp3_tanh at T = 50, P = 16 (the reference size):
//   march            one particle march without spike moments (S particles)
//   march+spikes     the same march measuring the spike Gram matrices (the extra histories and GEMMs)
//   predict          the level-2 solve for W1 at one step, vs the number of spike columns r = t·P,
//                    the Gram cut (which sets the kept basis size) and the number of roots found
// The level-2 cost (extra march cost + predictions at the default 6 steps) must stay below the
// cost of the march itself; the run prints that ratio.
#include <chrono>
#include <cmath>
#include <cstdio>

#include "../support.hpp"
#include "mlp3_tanh.hpp"
#include "specdyn/run/theory.hpp"

using namespace specdyn;
using decl = std::remove_cvref_t<decltype(models::mlp3_tanh)>;

namespace {
constexpr std::size_t D = 16, P = 16, T = 50;

dmft::problem make() {
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, 1, P, 0, 1);
  dmft::problem pr;
  pr.x = data.x;
  pr.y = data.y;
  pr.p_train = P;
  pr.sigma = 1;
  pr.eta = 0.4;
  pr.steps = T;
  pr.rule = map_rule(rule_from_name("mup", 2), 2, 3.0, std::nullopt);  // γ0 = 3: a clear outlier
  return pr;
}

const dmft::solution& spiked(std::size_t s) {
  static std::map<std::size_t, dmft::solution> cache;
  if (!cache.count(s)) {
    dmft::solver_options o;
    o.particles = s;
    o.spike_moments = true;
    cache[s] = dmft::particle_solver<decl>(make(), o).solve(1);
  }
  return cache[s];
}

void march(benchmark::State& state) {
  dmft::solver_options o;
  o.particles = std::size_t(state.range(0));
  o.spike_moments = state.range(1) != 0;
  dmft::particle_solver<decl> solver(make(), o);
  for (auto _ : state) benchmark::DoNotOptimize(solver.solve(1).train_loss);
}

void predict(benchmark::State& state) {
  const auto& sol = spiked(std::size_t(state.range(0)));
  const std::size_t t = std::size_t(state.range(1));
  const double cut = std::pow(10.0, -double(state.range(2)));
  dmft::hidden_prediction p;
  for (auto _ : state) {
    p = dmft::predict_hidden(sol.spikes[1], t, 1.0, {.cut = cut, .edge_resolution = 1e-2});
    benchmark::DoNotOptimize(p.outliers);
  }
  state.counters["r"] = double(t * P);
  state.counters["kept"] = double(p.rank_row + p.rank_col);
  state.counters["roots"] = double(p.outliers.size());
}
}  // namespace

int main(int argc, char** argv) {
  const long S = 8000;
  benchmark::RegisterBenchmark("march", march)->Args({S, 0})->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("march+spikes", march)->Args({S, 1})->Unit(benchmark::kMillisecond);
  for (long t : {10, 20, 30, 40, 50}) benchmark::RegisterBenchmark("predict/t", predict)->Args({S, t, 2})->Unit(benchmark::kMillisecond);
  for (long c : {1, 2, 3}) benchmark::RegisterBenchmark("predict/cut", predict)->Args({S, 50, c})->Unit(benchmark::kMillisecond);
  const auto med = bench::run_all(argc, argv);
  const auto get = [&](const std::string& k) { return med.count(k) ? med.at(k) : std::nan(""); };
  const double m0 = get("march/" + std::to_string(S) + "/0"), m1 = get("march+spikes/" + std::to_string(S) + "/1");
  double pred = 0;
  for (long t : {10, 20, 30, 40, 50}) pred += get("predict/t/" + std::to_string(S) + "/" + std::to_string(t) + "/2");
  std::printf("\nmlp3_tanh, T = %zu, P = %zu, S = %ld: march %.3f s; with spike moments %.3f s (+%.0f%%);\n", T, P, S, m0, m1,
              100 * (m1 / m0 - 1));
  std::printf("level-2 predictions at t = 10..50 (cut 1e-2): %.3f s; two-level cost / training-DMFT cost = %.2f\n", pred,
              (m1 - m0 + pred) / m0);
}
