// Thin, allocation-free wrappers around OpenBLAS for row-major xtensor matrices, plus the BLAS
// facts a run record needs (core name, threads). Every matrix product in the library goes through
// gemm() here, so a benchmark of the generated step measures the same calls a hand-written one makes.
//   specdyn::blas::gemm(false, true, 1.0, A, B, 1.0, C);   // C += A Bᵀ
#pragma once

#include <cstddef>
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

/// C = alpha op(A) op(B) + beta C for row-major matrices; op is a transpose when the flag is set.
/// The shapes must agree (checked in debug builds); no allocation, no copy of transposes.
inline void gemm(bool trans_a, bool trans_b, double alpha, const double* a, std::size_t a_rows, std::size_t a_cols,
                 const double* b, std::size_t b_rows, std::size_t b_cols, double beta, double* c, std::size_t ldc) {
  const std::size_t m = trans_a ? a_cols : a_rows;
  const std::size_t k = trans_a ? a_rows : a_cols;
  const std::size_t n = trans_b ? b_rows : b_cols;
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m), int(n),
              int(k), alpha, a, int(a_cols), b, int(b_cols), beta, c, int(ldc));
}

template <class A, class B, class C>
inline void gemm(bool trans_a, bool trans_b, double alpha, const A& a, const B& b, double beta, C& c) {
  gemm(trans_a, trans_b, alpha, a.data(), a.shape(0), a.shape(1), b.data(), b.shape(0), b.shape(1), beta, c.data(),
       c.shape(1));
}

/// The CPU kernel family OpenBLAS selected at load time (e.g. "Haswell", "SkylakeX").
inline std::string core_name() { return openblas_get_corename(); }
inline int num_threads() { return openblas_get_num_threads(); }

}  // namespace specdyn::blas
