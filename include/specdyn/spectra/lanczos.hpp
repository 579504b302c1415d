// The top eigenvalue of a symmetric operator given only by its products, by implicitly restarted
// Lanczos (Spectra): used for the loss Hessian (spectra/hessian.hpp); and of a dense symmetric matrix
// (the NTK: spectra/ntk.hpp, dmft/lazy.hpp), by LAPACK when small and Lanczos when large. Compiled
// once, in the core library; Eigen, Spectra and LAPACK's bindings are parsed only there.
#pragma once

#include "specdyn/core.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "specdyn/ad/blas.hpp"
#include "specdyn/errors.hpp"

#if SPECDYN_CORE_BODIES
#include <Eigen/Core>
#include <Spectra/SymEigsSolver.h>
#include <xtensor-blas/xlinalg.hpp>
#endif

namespace specdyn::spectra {

/// Largest algebraic eigenvalue of a symmetric operator given by apply(x, y): y = A x, by
/// implicitly restarted Lanczos; throws solver_error when it does not converge. A zero operator
/// (e.g. the Hessian at all-zero inputs) is answered 0 without Lanczos, which cannot start from it:
/// it is detected by applying the operator to a fixed generic vector.
/// Not a template: the Lanczos code is compiled once, in the core library (core.hpp), for every
/// operator.
SPECDYN_CORE_FN double lanczos_top(std::size_t dim, const std::function<void(const double*, double*)>& apply,
                                   double tol = 1e-10, std::size_t ncv = 20)
#if SPECDYN_CORE_BODIES
{
  struct op_t {
    using Scalar [[maybe_unused]] = double;  // read by Spectra
    std::size_t n;
    const std::function<void(const double*, double*)>* f;
    [[nodiscard]] Eigen::Index rows() const { return Eigen::Index(n); }
    [[nodiscard]] Eigen::Index cols() const { return Eigen::Index(n); }
    void perform_op(const double* x, double* y) const { (*f)(x, y); }
  } op{dim, &apply};
  require(dim >= 2, "operator dimension", dim, "needs at least 2");
  {
    std::vector<double> probe(dim), image(dim, 0.0);
    for (std::size_t i = 0; i < dim; ++i) probe[i] = std::sin(1.0 + 0.7548776662 * double(i)) + 0.5;  // generic, deterministic
    apply(probe.data(), image.data());
    double norm = 0;
    for (double v : image) norm = std::max(norm, std::abs(v));
    if (norm == 0) return 0.0;
  }
  Spectra::SymEigsSolver<op_t> eigs(op, 1, Eigen::Index(std::min(ncv, dim)));
  eigs.init();
  try {
    eigs.compute(Spectra::SortRule::LargestAlge, 500, tol);
  } catch (const std::exception& e) {
    throw solver_error(std::string("Lanczos for the top eigenvalue failed: ") + e.what());
  }
  if (eigs.info() != Spectra::CompInfo::Successful)
    throw solver_error("Lanczos for the top eigenvalue did not converge (tol " + std::to_string(tol) + ", " +
                       std::to_string(eigs.num_iterations()) + " restarts, " + std::to_string(eigs.num_operations()) +
                       " products)");
  return eigs.eigenvalues()[0];
}
#else
;
#endif

/// Dimension up to which dense_top_eigenvalue uses LAPACK's full eigensolve; above it, Lanczos on
/// the matrix (a few dozen products instead of O(n³) work: measured on one core, n = 1024 ≈ 20 ms
/// against ≈ 0.3 s; n = 3200, the NTK of 50 outputs on 64 points, ≈ 0.2 s against ≈ 3 s).
inline constexpr std::size_t dense_eigensolve_limit = 256;

/// λ_max of a dense symmetric matrix [n, n]; 0 for the zero matrix. Relative accuracy ≈ 1e-12.
SPECDYN_CORE_FN double dense_top_eigenvalue(const xt::xtensor<double, 2>& k)
#if SPECDYN_CORE_BODIES
{
  const std::size_t n = k.shape(0);
  require(k.shape(1) == n, "matrix columns", k.shape(1), "must equal its rows (" + std::to_string(n) + ")");
  if (n == 0) return 0.0;
  if (n <= dense_eigensolve_limit) return xt::amax(xt::linalg::eigvalsh(k))();
  return lanczos_top(n, [&](const double* x, double* y) { blas::gemv(false, 1.0, k.data(), n, n, x, 0.0, y); }, 1e-12);
}
#else
;
#endif

}  // namespace specdyn::spectra
