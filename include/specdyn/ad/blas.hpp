// Thin, allocation-free wrappers around OpenBLAS for row-major xtensor matrices, plus the BLAS
// facts a run record needs (core name, threads). Every matrix product in the library goes through
// gemm() here, so a benchmark of the generated step measures the same calls a hand-written one makes.
//   specdyn::blas::gemm(false, true, 1.0, A, B, 1.0, C);   // C += A Bᵀ
#pragma once

#include "specdyn/core.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

// xtensor-blas declares the CBLAS interface itself (xflens/cxxblas/drivers/cblas.h) and its
// declarations clash with OpenBLAS's cblas.h, so the CBLAS prototypes come from there: from that one
// file, not through xtensor-blas/xblas.hpp, which also parses all of its LAPACK bindings (≈ 1 s in
// every translation unit).
#include <xflens/cxxblas/drivers/cblas.h>
#include <xtensor/xtensor.hpp>

#include <unistd.h>

extern "C" {
char* openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
char* openblas_get_config(void);
}

namespace specdyn::blas {

using matrix = xt::xtensor<double, 2>;

/// Narrows a dimension to BLAS's int, refusing values that do not fit.
SPECDYN_CORE_FN int to_blas_int(std::size_t v, const char* what)
#if SPECDYN_CORE_BODIES
{
  if (v > std::size_t(std::numeric_limits<int>::max()))
    throw std::length_error(std::string("specdyn: BLAS dimension ") + what + " = " + std::to_string(v) +
                            " exceeds the 32-bit range of this BLAS");
  return int(v);
}
#else
;
#endif

#if SPECDYN_CORE_BODIES
namespace detail {
// Products with a narrow right-hand side, C [m, n] = alpha op(A) B + beta C with n ≤ 16 columns:
// the shapes of a training step at small batch (a weight [N, N] times P activations). OpenBLAS packs
// all of A into panels for every call, so these products run at a third of memory bandwidth; the
// kernels below stream A once, row by row, with C's rows (NN) or B's rows (TN) held in registers.
// Measured on the 2-core development machine at N = 2048, P = 8, one thread: W·X 3.2 → 1.3 ms,
// Wᵀ·X 3.7 → 1.4 ms; the generated mlp3_tanh step takes 0.50× the hand-written cblas step
// (benchmarks/train/bench_step.cpp, the P = 8 rows). Single-threaded and deterministic (a fixed
// summation order for every shape); OpenBLAS with two threads was slower still on these shapes
// (4.9 ms for W·X), but on a machine with many cores a threaded BLAS may win at very large N.
// The rank-P weight update (Bᵀ on the right) stays with OpenBLAS, which is at bandwidth there.
// The fixed-count loops over R rows and NB columns carry `#pragma GCC unroll`: at -O2 (the build's
// level since the kernels were measured at -O3) GCC left them rolled and kept the accumulators on
// the stack, a load and a store around every FMA. Unrolled they stay in registers; the arithmetic
// and its order are the same, so results are identical bit for bit (scripts/bitwise_check.py). On a
// Zen 4 core, N = 2048, P = 8: W·X 4.6 → 2.1 ms, Wᵀ·X 5.0 → 1.5 ms; P = 16: Wᵀ·X 13.7 → 2.9 ms.
typedef double v4 __attribute__((vector_size(32), aligned(8)));
inline v4 load4(const double* p) {
  v4 r;
  __builtin_memcpy(&r, p, sizeof r);
  return r;
}
inline void store4(double* p, v4 v) { __builtin_memcpy(p, &v, sizeof v); }

// C = alpha A B + beta C; A [m, k] (lda), B [k, NB] (ldb). Eight rows of A at a time.
template <int NB>
void skinny_nn(std::size_t m, std::size_t k, double alpha, const double* a, std::size_t lda, const double* b, std::size_t ldb,
               double beta, double* c, std::size_t ldc) {
  constexpr int NV = NB / 4, NT = NB % 4, R = 8;
  auto finish = [&](double* cr, const v4* acc, const double* tail) {
    #pragma GCC unroll 16
    for (int q = 0; q < NV; ++q) store4(cr + 4 * q, beta == 0 ? alpha * acc[q] : alpha * acc[q] + beta * load4(cr + 4 * q));
    #pragma GCC unroll 16
    for (int q = 0; q < NT; ++q) cr[4 * NV + q] = beta == 0 ? alpha * tail[q] : alpha * tail[q] + beta * cr[4 * NV + q];
  };
  std::size_t i = 0;
  for (; i + R <= m; i += R) {
    v4 acc[R][NV > 0 ? NV : 1] = {};
    double tail[R][NT > 0 ? NT : 1] = {};
    const double* ar[R];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) ar[r] = a + (i + r) * lda;
    for (std::size_t j = 0; j < k; ++j) {
      const double* bj = b + j * ldb;
      v4 bv[NV > 0 ? NV : 1];
      #pragma GCC unroll 16
      for (int q = 0; q < NV; ++q) bv[q] = load4(bj + 4 * q);
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const double x = ar[r][j];
        #pragma GCC unroll 16
        for (int q = 0; q < NV; ++q) acc[r][q] += x * bv[q];
        #pragma GCC unroll 16
        for (int q = 0; q < NT; ++q) tail[r][q] += x * bj[4 * NV + q];
      }
    }
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) finish(c + (i + r) * ldc, acc[r], tail[r]);
  }
  for (; i < m; ++i) {
    v4 acc[NV > 0 ? NV : 1] = {};
    double tail[NT > 0 ? NT : 1] = {};
    const double* ai = a + i * lda;
    for (std::size_t j = 0; j < k; ++j) {
      const double* bj = b + j * ldb;
      #pragma GCC unroll 16
      for (int q = 0; q < NV; ++q) acc[q] += ai[j] * load4(bj + 4 * q);
      #pragma GCC unroll 16
      for (int q = 0; q < NT; ++q) tail[q] += ai[j] * bj[4 * NV + q];
    }
    finish(c + i * ldc, acc, tail);
  }
}

