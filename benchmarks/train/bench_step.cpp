// One full-batch GD step of mlp3_tanh (μP, D = 64) as generated from the declaration, against the
// same step written by hand with direct cblas calls: once with plain loops for tanh (what one
// writes first) and once with the same fused xsimd expressions (the like-for-like baseline).
// Also a bare dgemm of the step's dominant shape, for the fraction of the machine's GEMM rate.
// Many outputs: one mini-batch SGD step of mlp3_tanh with C = 1000 softmax cross-entropy outputs
// (D = 256, batch 256 out of 1024 samples), generated against the same step by hand (direct cblas
// calls, a one-pass-exp softmax), the regime of the text task.
// Residual networks (depth-μP, L = 16 blocks, N = 1024, B = 64): resnet_relu (h ← h + m_L W relu(h))
// and preln_resnet (h ← h + m_L W2 relu(W1 LN(h)), a final LN) generated from their declarations,
// against the same steps by hand: direct cblas calls with m_L folded into the GEMMs' alpha and
// h + m_L·(…) formed by a beta = 1 GEMM on a copy of h; each hand step is first checked to give the
// generated step's weights (to 1e-12 relative), so the ratio compares like with like.
#include <array>
#include <cmath>
#include <cstdio>

#include <xtensor/xnoalias.hpp>

#include "../support.hpp"
#include "mlp3_tanh.hpp"
#include "preln_resnet.hpp"
#include "resnet_relu.hpp"
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

// ---- residual networks: depth-μP, full-batch GD, MSE ----
constexpr std::size_t D_res = 64;
double step_flops_res(std::size_t n, std::size_t b, std::size_t depth, std::size_t per_block) {
  // per block and N×N weight: forward, input adjoint, update; plus the input layer (forward, update) and readout
  return 2.0 * double(b) * (3.0 * double(per_block) * double(depth) * double(n) * double(n) + 2.0 * double(n) * D_res + 3.0 * double(n));
}

using cblas_gemm_fn = void (*)(CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, std::size_t, std::size_t, std::size_t, double, const matrix&,
                               const matrix&, double, matrix&);
void gemm_rm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::size_t m, std::size_t nn, std::size_t k, double alpha, const matrix& a,
             const matrix& b, double beta, matrix& c) {
  cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(nn), int(k), alpha, a.data(), int(a.shape(1)), b.data(), int(b.shape(1)), beta,
              c.data(), int(c.shape(1)));
}

/// Largest relative difference between two weight lists (for the hand-vs-generated check).
double weights_rel_diff(const std::vector<matrix>& a, const std::vector<matrix>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double scale = std::max(1e-300, double(xt::amax(xt::abs(b[i]))()));
    worst = std::max(worst, double(xt::amax(xt::abs(a[i] - b[i]))()) / scale);
  }
  return worst;
}

/// out (+)= a ⊙ 1[pre > 0]
void relu_gate(const matrix& a, const matrix& pre, matrix& out, bool accumulate) {
  const double *ap = a.data(), *pp = pre.data();
  double* o = out.data();
  const std::size_t size = a.size();
  if (accumulate)
    for (std::size_t i = 0; i < size; ++i) o[i] += pp[i] > 0.0 ? ap[i] : 0.0;
  else
    for (std::size_t i = 0; i < size; ++i) o[i] = pp[i] > 0.0 ? ap[i] : 0.0;
}

