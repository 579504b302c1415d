// Top-16 singular values of a 4096×4096 weight by Krylov (Lanczos on the Gram operator) vs all of
// them by LAPACK (gesdd, no vectors), and the cost of one spectra snapshot (tracker::snapshot,
// automatic method) as the width grows.
#include <cstdio>

#include "../support.hpp"
#include "specdyn/spectra/tracker.hpp"
#include "specdyn/data/rng.hpp"

using namespace specdyn;

namespace {
/// Bulk (quarter circle, edge 2) plus three rank-one spikes of strength 3, 2.5, 2: outliers at
/// θ + 1/θ = 3.33, 2.9, 2.5, like a trained hidden weight.
spectra::matrix trained_like(std::size_t n) {
  rng gen(1, rng::stream::weights, n);
  spectra::matrix m({n, n});
  for (auto& v : m) v = gen.normal() / std::sqrt(double(n));
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) m(i, j) += (3.0 - 0.5 * double(r)) * std::cos(double(i * (r + 1))) * std::sin(double(j * (r + 2))) * 2.0 / double(n);
  return m;
}

void krylov_top16(benchmark::State& state) {
  const auto m = trained_like(std::size_t(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(spectra::top_singular(m, 16).values);
}
/// Only the three outliers: Lanczos converges in a few dozen products.
void krylov_top3(benchmark::State& state) {
  const auto m = trained_like(std::size_t(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(spectra::top_singular(m, 3).values);
}
void lapack_all(benchmark::State& state) {
  const auto m = trained_like(std::size_t(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(spectra::all_singular(m).values);
}
void snapshot(benchmark::State& state) {
  const std::size_t n = std::size_t(state.range(0));
  const auto m0 = trained_like(n);
  spectra::tracker tr("W1", m0, 1.0 / std::sqrt(double(n)), {.top_k = 16});
  auto m = m0;
  m(0, 0) += 1.0;
  std::size_t t = 0;
  for (auto _ : state) tr.snapshot(t++, m);
  state.SetLabel(tr.full() ? "all σ (LAPACK) + top-16 vectors" : "top-16 (Krylov)");
}
}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("krylov_top16", krylov_top16)->Arg(4096)->Unit(benchmark::kMillisecond)->Iterations(3);
  benchmark::RegisterBenchmark("krylov_top3", krylov_top3)->Arg(4096)->Unit(benchmark::kMillisecond)->Iterations(3);
  benchmark::RegisterBenchmark("lapack_all", lapack_all)->Arg(4096)->Unit(benchmark::kMillisecond)->Iterations(1);
  for (long n : {256, 512, 1024, 2048, 4096})
    benchmark::RegisterBenchmark("snapshot", snapshot)->Arg(n)->Unit(benchmark::kMillisecond)->Iterations(n >= 2048 ? 1 : 3);
  const auto med = bench::run_all(argc, argv);
  if (med.count("krylov_top16/4096") && med.count("lapack_all/4096"))
    std::printf("\ntop-16 Krylov / full LAPACK SVD at N = 4096: %.4f (target ≤ 0.05)\n",
                med.at("krylov_top16/4096") / med.at("lapack_all/4096"));
  if (med.count("krylov_top3/4096") && med.count("lapack_all/4096"))
    std::printf("top-3 (the outliers only) Krylov / full LAPACK SVD at N = 4096: %.4f\n",
                med.at("krylov_top3/4096") / med.at("lapack_all/4096"));
}
