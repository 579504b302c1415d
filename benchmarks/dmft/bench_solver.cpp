// Cost of the DMFT particle march: time of one solve of mlp3_tanh's theory against the number of
// steps T, samples P and particles S, with fitted exponents, and the width N at which solving the
// theory becomes cheaper than one finite-width GD run of the same T and P. Then the time to a
// 0.2 % Monte Carlo error of the loss curve (mlp3_tanh, T = 30, P = 4), before and after the
// speed work of issue 10, measured in the same run:
//   error    the replica mean's relative L2 standard error of the training-loss curve,
//            sqrt(Σ_t se_t² / Σ_t mean_t²) (what `specdyn compare` prints as the theory's Monte
//            Carlo error); e1(S) = that error for ONE replica of S particles, estimated from the
//            spread of 16 replicas (seeds 1000..1015; the estimate itself scatters by ≈ ±20 %);
//   R(S)     = ceil((e1(S) / 0.002)²) replicas of S particles reach 0.2 % (exact scaling: the
//            replicas are independent, se ∝ R^{-1/2}; no extrapolation in S);
//   tte(S)   = R(S) × the median time of one solve at S (counter tte_s), and the summary line
//            takes the best S of each path.
//   before   = the solver of commit 30f3c8b (particles_v0.hpp), pseudo-random innovations;
//   plain    = today's solver with pseudo-random innovations (quasi_random = false);
//   after    = today's solver with its default scrambled-Sobol' innovations.
//   build/benchmarks/bench_solver --benchmark_filter='tte|replicas'
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "../support.hpp"
#include "mlp3_tanh.hpp"
#include "particles_v0.hpp"
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

// ---------------- time to a 0.2 % Monte Carlo error ----------------
constexpr double target_error = 2e-3;
constexpr std::size_t tte_steps = 30, tte_samples = 4, error_replicas = 16;
enum class path { before, plain, after };
const char* path_name(path p) { return p == path::before ? "before" : p == path::plain ? "plain" : "after"; }

/// One solve's training-loss curve along a path.
std::vector<double> loss_curve(path p, std::size_t particles, std::uint64_t seed) {
  static const auto pr = make(tte_samples, tte_steps);
  if (p == path::before) {
    dmft::v0::solver_options o;
    o.particles = particles;
    return dmft::v0::particle_solver<decl>(pr, o).solve(seed).train_loss;
  }
  dmft::solver_options o;
  o.particles = particles;
  o.quasi_random = p == path::after;
  return dmft::particle_solver<decl>(pr, o).solve(seed).train_loss;
}

/// e1(S): one replica's relative L2 standard error of the loss curve, from `error_replicas` replicas.
double replica_error(path p, std::size_t particles) {
  static std::map<std::pair<path, std::size_t>, double> cache;
  const auto key = std::make_pair(p, particles);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  std::vector<std::vector<double>> curves;
  for (std::size_t r = 0; r < error_replicas; ++r) curves.push_back(loss_curve(p, particles, 1000 + r));
  const double n = double(error_replicas);
  double num = 0, den = 0;
  for (std::size_t t = 0; t <= tte_steps; ++t) {
    double m = 0, v = 0;
    for (const auto& c : curves) m += c[t] / n;
    for (const auto& c : curves) v += (c[t] - m) * (c[t] - m) / (n - 1);
    num += v;  // per-replica variance: se² of one replica
    den += m * m;
  }
  return cache[key] = std::sqrt(num / den);
}

std::size_t replicas_needed(double e1) { return std::size_t(std::ceil((e1 / target_error) * (e1 / target_error) - 1e-9)); }