/// One hand-written GD step of resnet_relu: h_0 = s0 W0 x; h_k = h_{k−1} + m s_k W_k relu(h_{k−1});
/// f = s_r W_r relu(h_L). Buffers: h[0..L], r[1..L+1] = relu(h[k−1]).
struct resnet_hand {
  std::size_t n, b, L;
  std::vector<matrix> w;
  std::vector<double> s, lr;
  double m;
  std::vector<matrix> h, r;
  matrix f, df, g, a;
  template <class Net>
  resnet_hand(const Net& net, std::size_t n_, std::size_t b_, std::size_t L_)
      : n(n_), b(b_), L(L_), w(net.params().w), s(net.params().scale), lr(net.learning_rates()), m(net.branch_multiplier()),
        h(L_ + 1, matrix({n_, b_})), r(L_ + 2, matrix({n_, b_})), f({1, b_}), df({1, b_}), g({n_, b_}), a({n_, b_}) {}
  double step(const matrix& x, const matrix& y) {
    gemm_rm(CblasNoTrans, CblasNoTrans, n, b, D_res, s[0], w[0], x, 0.0, h[0]);
    for (std::size_t k = 1; k <= L; ++k) {
      xt::noalias(r[k]) = xt::maximum(h[k - 1], 0.0);
      xt::noalias(h[k]) = h[k - 1];
      gemm_rm(CblasNoTrans, CblasNoTrans, n, b, n, m * s[k], w[k], r[k], 1.0, h[k]);
    }
    xt::noalias(r[L + 1]) = xt::maximum(h[L], 0.0);
    const std::size_t ro = L + 1;
    gemm_rm(CblasNoTrans, CblasNoTrans, 1, b, n, s[ro], w[ro], r[L + 1], 0.0, f);
    double loss = 0;
    for (std::size_t mu = 0; mu < b; ++mu) {
      df(0, mu) = (f(0, mu) - y(0, mu)) / double(b);
      loss += (f(0, mu) - y(0, mu)) * (f(0, mu) - y(0, mu));
    }
    gemm_rm(CblasTrans, CblasNoTrans, n, b, 1, s[ro], w[ro], df, 0.0, a);
    gemm_rm(CblasNoTrans, CblasTrans, 1, n, b, -lr[ro] * s[ro], df, r[L + 1], 1.0, w[ro]);
    relu_gate(a, h[L], g, false);  // the stream's adjoint at h_L
    for (std::size_t k = L; k >= 1; --k) {
      gemm_rm(CblasTrans, CblasNoTrans, n, b, n, m * s[k], w[k], g, 0.0, a);             // adjoint of relu(h_{k−1})
      gemm_rm(CblasNoTrans, CblasTrans, n, n, b, -lr[k] * m * s[k], g, r[k], 1.0, w[k]);  // W_k update
      relu_gate(a, h[k - 1], g, true);                                                    // skip + branch
    }
    gemm_rm(CblasNoTrans, CblasTrans, n, D_res, b, -lr[0] * s[0], g, x, 1.0, w[0]);
    return loss;
  }
};

/// Layer norm over the rows of each column (PyTorch's ε), keeping x̂ and 1/σ for the backward.
void ln_forward(const matrix& h, matrix& xhat, std::vector<double>& mean, std::vector<double>& rstd) {
  const std::size_t n = h.shape(0), b = h.shape(1);
  std::fill(mean.begin(), mean.end(), 0.0);
  std::fill(rstd.begin(), rstd.end(), 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < b; ++c) mean[c] += h(i, c);
  for (auto& v : mean) v /= double(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < b; ++c) rstd[c] += (h(i, c) - mean[c]) * (h(i, c) - mean[c]);
  for (auto& v : rstd) v = 1.0 / std::sqrt(v / double(n) + ad::layernorm_epsilon);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < b; ++c) xhat(i, c) = (h(i, c) - mean[c]) * rstd[c];
}
/// out (+)= r (a − mean a − x̂ mean(x̂ a)) per column: the layer norm's backward.
void ln_backward(const matrix& xhat, const std::vector<double>& rstd, const matrix& a, matrix& out, bool accumulate,
                 std::vector<double>& ma, std::vector<double>& mxa) {
  const std::size_t n = a.shape(0), b = a.shape(1);
  std::fill(ma.begin(), ma.end(), 0.0);
  std::fill(mxa.begin(), mxa.end(), 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < b; ++c) {
      ma[c] += a(i, c);
      mxa[c] += a(i, c) * xhat(i, c);
    }
  for (std::size_t c = 0; c < b; ++c) {
    ma[c] /= double(n);
    mxa[c] /= double(n);
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < b; ++c) {
      const double v = rstd[c] * (a(i, c) - ma[c] - xhat(i, c) * mxa[c]);
      out(i, c) = accumulate ? out(i, c) + v : v;
    }
}