// C = alpha Aᵀ B + beta C; A [m, k] (lda), B [m, NB] (ldb), C [k, NB]. Eight rows of A (and B) at a
// time, each row of C loaded and stored once per eight.
template <int NB>
void skinny_tn(std::size_t m, std::size_t k, double alpha, const double* a, std::size_t lda, const double* b, std::size_t ldb,
               double beta, double* c, std::size_t ldc) {
  constexpr int NV = NB / 4, NT = NB % 4, R = 8;
  for (std::size_t j = 0; j < k; ++j)
    #pragma GCC unroll 16
    for (int q = 0; q < NB; ++q) c[j * ldc + q] = beta == 0 ? 0.0 : beta * c[j * ldc + q];
  auto rows = [&]<int RR>(std::size_t i, std::integral_constant<int, RR>) {
    v4 bv[RR][NV > 0 ? NV : 1];
    double bt[RR][NT > 0 ? NT : 1];
    const double* ar[RR];
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r) {
      ar[r] = a + (i + r) * lda;
      #pragma GCC unroll 16
      for (int q = 0; q < NV; ++q) bv[r][q] = alpha * load4(b + (i + r) * ldb + 4 * q);
      #pragma GCC unroll 16
      for (int q = 0; q < NT; ++q) bt[r][q] = alpha * b[(i + r) * ldb + 4 * NV + q];
    }
    for (std::size_t j = 0; j < k; ++j) {
      double* cj = c + j * ldc;
      v4 s[NV > 0 ? NV : 1];
      double t[NT > 0 ? NT : 1];
      #pragma GCC unroll 16
      for (int q = 0; q < NV; ++q) s[q] = load4(cj + 4 * q);
      #pragma GCC unroll 16
      for (int q = 0; q < NT; ++q) t[q] = cj[4 * NV + q];
      #pragma GCC unroll 16
      for (int r = 0; r < RR; ++r) {
        const double x = ar[r][j];
        #pragma GCC unroll 16
        for (int q = 0; q < NV; ++q) s[q] += x * bv[r][q];
        #pragma GCC unroll 16
        for (int q = 0; q < NT; ++q) t[q] += x * bt[r][q];
      }
      #pragma GCC unroll 16
      for (int q = 0; q < NV; ++q) store4(cj + 4 * q, s[q]);
      #pragma GCC unroll 16
      for (int q = 0; q < NT; ++q) cj[4 * NV + q] = t[q];
    }
  };
  std::size_t i = 0;
  for (; i + R <= m; i += R) rows(i, std::integral_constant<int, R>{});
  for (; i < m; ++i) rows(i, std::integral_constant<int, 1>{});
}

template <int NB>
bool skinny_dispatch(bool trans_a, std::size_t m, std::size_t k, std::size_t n, double alpha, const double* a, std::size_t lda,
                     const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
  if constexpr (NB > 16) {
    return false;
  } else {
    if (n != NB) return skinny_dispatch<NB + 1>(trans_a, m, k, n, alpha, a, lda, b, ldb, beta, c, ldc);
    if (trans_a)
      skinny_tn<NB>(k, m, alpha, a, lda, b, ldb, beta, c, ldc);  // A is [k, m]: C [m, n] = Aᵀ B
    else
      skinny_nn<NB>(m, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return true;
  }
}
}  // namespace detail
#endif

