// Thin, allocation-free wrappers around OpenBLAS for row-major xtensor matrices, plus the BLAS
// facts a run record needs (core name, threads). Every matrix product in the library goes through
// gemm() here, so a benchmark of the generated step measures the same calls a hand-written one makes.
//   specdyn::blas::gemm(false, true, 1.0, A, B, 1.0, C);   // C += A Bᵀ
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

// xtensor-blas declares the CBLAS interface itself (xflens/cxxblas/drivers/cblas.h) and its
// declarations clash with OpenBLAS's cblas.h, so the CBLAS prototypes come from there.
#include <xtensor-blas/xblas.hpp>
#include <xtensor/xtensor.hpp>

extern "C" {
char* openblas_get_corename(void);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
}

namespace specdyn::blas {

using matrix = xt::xtensor<double, 2>;

/// Narrows a dimension to BLAS's int, refusing values that do not fit.
inline int to_blas_int(std::size_t v, const char* what) {
  if (v > std::size_t(std::numeric_limits<int>::max()))
    throw std::length_error(std::string("specdyn: BLAS dimension ") + what + " = " + std::to_string(v) +
                            " exceeds the 32-bit range of this BLAS");
  return int(v);
}

/// C = alpha op(A) op(B) + beta C for row-major matrices; op is a transpose when the flag is set.
/// Shapes are checked on every call (a few comparisons): a mismatch throws std::invalid_argument
/// naming the shapes instead of letting BLAS read or write out of bounds. No allocation, no copy
/// of transposes.
inline void gemm(bool trans_a, bool trans_b, double alpha, const double* a, std::size_t a_rows, std::size_t a_cols,
                 const double* b, std::size_t b_rows, std::size_t b_cols, double beta, double* c, std::size_t c_rows,
                 std::size_t ldc) {
  const std::size_t m = trans_a ? a_cols : a_rows;
  const std::size_t k = trans_a ? a_rows : a_cols;
  const std::size_t kb = trans_b ? b_cols : b_rows;
  const std::size_t n = trans_b ? b_rows : b_cols;
  if (k != kb || c_rows != m || ldc < n)
    throw std::invalid_argument("specdyn: gemm shape mismatch: op(A) is " + std::to_string(m) + "x" + std::to_string(k) +
                                ", op(B) is " + std::to_string(kb) + "x" + std::to_string(n) + ", C is " +
                                std::to_string(c_rows) + "x" + std::to_string(ldc));
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              to_blas_int(m, "m"), to_blas_int(n, "n"), to_blas_int(k, "k"), alpha, a,
              to_blas_int(std::max<std::size_t>(a_cols, 1), "lda"), b, to_blas_int(std::max<std::size_t>(b_cols, 1), "ldb"),
              beta, c, to_blas_int(std::max<std::size_t>(ldc, 1), "ldc"));
}

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
inline void gemv(bool trans, double alpha, const double* a, std::size_t rows, std::size_t cols, const double* x,
                 double beta, double* y) {
  if (rows == 0 || cols == 0) return;
  cblas_dgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, to_blas_int(rows, "rows"), to_blas_int(cols, "cols"), alpha,
              a, to_blas_int(cols, "lda"), x, 1, beta, y, 1);
}

/// The CPU kernel family OpenBLAS selected at load time (e.g. "Haswell", "SkylakeX").
inline std::string core_name() { return openblas_get_corename(); }
inline int num_threads() { return openblas_get_num_threads(); }

}  // namespace specdyn::blas
