// The BLAS wrapper refuses shapes that do not agree (instead of reading or writing out of bounds)
// and dimensions beyond BLAS's 32-bit int.
#include <catch2/catch.hpp>

#include "specdyn/ad/blas.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

using namespace specdyn;

TEST_CASE("gemm checks shapes and the int range", "[blas]") {
  blas::matrix a = xt::ones<double>({3, 4}), b = xt::ones<double>({4, 5}), c = xt::zeros<double>({3, 5});
  blas::gemm(false, false, 1.0, a, b, 0.0, c);
  CHECK(c(2, 4) == 4.0);  // Σ_k 1·1 over k = 4
  blas::matrix wrong_inner = xt::ones<double>({3, 5});
  CHECK_THROWS_AS(blas::gemm(false, false, 1.0, a, wrong_inner, 0.0, c), std::invalid_argument);
  blas::matrix wrong_out = xt::zeros<double>({4, 5});
  CHECK_THROWS_WITH(blas::gemm(false, false, 1.0, a, b, 0.0, wrong_out), Catch::Contains("shape mismatch"));
  // transposes: Aᵀ [4, 3] · A [3, 4] = [4, 4]
  blas::matrix g = xt::zeros<double>({4, 4});
  blas::gemm(true, false, 1.0, a, a, 0.0, g);
  CHECK(g(0, 0) == 3.0);
  CHECK_THROWS_AS(blas::gemm(true, true, 1.0, a, a, 0.0, g), std::invalid_argument);  // Aᵀ Aᵀ: 4x3 · 4x3
  CHECK_THROWS_AS(blas::to_blas_int(std::size_t(1) << 31, "n"), std::length_error);
  CHECK(blas::to_blas_int(2147483647, "n") == 2147483647);
}

TEST_CASE("OpenBLAS core guard: generic or older families on AVX2/AVX-512 CPUs map to the native family", "[blas]") {
  using specdyn::blas::better_core;
  CHECK(better_core("Prescott", true, true, false) == "SkylakeX");
  CHECK(better_core("Prescott", false, true, false) == "Haswell");
  CHECK(better_core("Core2", false, true, true) == "Zen");
  CHECK(better_core("Sandybridge", false, true, false) == "Haswell");
  CHECK(better_core("Prescott", false, false, false) == "");  // an old CPU keeps its kernels
  CHECK(better_core("Haswell", true, true, false) == "");     // a modern choice is left alone
  CHECK(better_core("SkylakeX", true, true, false) == "");
  CHECK(better_core("Zen", false, true, true) == "");
}

TEST_CASE("narrow products (a weight times a small batch) equal the textbook sums for every width 1 … 17", "[blas]") {
  // The streaming kernels take op(A) B with n ≤ 16 columns and no transposed B; 17 and Bᵀ go to
  // OpenBLAS. Every branch is compared with a plain triple loop in long double: both orientations,
  // row counts that are and are not multiples of the eight-row blocks, β = 0 (C's old contents,
  // NaN here, ignored), β = 1 and β = 0.5, and a C wider than the product (ldc > n).
  std::uint64_t state = 12345;
  auto uniform = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return double(state >> 11) / double(1ULL << 53) - 0.5;
  };
  for (const bool trans : {false, true})
    for (const std::size_t rows : {std::size_t(64), std::size_t(77)})
      for (std::size_t n = 1; n <= 17; ++n)
        for (const double beta : {0.0, 1.0, 0.5}) {
          const std::size_t cols = 93;  // A [rows, cols]; op(A) is [rows, cols] or [cols, rows]
          const std::size_t m = trans ? cols : rows, k = trans ? rows : cols, ldc = n + 3;
          std::vector<double> a(rows * cols), b(k * n), c(m * ldc);
          for (auto& v : a) v = uniform();
          for (auto& v : b) v = uniform();
          for (auto& v : c) v = beta == 0 ? std::nan("") : uniform();
          const std::vector<double> c0 = c;
          blas::gemm(trans, false, 1.5, a.data(), rows, cols, b.data(), k, n, beta, c.data(), m, ldc);
          double worst = 0;
          for (std::size_t i = 0; i < m; ++i)
            for (std::size_t q = 0; q < ldc; ++q) {
              if (q >= n) {  // beyond the product: untouched
                CHECK((std::isnan(c[i * ldc + q]) ? std::isnan(c0[i * ldc + q]) : c[i * ldc + q] == c0[i * ldc + q]));
                continue;
              }
              long double s = 0;
              for (std::size_t j = 0; j < k; ++j) s += (long double)(trans ? a[j * cols + i] : a[i * cols + j]) * b[j * n + q];
              const long double want = 1.5L * s + (beta == 0 ? 0.0L : (long double)beta * c0[i * ldc + q]);
              worst = std::max(worst, double(std::abs(want - (long double)c[i * ldc + q])));
            }
          INFO("op(A) " << (trans ? "Aᵀ" : "A") << ", rows " << rows << ", n " << n << ", beta " << beta);
          CHECK(worst < 1e-13);  // sums of at most 93 products of O(1) numbers: rounding ≈ 1e-15
        }
}
