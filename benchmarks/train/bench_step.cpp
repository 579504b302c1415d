// One full-batch GD step of mlp3_tanh (μP, D = 64) as generated from the declaration, against the
// same step written by hand with direct cblas calls: once with plain loops for tanh (what one
// writes first) and once with the same fused xsimd expressions (the like-for-like baseline).
// Also a bare dgemm of the step's dominant shape, for the fraction of the machine's GEMM rate.
// Many outputs: one mini-batch SGD step of mlp3_tanh with C = 1000 softmax cross-entropy outputs
// (D = 256, batch 256 out of 1024 samples), generated against the same step by hand (direct cblas
// calls, a one-pass-exp softmax), the regime of the text task.
#include <array>
#include <cmath>
#include <cstdio>

#include <xtensor/xnoalias.hpp>

#include "../support.hpp"
#include "mlp3_tanh.hpp"
#include "specdyn/data/tasks.hpp"
#include "specdyn/train/trainer.hpp"

using namespace specdyn;

namespace {
constexpr std::size_t D = 64;
// P = 8: the small-batch regime of the theory-vs-network checks, where the step's products have a
// narrow right-hand side and go to specdyn's streaming kernels instead of OpenBLAS (ad/blas.hpp);
// the hand-written step calls cblas_dgemm directly, so the ratio measures those kernels.
const std::vector<std::pair<std::size_t, std::size_t>> sizes{{256, 64}, {1024, 64}, {2048, 64}, {1024, 1024}, {2048, 8}, {4096, 8}};

double step_flops(std::size_t n, std::size_t p) {
  // forward 3 GEMMs, backward 2 input adjoints (none for the data) + 3 weight updates
  return 2.0 * double(p) * (3.0 * double(n) * double(n) + 2.0 * double(n) * D + 3.0 * double(n));
}

void generated(benchmark::State& state) {
  const std::size_t n = state.range(0), p = state.range(1);
  auto net = bind(models::mlp3_tanh, dsl::mup, {.D = D, .N = n, .C = 1}, {.gamma0 = 1, .eta = 0.05, .seed = 1});
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, 1, p, 0, 2);
  trainer tr(net, data, {.steps = 1});
  for (auto _ : state) benchmark::DoNotOptimize(tr.step());
  state.counters["GFLOP/s"] = benchmark::Counter(step_flops(n, p), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

/// The same step by hand. Layout: activations [N, P], weights [out, in], row-major.
template <bool SimdElementwise>
void hand_written(benchmark::State& state) {
  const std::size_t n = state.range(0), p = state.range(1);
  auto net = bind(models::mlp3_tanh, dsl::mup, {.D = D, .N = n, .C = 1}, {.gamma0 = 1, .eta = 0.05, .seed = 1});
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, 1, p, 0, 2);
  matrix w0 = net.params().w[0], w1 = net.params().w[1], w2 = net.params().w[2];
  const double s0 = net.scale(0), s1 = net.scale(1), s2 = net.scale(2), lr = net.learning_rates()[0];
  matrix h1({n, p}), p1({n, p}), h2({n, p}), p2({n, p}), f({1, p}), df({1, p}), a2({n, p}), a1({n, p});
  const matrix& x = data.x;
  const matrix& y = data.y;
  auto gemm = [](CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::size_t m, std::size_t nn, std::size_t k, double alpha,
                 const matrix& a, const matrix& b, double beta, matrix& c) {
    cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(nn), int(k), alpha, a.data(), int(a.shape(1)), b.data(),
                int(b.shape(1)), beta, c.data(), int(c.shape(1)));
  };
  for (auto _ : state) {
    gemm(CblasNoTrans, CblasNoTrans, n, p, D, s0, w0, x, 0.0, h1);
    if constexpr (SimdElementwise) xt::noalias(p1) = xt::tanh(h1);
    else for (std::size_t i = 0; i < h1.size(); ++i) p1.data()[i] = std::tanh(h1.data()[i]);
    gemm(CblasNoTrans, CblasNoTrans, n, p, n, s1, w1, p1, 0.0, h2);
    if constexpr (SimdElementwise) xt::noalias(p2) = xt::tanh(h2);
    else for (std::size_t i = 0; i < h2.size(); ++i) p2.data()[i] = std::tanh(h2.data()[i]);
    gemm(CblasNoTrans, CblasNoTrans, 1, p, n, s2, w2, p2, 0.0, f);
    double loss = 0;
    for (std::size_t mu = 0; mu < p; ++mu) {
      df(0, mu) = (f(0, mu) - y(0, mu)) / double(p);
      loss += (f(0, mu) - y(0, mu)) * (f(0, mu) - y(0, mu));
    }
    benchmark::DoNotOptimize(loss);
    gemm(CblasTrans, CblasNoTrans, n, p, 1, s2, w2, df, 0.0, a2);   // a2 = s2 w2ᵀ df
    gemm(CblasNoTrans, CblasTrans, 1, n, p, -lr * s2, df, p2, 1.0, w2);
    if constexpr (SimdElementwise) xt::noalias(a2) = a2 * (1.0 - p2 * p2);
    else for (std::size_t i = 0; i < a2.size(); ++i) a2.data()[i] *= 1 - p2.data()[i] * p2.data()[i];
    gemm(CblasTrans, CblasNoTrans, n, p, n, s1, w1, a2, 0.0, a1);   // a1 = s1 w1ᵀ g2
    gemm(CblasNoTrans, CblasTrans, n, n, p, -lr * s1, a2, p1, 1.0, w1);
    if constexpr (SimdElementwise) xt::noalias(a1) = a1 * (1.0 - p1 * p1);
    else for (std::size_t i = 0; i < a1.size(); ++i) a1.data()[i] *= 1 - p1.data()[i] * p1.data()[i];
    gemm(CblasNoTrans, CblasTrans, n, D, p, -lr * s0, a1, x, 1.0, w0);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(step_flops(n, p), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// ---- many outputs: C softmax cross-entropy outputs, mini-batch SGD ----
constexpr std::size_t D_many = 256;
double step_flops_many(std::size_t n, std::size_t b, std::size_t c) {
  // forward: W0 x, W1 h, W2 h (C×N); backward: W2ᵀ df, W1ᵀ g; updates of W2, W1, W0
  return 2.0 * double(b) * (2.0 * double(n) * double(D_many) + 3.0 * double(n) * double(n) + 3.0 * double(c) * double(n));
}
task_data one_hot_task(std::size_t c, std::size_t p) {
  auto data = make_task({.kind = task_kind::random_labels}, D_many, c, p, 0, 2);
  rng gen(2, rng::stream::data, 77);
  data.y.fill(0.0);
  for (std::size_t mu = 0; mu < p; ++mu) data.y(gen.below(c), mu) = 1.0;
  return data;
}

void generated_many(benchmark::State& state) {
  const std::size_t n = state.range(0), b = state.range(1), c = state.range(2);
  auto net = bind(models::mlp3_tanh, dsl::mup, {.D = D_many, .N = n, .C = c}, {.gamma0 = 1, .eta = 0.05, .seed = 1});
  const auto data = one_hot_task(c, 4 * b);
  trainer tr(net, data, {.steps = 1, .batch = b, .loss = ad::loss_kind::cross_entropy, .seed = 3});
  for (auto _ : state) benchmark::DoNotOptimize(tr.step());
  state.counters["GFLOP/s"] = benchmark::Counter(step_flops_many(n, b, c), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void hand_written_many(benchmark::State& state) {
  const std::size_t n = state.range(0), b = state.range(1), c = state.range(2);
  auto net = bind(models::mlp3_tanh, dsl::mup, {.D = D_many, .N = n, .C = c}, {.gamma0 = 1, .eta = 0.05, .seed = 1});
  const auto data = one_hot_task(c, 4 * b);
  matrix w0 = net.params().w[0], w1 = net.params().w[1], w2 = net.params().w[2];
  const double s0 = net.scale(0), s1 = net.scale(1), s2 = net.scale(2), lr = net.learning_rates()[0];
  matrix x({D_many, b}), y({c, b}), h1({n, b}), p1({n, b}), h2({n, b}), p2({n, b}), f({c, b}), df({c, b}), a2({n, b}), a1({n, b});
  auto gemm = [](CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::size_t m, std::size_t nn, std::size_t k, double alpha,
                 const matrix& a, const matrix& bm, double beta, matrix& cm) {
    cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(nn), int(k), alpha, a.data(), int(a.shape(1)), bm.data(),
                int(bm.shape(1)), beta, cm.data(), int(cm.shape(1)));
  };
  std::vector<double> mx(b), z(b);
  std::size_t start = 0;
  for (auto _ : state) {
    // the batch: the next b columns (cyclic), as an epoch without shuffling would take them
    for (std::size_t i = 0; i < D_many; ++i)
      for (std::size_t mu = 0; mu < b; ++mu) x(i, mu) = data.x(i, (start + mu) % (4 * b));
    for (std::size_t a = 0; a < c; ++a)
      for (std::size_t mu = 0; mu < b; ++mu) y(a, mu) = data.y(a, (start + mu) % (4 * b));
    start += b;
    gemm(CblasNoTrans, CblasNoTrans, n, b, D_many, s0, w0, x, 0.0, h1);
    xt::noalias(p1) = xt::tanh(h1);
    gemm(CblasNoTrans, CblasNoTrans, n, b, n, s1, w1, p1, 0.0, h2);
    xt::noalias(p2) = xt::tanh(h2);
    gemm(CblasNoTrans, CblasNoTrans, c, b, n, s2, w2, p2, 0.0, f);
    // softmax over each column, row-wise passes (contiguous), one exp per entry
    std::fill(mx.begin(), mx.end(), -INFINITY);
    std::fill(z.begin(), z.end(), 0.0);
    for (std::size_t a = 0; a < c; ++a)
      for (std::size_t mu = 0; mu < b; ++mu) mx[mu] = std::max(mx[mu], f(a, mu));
    for (std::size_t a = 0; a < c; ++a)
      for (std::size_t mu = 0; mu < b; ++mu) z[mu] += (df(a, mu) = std::exp(f(a, mu) - mx[mu]));
    double loss = 0;
    for (std::size_t a = 0; a < c; ++a)
      for (std::size_t mu = 0; mu < b; ++mu) {
        loss -= y(a, mu) * (f(a, mu) - mx[mu] - std::log(z[mu]));
        df(a, mu) = (df(a, mu) / z[mu] - y(a, mu)) / double(b);
      }
    benchmark::DoNotOptimize(loss);
    gemm(CblasTrans, CblasNoTrans, n, b, c, s2, w2, df, 0.0, a2);   // a2 = s2 w2ᵀ df
    gemm(CblasNoTrans, CblasTrans, c, n, b, -lr * s2, df, p2, 1.0, w2);
    xt::noalias(a2) = a2 * (1.0 - p2 * p2);
    gemm(CblasTrans, CblasNoTrans, n, b, n, s1, w1, a2, 0.0, a1);
    gemm(CblasNoTrans, CblasTrans, n, n, b, -lr * s1, a2, p1, 1.0, w1);
    xt::noalias(a1) = a1 * (1.0 - p1 * p1);
    gemm(CblasNoTrans, CblasTrans, n, D_many, b, -lr * s0, a1, x, 1.0, w0);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(step_flops_many(n, b, c), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

/// The step's dominant GEMM shape, [N, N] × [N, P], run three times as in a step.
void dgemm_reference(benchmark::State& state) {
  const std::size_t n = state.range(0), p = state.range(1);
  matrix a = xt::ones<double>({n, n}), b = xt::ones<double>({n, p}), c({n, p});
  for (auto _ : state) {
    blas::gemm(false, false, 1.0, a, b, 0.0, c);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * p, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
}  // namespace

int main(int argc, char** argv) {
  for (auto [n, p] : sizes) {
    benchmark::RegisterBenchmark("step/generated", generated)->Args({long(n), long(p)})->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("step/hand_simd", hand_written<true>)->Args({long(n), long(p)})->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("step/hand_loops", hand_written<false>)->Args({long(n), long(p)})->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("dgemm", dgemm_reference)->Args({long(n), long(p)})->Unit(benchmark::kMillisecond);
  }
  const std::vector<std::array<std::size_t, 3>> many{{1024, 256, 1000}, {2048, 256, 1000}};
  for (auto [n, b, c] : many) {
    benchmark::RegisterBenchmark("many/generated", generated_many)->Args({long(n), long(b), long(c)})->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("many/hand_blas", hand_written_many)->Args({long(n), long(b), long(c)})->Unit(benchmark::kMillisecond);
  }
  const auto med = bench::run_all(argc, argv);
  std::printf("\n%-12s %10s %10s %10s %14s %16s\n", "N,P", "generated", "ratio/simd", "ratio/loops", "step GFLOP/s",
              "of dgemm rate");
  for (auto [n, p] : sizes) {
    const std::string key = std::to_string(n) + "/" + std::to_string(p);
    if (!med.count("step/generated/" + key)) continue;
    const double g = med.at("step/generated/" + key), hs = med.at("step/hand_simd/" + key),
                 hl = med.at("step/hand_loops/" + key), dg = med.at("dgemm/" + key);
    const double rate = step_flops(n, p) / g / 1e9, gemm_rate = 2.0 * n * n * p / dg / 1e9;
    std::printf("%-12s %8.3fms %10.3f %10.3f %14.1f %15.0f%%\n", (std::to_string(n) + "," + std::to_string(p)).c_str(),
                g * 1e3, g / hs, g / hl, rate, 100 * rate / gemm_rate);
  }
  std::printf("\nmany outputs (mini-batch SGD, softmax cross-entropy, D = %zu)\n%-16s %10s %10s %12s %14s %16s\n", D_many, "N,batch,C",
              "generated", "hand BLAS", "ratio", "step GFLOP/s", "samples/s");
  for (auto [n, b, c] : many) {
    const std::string key = std::to_string(n) + "/" + std::to_string(b) + "/" + std::to_string(c);
    if (!med.count("many/generated/" + key)) continue;
    const double g = med.at("many/generated/" + key), h = med.at("many/hand_blas/" + key);
    std::printf("%-16s %8.3fms %8.3fms %12.3f %14.1f %16.0f\n",
                (std::to_string(n) + "," + std::to_string(b) + "," + std::to_string(c)).c_str(), g * 1e3, h * 1e3, g / h,
                step_flops_many(n, b, c) / g / 1e9, double(b) / g);
  }
}