/// One hand-written GD step of preln_resnet: h_k = h_{k−1} + m s_b W_b relu(s_a W_a LN(h_{k−1})),
/// f = s_r W_r LN(h_L). Weights: W0, then (W_a, W_b) per block, then the readout.
struct preln_hand {
  std::size_t n, b, L;
  std::vector<matrix> w;
  std::vector<double> s, lr;
  double m;
  std::vector<matrix> h, xh, p, q;
  std::vector<std::vector<double>> mean, rstd;
  matrix f, df, g, a, aq, xf;
  std::vector<double> s1, s2;
  template <class Net>
  preln_hand(const Net& net, std::size_t n_, std::size_t b_, std::size_t L_)
      : n(n_), b(b_), L(L_), w(net.params().w), s(net.params().scale), lr(net.learning_rates()), m(net.branch_multiplier()),
        h(L_ + 1, matrix({n_, b_})), xh(L_ + 2, matrix({n_, b_})), p(L_ + 1, matrix({n_, b_})), q(L_ + 1, matrix({n_, b_})),
        mean(L_ + 2, std::vector<double>(b_)), rstd(L_ + 2, std::vector<double>(b_)), f({1, b_}), df({1, b_}), g({n_, b_}),
        a({n_, b_}), aq({n_, b_}), xf({n_, b_}), s1(b_), s2(b_) {}
  double step(const matrix& x, const matrix& y) {
    gemm_rm(CblasNoTrans, CblasNoTrans, n, b, D_res, s[0], w[0], x, 0.0, h[0]);
    for (std::size_t k = 1; k <= L; ++k) {
      const std::size_t ia = 2 * k - 1, ib = 2 * k;
      ln_forward(h[k - 1], xh[k], mean[k], rstd[k]);
      gemm_rm(CblasNoTrans, CblasNoTrans, n, b, n, s[ia], w[ia], xh[k], 0.0, p[k]);
      xt::noalias(q[k]) = xt::maximum(p[k], 0.0);
      xt::noalias(h[k]) = h[k - 1];
      gemm_rm(CblasNoTrans, CblasNoTrans, n, b, n, m * s[ib], w[ib], q[k], 1.0, h[k]);
    }
    ln_forward(h[L], xh[L + 1], mean[L + 1], rstd[L + 1]);
    const std::size_t ro = 2 * L + 1;
    gemm_rm(CblasNoTrans, CblasNoTrans, 1, b, n, s[ro], w[ro], xh[L + 1], 0.0, f);
    double loss = 0;
    for (std::size_t mu = 0; mu < b; ++mu) {
      df(0, mu) = (f(0, mu) - y(0, mu)) / double(b);
      loss += (f(0, mu) - y(0, mu)) * (f(0, mu) - y(0, mu));
    }
    gemm_rm(CblasTrans, CblasNoTrans, n, b, 1, s[ro], w[ro], df, 0.0, a);
    gemm_rm(CblasNoTrans, CblasTrans, 1, n, b, -lr[ro] * s[ro], df, xh[L + 1], 1.0, w[ro]);
    ln_backward(xh[L + 1], rstd[L + 1], a, g, false, s1, s2);  // the stream's adjoint at h_L
    for (std::size_t k = L; k >= 1; --k) {
      const std::size_t ia = 2 * k - 1, ib = 2 * k;
      gemm_rm(CblasTrans, CblasNoTrans, n, b, n, m * s[ib], w[ib], g, 0.0, aq);              // adjoint of q
      gemm_rm(CblasNoTrans, CblasTrans, n, n, b, -lr[ib] * m * s[ib], g, q[k], 1.0, w[ib]);  // W_b update
      relu_gate(aq, p[k], aq, false);
      gemm_rm(CblasTrans, CblasNoTrans, n, b, n, s[ia], w[ia], aq, 0.0, a);                  // adjoint of x̂
      gemm_rm(CblasNoTrans, CblasTrans, n, n, b, -lr[ia] * s[ia], aq, xh[k], 1.0, w[ia]);    // W_a update
      ln_backward(xh[k], rstd[k], a, g, true, s1, s2);                                       // skip + branch
    }
    gemm_rm(CblasNoTrans, CblasTrans, n, D_res, b, -lr[0] * s[0], g, x, 1.0, w[0]);
    return loss;
  }
};

template <class Decl>
auto bind_residual(Decl decl, std::size_t n, std::size_t depth) {
  return bind(decl, dsl::depth_mup, {.D = D_res, .N = n, .C = 1, .depth = depth}, {.gamma0 = 1, .eta = 0.05, .seed = 1});
}