/// C = alpha op(A) op(B) + beta C for row-major matrices; op is a transpose when the flag is set.
/// Shapes are checked on every call (a few comparisons): a mismatch throws std::invalid_argument
/// naming the shapes instead of letting BLAS read or write out of bounds. No allocation, no copy
/// of transposes.
SPECDYN_CORE_FN void gemm(bool trans_a, bool trans_b, double alpha, const double* a, std::size_t a_rows, std::size_t a_cols,
                          const double* b, std::size_t b_rows, std::size_t b_cols, double beta, double* c, std::size_t c_rows,
                          std::size_t ldc)
#if SPECDYN_CORE_BODIES
{
  const std::size_t m = trans_a ? a_cols : a_rows;
  const std::size_t k = trans_a ? a_rows : a_cols;
  const std::size_t kb = trans_b ? b_cols : b_rows;
  const std::size_t n = trans_b ? b_rows : b_cols;
  if (k != kb || c_rows != m || ldc < n)
    throw std::invalid_argument("specdyn: gemm shape mismatch: op(A) is " + std::to_string(m) + "x" + std::to_string(k) +
                                ", op(B) is " + std::to_string(kb) + "x" + std::to_string(n) + ", C is " +
                                std::to_string(c_rows) + "x" + std::to_string(ldc));
  if (m == 0 || n == 0) return;
  // narrow right-hand side, large A (a weight times a small batch): the streaming kernels above
  if (!trans_b && n <= 16 && m * k >= 64 * 64 && m >= 8 && k >= 8 &&
      detail::skinny_dispatch<1>(trans_a, m, k, n, alpha, a, std::max<std::size_t>(a_cols, 1), b, std::max<std::size_t>(b_cols, 1),
                                 beta, c, ldc))
    return;
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              to_blas_int(m, "m"), to_blas_int(n, "n"), to_blas_int(k, "k"), alpha, a,
              to_blas_int(std::max<std::size_t>(a_cols, 1), "lda"), b, to_blas_int(std::max<std::size_t>(b_cols, 1), "ldb"),
              beta, c, to_blas_int(std::max<std::size_t>(ldc, 1), "ldc"));
}
#else
;
#endif

template <class A, class B, class C>
inline void gemm(bool trans_a, bool trans_b, double alpha, const A& a, const B& b, double beta, C& c) {
  // LAPACK-backed results (eigh, svd) come back column-major: copy them into a row-major matrix first.
  static_assert(std::decay_t<A>::static_layout == xt::layout_type::row_major &&
                    std::decay_t<B>::static_layout == xt::layout_type::row_major &&
                    std::decay_t<C>::static_layout == xt::layout_type::row_major,
                "specdyn: blas::gemm takes row-major matrices; copy a column-major result into a specdyn matrix first");
  gemm(trans_a, trans_b, alpha, a.data(), a.shape(0), a.shape(1), b.data(), b.shape(0), b.shape(1), beta, c.data(),
       c.shape(0), c.shape(1));
}

/// C = alpha AᵀA + beta C for a row-major A [k, n] (half the work of the general product), full C.
template <class A, class C>
inline void syrk_t(double alpha, const A& a, double beta, C& c) {
  const std::size_t k = a.shape(0), n = a.shape(1);
  if (c.shape(0) != n || c.shape(1) != n)
    throw std::invalid_argument("specdyn: syrk shape mismatch: AᵀA is " + std::to_string(n) + "x" + std::to_string(n) + ", C is " +
                                std::to_string(c.shape(0)) + "x" + std::to_string(c.shape(1)));
  if (n == 0) return;
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, to_blas_int(n, "n"), to_blas_int(k, "k"), alpha, a.data(),
              to_blas_int(std::max<std::size_t>(n, 1), "lda"), beta, c.data(), to_blas_int(n, "ldc"));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j) c(i, j) = c(j, i);
}

/// y = alpha op(A) x + beta y for a row-major A [rows, cols]; x and y hold the lengths op(A) needs.
SPECDYN_CORE_FN void gemv(bool trans, double alpha, const double* a, std::size_t rows, std::size_t cols, const double* x,
                          double beta, double* y)
