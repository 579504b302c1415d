// The BLAS wrapper refuses shapes that do not agree (instead of reading or writing out of bounds)
// and dimensions beyond BLAS's 32-bit int.
#include <catch2/catch.hpp>

#include "specdyn/ad/blas.hpp"

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
