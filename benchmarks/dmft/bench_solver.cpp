// Cost of the DMFT particle march: time of one solve of mlp3_tanh's theory against the number of
// steps T, samples P and particles S, with fitted exponents, and the width N at which solving the
// theory becomes cheaper than one finite-width GD run of the same T and P.
#include <chrono>
#include <cmath>
#include <cstdio>

#include "../support.hpp"
#include "mlp3_tanh.hpp"
#include "specdyn/run/compare.hpp"

using namespace specdyn;
using decl = std::remove_cvref_t<decltype(models::mlp3_tanh)>;

namespace {
constexpr std::size_t D = 16;

dmft::problem make(std::size_t p, std::size_t t) {
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, 1, p, 0, 1);
  dmft::problem pr;
  pr.x = data.x;
  pr.y = data.y;
  pr.p_train = p;
  pr.sigma = 1;
  pr.eta = 0.5;
  pr.steps = t;
  pr.rule = map_rule(rule_from_name("mup", 2), 2, 1.0, std::nullopt);
  return pr;
}

void solve(benchmark::State& state) {
  const auto pr = make(std::size_t(state.range(1)), std::size_t(state.range(0)));
  dmft::solver_options o;
  o.particles = std::size_t(state.range(2));
  dmft::particle_solver<decl> solver(pr, o);
  for (auto _ : state) benchmark::DoNotOptimize(solver.solve(1).train_loss);
}

void finite_width(benchmark::State& state) {
  const std::size_t n = std::size_t(state.range(0)), t = std::size_t(state.range(1)), p = std::size_t(state.range(2));
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, 1, p, 0, 1);
  for (auto _ : state) {
    auto net = bind(models::mlp3_tanh, dsl::mup, {.D = D, .N = n, .C = 1}, {.gamma0 = 1, .eta = 0.5, .seed = 1});
    trainer tr(net, data, {.steps = t, .centre = true});
    tr.run();
    benchmark::DoNotOptimize(tr.train_loss());
  }
}
}  // namespace

int main(int argc, char** argv) {
  const long T0 = 20, P0 = 8, S0 = 8000;
  const std::vector<long> ts{10, 20, 40}, ps{4, 8, 16}, ss{2000, 8000, 32000};
  for (long t : ts) benchmark::RegisterBenchmark("solve/T", solve)->Args({t, P0, S0})->Unit(benchmark::kMillisecond);
  for (long p : ps) benchmark::RegisterBenchmark("solve/P", solve)->Args({T0, p, S0})->Unit(benchmark::kMillisecond);
  for (long s : ss) benchmark::RegisterBenchmark("solve/S", solve)->Args({T0, P0, s})->Unit(benchmark::kMillisecond);
  const std::vector<long> widths{512, 1024, 2048, 4096, 8192};
  for (long n : widths) benchmark::RegisterBenchmark("finite_width", finite_width)->Args({n, T0, P0})->Unit(benchmark::kMillisecond);
  const auto med = bench::run_all(argc, argv);
  auto key = [](const std::string& name, std::vector<long> a) {
    std::string k = name;
    for (long v : a) k += "/" + std::to_string(v);
    return k;
  };
  auto fit = [&](const std::string& name, const std::vector<long>& xs, auto args) {
    std::vector<double> x, y;
    for (long v : xs) {
      const auto k = key(name, args(v));
      if (!med.count(k)) return std::nan("");
      x.push_back(double(v));
      y.push_back(med.at(k));
    }
    return run::loglog_slope(x, y);
  };
  std::printf("\nsolver time ∝ T^%.2f (P = %ld, S = %ld), P^%.2f (T = %ld), S^%.2f (T = %ld, P = %ld)\n",
              fit("solve/T", ts, [&](long v) { return std::vector<long>{v, P0, S0}; }), P0, S0,
              fit("solve/P", ps, [&](long v) { return std::vector<long>{T0, v, S0}; }), T0,
              fit("solve/S", ss, [&](long v) { return std::vector<long>{T0, P0, v}; }), T0, P0);
  const std::string th_key = key("solve/T", {T0, P0, S0});
  if (med.count(th_key)) {
    const double theory = med.at(th_key);
    std::printf("theory (T = %ld, P = %ld, S = %ld, one replica): %.3f s\n", T0, P0, S0, theory);
    double prev_n = 0, prev_t = 0;
    for (long n : widths) {
      const auto k = key("finite_width", {n, T0, P0});
      if (!med.count(k)) continue;
      const double t = med.at(k);
      std::printf("  finite width N = %5ld: %.3f s%s\n", n, t, t > theory ? "  ← slower than the theory" : "");
      if (prev_t > 0 && prev_t <= theory && t > theory) {  // log-log interpolation of the crossing
        const double a = std::log(theory / prev_t) / std::log(t / prev_t);
        std::printf("  the theory is cheaper than one finite-width run from N ≈ %.0f\n", prev_n * std::pow(double(n) / prev_n, a));
      }
      prev_n = double(n);
      prev_t = t;
    }
  }
}