#if SPECDYN_CORE_BODIES
{
  if (rows == 0 || cols == 0) return;
  cblas_dgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, to_blas_int(rows, "rows"), to_blas_int(cols, "cols"), alpha,
              a, to_blas_int(cols, "lda"), x, 1, beta, y, 1);
}
#else
;
#endif

/// The CPU kernel family OpenBLAS selected at load time (e.g. "Haswell", "SkylakeX").
inline std::string core_name() { return openblas_get_corename(); }
inline int num_threads() { return openblas_get_num_threads(); }

/// OpenBLAS's thread count set to `n` for the lifetime of the object (restored after): parallel
/// work that runs its own threads, one BLAS call each, should not also spread every call.
class thread_scope {
 public:
  explicit thread_scope(int n) : old_(openblas_get_num_threads()) {
    if (n != old_) openblas_set_num_threads(n);
  }
  ~thread_scope() {
    if (openblas_get_num_threads() != old_) openblas_set_num_threads(old_);
  }
  thread_scope(const thread_scope&) = delete;
  thread_scope& operator=(const thread_scope&) = delete;

 private:
  int old_;
};

/// Whether the user chose OpenBLAS's kernel family themselves (the core guard then leaves it alone).
inline bool core_type_chosen_by_user() { return std::getenv("OPENBLAS_CORETYPE") != nullptr && std::getenv("SPECDYN_BLAS_DETECTED_CORE") == nullptr; }

/// The core OpenBLAS detected before `ensure_native_core` re-ran the process with a better one
/// ("" when it did not).
SPECDYN_CORE_FN std::string detected_core()
#if SPECDYN_CORE_BODIES
{
  const char* v = std::getenv("SPECDYN_BLAS_DETECTED_CORE");
  return v ? v : "";
}
#else
;
#endif

/// The kernel family a CPU with these features should use when OpenBLAS picked a generic or older
/// one, or "" when its choice is fine. Debian's OpenBLAS 0.3.21 detects some recent CPUs (e.g.
/// Sapphire Rapids) as "Prescott", whose GEMMs are 3–4× slower.
SPECDYN_CORE_FN std::string better_core(const std::string& detected, bool avx512, bool avx2, bool amd)
#if SPECDYN_CORE_BODIES
{
  static constexpr const char* old_families[] = {"Prescott", "Core2",  "Penryn",     "Dunnington", "Nehalem", "Atom",   "Sandybridge",
                                                 "Katmai",   "Coppermine", "Northwood", "Banias",  "Unknown", "Generic", "Barcelona",
                                                 "Opteron",  "Opteron_SSE3", "Bobcat", "Bulldozer", "Piledriver", "Steamroller", "Excavator"};
  if (std::find(std::begin(old_families), std::end(old_families), detected) == std::end(old_families)) return "";
  if (amd && avx2) return "Zen";
  if (avx512) return "SkylakeX";
  if (avx2) return "Haswell";
  return "";
}
#else
;
#endif

/// At start-up: when OpenBLAS picked a generic or older kernel family on a CPU with AVX2/AVX-512,
/// re-execute this program once with OPENBLAS_CORETYPE set to the matching family (a user-set
/// OPENBLAS_CORETYPE is always respected). Prints one line on stderr when stderr is a terminal;
/// records carry the detected core as machine.blas_core_detected. Returns only if nothing is done.
SPECDYN_CORE_FN void ensure_native_core(char** argv)
#if SPECDYN_CORE_BODIES
{
#if defined(__x86_64__) && defined(__linux__)
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice, or our own re-run
  __builtin_cpu_init();
  const std::string detected = core_name();
  const std::string better = better_core(detected, __builtin_cpu_supports("avx512f"), __builtin_cpu_supports("avx2"), __builtin_cpu_is("amd"));
  if (better.empty()) return;
  ::setenv("OPENBLAS_CORETYPE", better.c_str(), 1);
  ::setenv("SPECDYN_BLAS_DETECTED_CORE", detected.c_str(), 1);
  if (::isatty(2))
    std::fprintf(stderr, "specdyn: OpenBLAS chose the %s kernels on a CPU with %s; re-running with OPENBLAS_CORETYPE=%s (set it yourself to override)\n",
                 detected.c_str(), __builtin_cpu_supports("avx512f") ? "AVX-512" : "AVX2", better.c_str());
  ::execv("/proc/self/exe", argv);
  // exec failed: carry on with the detected kernels
  ::unsetenv("OPENBLAS_CORETYPE");
  ::unsetenv("SPECDYN_BLAS_DETECTED_CORE");
#else
  (void)argv;
#endif
}
#else
;
#endif

}  // namespace specdyn::blas