void time_to_error(benchmark::State& state, path p) {
  const std::size_t s = std::size_t(state.range(0));
  const double e1 = replica_error(p, s);  // outside the timed loop, once per (path, S)
  const std::size_t r = std::max<std::size_t>(1, replicas_needed(e1));
  for (auto _ : state) benchmark::DoNotOptimize(loss_curve(p, s, 1));
  state.counters["e1"] = e1;
  state.counters["replicas"] = double(r);
  // R × (elapsed / iterations): the wall time of R solves at this S
  state.counters["tte_s"] = benchmark::Counter(1.0 / double(r), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

/// Four replicas at S = 4096 on 1 or 2 std::threads (solve_replicas; bitwise the same results).
void replica_threads(benchmark::State& state) {
  static const auto pr = make(tte_samples, tte_steps);
  dmft::solver_options o;
  o.particles = 4096;
  dmft::particle_solver<decl> solver(pr, o);
  for (auto _ : state) benchmark::DoNotOptimize(solver.solve_replicas({1, 2, 3, 4}, std::size_t(state.range(0))));
}
}  // namespace

int main(int argc, char** argv) {
  blas::ensure_native_core(argv);  // as `specdyn` does: OpenBLAS's own kernels for this CPU
  io::keep_freed_memory();         // and large temporaries kept in the heap (io/resources.hpp)
  const long T0 = 20, P0 = 8, S0 = 8000;
  const std::vector<long> ts{10, 20, 40}, ps{4, 8, 16}, ss{2000, 8000, 32000};
  for (long t : ts) benchmark::RegisterBenchmark("solve/T", solve)->Args({t, P0, S0})->Unit(benchmark::kMillisecond);
  for (long p : ps) benchmark::RegisterBenchmark("solve/P", solve)->Args({T0, p, S0})->Unit(benchmark::kMillisecond);
  for (long s : ss) benchmark::RegisterBenchmark("solve/S", solve)->Args({T0, P0, s})->Unit(benchmark::kMillisecond);
  const std::vector<long> widths{512, 1024, 2048, 4096, 8192};
  for (long n : widths) benchmark::RegisterBenchmark("finite_width", finite_width)->Args({n, T0, P0})->Unit(benchmark::kMillisecond);
  const std::map<path, std::vector<long>> tte_grid{{path::before, {8192}}, {path::plain, {8192}}, {path::after, {1024, 2048, 4096, 8192}}};
  for (const auto& [p, grid] : tte_grid)
    for (long s : grid)
      benchmark::RegisterBenchmark((std::string("tte/") + path_name(p)).c_str(), time_to_error, p)
          ->Arg(s)->Unit(benchmark::kMillisecond)->UseRealTime();
  for (long th : {1, 2}) benchmark::RegisterBenchmark("replicas/threads", replica_threads)->Arg(th)->Unit(benchmark::kMillisecond)->UseRealTime();
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
  if (med.count(key("solve/T", {ts[0], P0, S0})))
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
  // time to a 0.2 % error: the best S of each path, and the ratios
  std::map<path, double> best;
  bool any = false;
  for (const auto& [p, grid] : tte_grid) {
    for (long s : grid) {
      const auto k = key(std::string("tte/") + path_name(p), {s});
      const auto it = med.find(k);
      if (it == med.end()) continue;
      if (!any) std::printf("\ntime to a %.1f %% Monte Carlo error of the loss curve (mlp3_tanh, T = %zu, P = %zu; R = ceil((e1/0.002)²) replicas):\n",
                            100 * target_error, tte_steps, tte_samples);
      any = true;
      const double e1 = replica_error(p, std::size_t(s));
      const std::size_t r = std::max<std::size_t>(1, replicas_needed(e1));
      const double tte = double(r) * it->second;
      std::printf("  %-6s S = %5ld: one replica %.3f s, e1 = %.2e, R = %3zu → %.2f s\n", path_name(p), s, it->second, e1, r, tte);
      if (!best.count(p) || tte < best[p]) best[p] = tte;
    }
  }
  if (best.count(path::before) && best.count(path::after))
    std::printf("  best: before %.2f s, plain MC with today's code %.2f s, after %.2f s: %.0f× faster\n", best[path::before],
                best.count(path::plain) ? best[path::plain] : std::nan(""), best[path::after], best[path::before] / best[path::after]);
  const auto t1 = med.find("replicas/threads/1"), t2 = med.find("replicas/threads/2");
  if (t1 != med.end() && t2 != med.end())
    std::printf("4 replicas × 4096 particles: 1 thread %.3f s, 2 threads %.3f s (%.2f×; bitwise the same results)\n", t1->second, t2->second,
                t1->second / t2->second);
}