template <class Hand, class Decl>
void residual_generated(benchmark::State& state, Decl decl) {
  const std::size_t n = state.range(0), b = state.range(1), depth = state.range(2);
  auto net = bind_residual(decl, n, depth);
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D_res, 1, b, 0, 2);
  trainer tr(net, data, {.steps = 1});
  for (auto _ : state) benchmark::DoNotOptimize(tr.step());
  state.counters["GFLOP/s"] = benchmark::Counter(step_flops_res(n, b, depth, std::is_same_v<Hand, preln_hand> ? 2 : 1),
                                                 benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

template <class Hand, class Decl>
void residual_hand(benchmark::State& state, Decl decl) {
  const std::size_t n = state.range(0), b = state.range(1), depth = state.range(2);
  auto net = bind_residual(decl, n, depth);
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D_res, 1, b, 0, 2);
  Hand hand(net, n, b, depth);
  {  // like with like: one hand step gives the generated step's weights
    trainer tr(net, data, {.steps = 1});
    const double lg = tr.step(), lh = hand.step(data.x, data.y) / (2.0 * double(b));
    const double diff = weights_rel_diff(hand.w, net.params().w);
    if (diff > 1e-12 || std::abs(lg - lh) > 1e-12 * std::abs(lg)) {
      state.SkipWithError(("the hand-written step differs from the generated one: weights " + std::to_string(diff) + ", loss " +
                           std::to_string(lg) + " vs " + std::to_string(lh)).c_str());
      return;
    }
  }
  for (auto _ : state) benchmark::DoNotOptimize(hand.step(data.x, data.y));
  state.counters["GFLOP/s"] = benchmark::Counter(step_flops_res(n, b, depth, std::is_same_v<Hand, preln_hand> ? 2 : 1),
                                                 benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

/// One full-batch step of mlp3_tanh (μP, D = 64) with optimizer k: the same network and batch as
/// step/generated, so each ratio to the sgd row is the optimizer's own cost (its state update).
void optimizer_step(benchmark::State& state, optimizer_kind k) {
  const std::size_t n = state.range(0), p = state.range(1);
  auto net = bind(models::mlp3_tanh, dsl::mup, {.D = D, .N = n, .C = 1}, {.gamma0 = 1, .eta = 0.05, .seed = 1});
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, 1, p, 0, 2);
  trainer tr(net, data, {.steps = 1, .optimizer = {.kind = k, .weight_decay = k == optimizer_kind::adamw ? 0.01 : 0.0}});
  for (auto _ : state) benchmark::DoNotOptimize(tr.step());
  state.counters["GFLOP/s"] = benchmark::Counter(step_flops(n, p), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
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

/// The narrow products alone, [N, N] × [N, P] (W·X, the forward) and [N, N]ᵀ × [N, P] (Wᵀ·δ, the
/// backward), through blas::gemm (specdyn's streaming kernels for P ≤ 16) and OpenBLAS's dgemm on
/// the same operands, side by side.
template <bool Trans, bool Openblas>
void narrow_product(benchmark::State& state) {
  const std::size_t n = state.range(0), p = state.range(1);
  rng gen(11, rng::stream::data);
  matrix a({n, n}), b({n, p}), c({n, p});
  for (auto& v : a) v = gen.normal();
  for (auto& v : b) v = gen.normal();
  for (auto _ : state) {
    if constexpr (Openblas)
      cblas_dgemm(CblasRowMajor, Trans ? CblasTrans : CblasNoTrans, CblasNoTrans, int(n), int(p), int(n), 1.0, a.data(), int(n), b.data(),
                  int(p), 0.0, c.data(), int(p));
    else
      blas::gemm(Trans, false, 1.0, a, b, 0.0, c);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * p, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::pair<long, long>> narrow{{2048, 8}, {2048, 16}, {4096, 8}};
  for (auto [n, p] : narrow) {
    benchmark::RegisterBenchmark("narrow/specdyn_nn", narrow_product<false, false>)->Args({n, p})->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("narrow/openblas_nn", narrow_product<false, true>)->Args({n, p})->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("narrow/specdyn_tn", narrow_product<true, false>)->Args({n, p})->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("narrow/openblas_tn", narrow_product<true, true>)->Args({n, p})->Unit(benchmark::kMillisecond);
  }
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
  const std::vector<std::array<std::size_t, 3>> residual{{1024, 64, 16}, {256, 64, 16}};
  for (auto [n, b, depth] : residual) {
    const std::vector<long> args{long(n), long(b), long(depth)};
    benchmark::RegisterBenchmark("resnet/generated", residual_generated<resnet_hand, decltype(models::resnet_relu)>, models::resnet_relu)
        ->Args(args)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("resnet/hand_blas", residual_hand<resnet_hand, decltype(models::resnet_relu)>, models::resnet_relu)
        ->Args(args)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("preln/generated", residual_generated<preln_hand, decltype(models::preln_resnet)>, models::preln_resnet)
        ->Args(args)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("preln/hand_blas", residual_hand<preln_hand, decltype(models::preln_resnet)>, models::preln_resnet)
        ->Args(args)->Unit(benchmark::kMillisecond);
  }
  const std::vector<std::pair<std::size_t, std::size_t>> optim_sizes{{1024, 64}, {256, 64}, {2048, 64}};
  const std::vector<optimizer_kind> optim_kinds{optimizer_kind::sgd, optimizer_kind::momentum, optimizer_kind::nesterov,
                                                optimizer_kind::adam, optimizer_kind::adamw, optimizer_kind::sign};
  for (auto [n, p] : optim_sizes)
    for (auto k : optim_kinds)
      benchmark::RegisterBenchmark(("optim/" + std::string(to_string(k))).c_str(), optimizer_step, k)
          ->Args({long(n), long(p)})->Unit(benchmark::kMillisecond);
  const auto med = bench::run_all(argc, argv);
  std::printf("\n%-12s %10s %10s %10s %14s %16s\n", "N,P", "generated", "ratio/simd", "ratio/loops", "step GFLOP/s",
              "of dgemm rate");
  for (auto [n, p] : sizes) {
    const std::string key = std::to_string(n) + "/" + std::to_string(p);
    if (!med.count("step/generated/" + key) || !med.count("step/hand_simd/" + key) || !med.count("step/hand_loops/" + key) ||
        !med.count("dgemm/" + key))
      continue;
    const double g = med.at("step/generated/" + key), hs = med.at("step/hand_simd/" + key),
                 hl = med.at("step/hand_loops/" + key), dg = med.at("dgemm/" + key);
    const double rate = step_flops(n, p) / g / 1e9, gemm_rate = 2.0 * n * n * p / dg / 1e9;
    std::printf("%-12s %8.3fms %10.3f %10.3f %14.1f %15.0f%%\n", (std::to_string(n) + "," + std::to_string(p)).c_str(),
                g * 1e3, g / hs, g / hl, rate, 100 * rate / gemm_rate);
  }
  std::printf("\nnarrow products (one weight [N, N] times P columns): specdyn's kernels against OpenBLAS's dgemm\n%-10s %12s %12s %8s %12s %12s %8s\n",
              "N,P", "W·X", "OpenBLAS", "ratio", "Wᵀ·X", "OpenBLAS", "ratio");
  for (auto [n, p] : narrow) {
    const std::string key = std::to_string(n) + "/" + std::to_string(p);
    const char* rows[] = {"narrow/specdyn_nn/", "narrow/openblas_nn/", "narrow/specdyn_tn/", "narrow/openblas_tn/"};
    bool all = true;
    for (const char* r : rows) all = all && med.count(r + key);
    if (!all) continue;
    const double a = med.at(rows[0] + key), b = med.at(rows[1] + key), c = med.at(rows[2] + key), d = med.at(rows[3] + key);
    std::printf("%-10s %10.3fms %10.3fms %8.3f %10.3fms %10.3fms %8.3f\n", (std::to_string(n) + "," + std::to_string(p)).c_str(), a * 1e3,
                b * 1e3, a / b, c * 1e3, d * 1e3, c / d);
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
  std::printf("\noptimizers (mlp3_tanh, μP, full batch, D = %zu): time per step and its ratio to the GD step\n%-12s", D, "N,B");
  for (auto k : optim_kinds) std::printf(" %18s", std::string(to_string(k)).c_str());
  std::printf("\n");
  for (auto [n, p] : optim_sizes) {
    const std::string key = std::to_string(n) + "/" + std::to_string(p);
    if (!med.count("optim/sgd/" + key)) continue;
    std::printf("%-12s", (std::to_string(n) + "," + std::to_string(p)).c_str());
    const double base = med.at("optim/sgd/" + key);
    for (auto k : optim_kinds) {
      const std::string name = "optim/" + std::string(to_string(k)) + "/" + key;
      if (med.count(name)) std::printf(" %8.3fms (%5.3f)", med.at(name) * 1e3, med.at(name) / base);
      else std::printf(" %18s", "-");
    }
    std::printf("\n");
  }
  std::printf("\nresidual networks (depth-μP, full-batch GD, D = %zu)\n%-16s %-14s %10s %10s %8s %14s\n", D_res, "N,B,L", "network",
              "generated", "hand BLAS", "ratio", "step GFLOP/s");
  for (auto [n, b, depth] : residual) {
    const std::string key = std::to_string(n) + "/" + std::to_string(b) + "/" + std::to_string(depth);
    for (const auto& [name, per_block] : {std::pair<std::string, std::size_t>{"resnet", 1}, {"preln", 2}}) {
      if (!med.count(name + "/generated/" + key) || !med.count(name + "/hand_blas/" + key)) continue;
      const double g = med.at(name + "/generated/" + key), h = med.at(name + "/hand_blas/" + key);
      std::printf("%-16s %-14s %8.3fms %8.3fms %8.3f %14.1f\n",
                  (std::to_string(n) + "," + std::to_string(b) + "," + std::to_string(depth)).c_str(),
                  name == "resnet" ? "resnet_relu" : "preln_resnet", g * 1e3, h * 1e3, g / h, step_flops_res(n, b, depth, per_block) / g / 1e9);
    }
  }
}
