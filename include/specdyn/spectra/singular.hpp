// Singular values of weight matrices: all of them by LAPACK (gesdd through xtensor-blas), or the
// top k by a Krylov method (Spectra's Lanczos on the smaller Gram matrix, matrix-free, two GEMVs
// per iteration), with singular vectors when asked. `singular_values_auto` picks by size.
//   auto top = specdyn::spectra::top_singular(M, 16, /*vectors=*/true);   // top.values descending
#pragma once

#include "specdyn/core.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "specdyn/ad/blas.hpp"
#include "specdyn/errors.hpp"

#if SPECDYN_CORE_BODIES  // Eigen, Spectra and LAPACK's bindings: parsed only where the bodies compile (core.hpp)
#include <Eigen/Core>
#include <Spectra/SymEigsSolver.h>
#include <xtensor-blas/xlinalg.hpp>
#endif

namespace specdyn::spectra {

using matrix = xt::xtensor<double, 2>;

struct singular_result {
  std::vector<double> values;  // descending
  matrix left;                 // [n, k] left singular vectors (columns), when requested
  matrix right;                // [m, k] right singular vectors (columns), when requested
  std::string method;          // "lapack" or "krylov"
};

/// All singular values, descending (LAPACK gesdd, no vectors).
SPECDYN_CORE_FN singular_result all_singular(const matrix& m)
#if SPECDYN_CORE_BODIES
{
  auto [u, s, vt] = xt::linalg::svd(m, false, false);
  singular_result r;
  r.values.assign(s.begin(), s.end());
  std::sort(r.values.begin(), r.values.end(), std::greater<>());
  r.method = "lapack";
  return r;
}
#else
;
#endif

#if SPECDYN_CORE_BODIES
namespace detail {
/// y = M Mᵀ x (n ≤ m) or Mᵀ M x, for Spectra.
struct gram_op {
  using Scalar = double;
  const matrix* m;
  bool rows_side;  // true: operate in R^n with M Mᵀ
  mutable std::vector<double> tmp;
  [[nodiscard]] Eigen::Index rows() const { return Eigen::Index(rows_side ? m->shape(0) : m->shape(1)); }
  [[nodiscard]] Eigen::Index cols() const { return rows(); }
  void perform_op(const double* x, double* y) const {
    const std::size_t n = m->shape(0), k = m->shape(1);
    tmp.resize(rows_side ? k : n);
    blas::gemv(rows_side, 1.0, m->data(), n, k, x, 0.0, tmp.data());
    blas::gemv(!rows_side, 1.0, m->data(), n, k, tmp.data(), 0.0, y);
  }
};
}  // namespace detail
#endif

/// Top k singular values (and vectors) by implicitly restarted Lanczos on the smaller Gram matrix.
/// Converges to `tol` relative accuracy in σ²; throws solver_error (with the count converged)
/// if Lanczos does not converge.
SPECDYN_CORE_FN singular_result top_singular(const matrix& m, std::size_t k, bool vectors = false, double tol = 1e-11)
#if SPECDYN_CORE_BODIES
{
  const std::size_t n = m.shape(0), p = m.shape(1), small = std::min(n, p);
  require(k >= 1 && k < small, "top-k", k, "must be between 1 and min(rows, cols) - 1 = " + std::to_string(small - 1));
  double frob = 0;
  for (double v : m) frob += v * v;
  if (frob == 0) {  // Lanczos cannot start from a zero operator; the answer is known
    singular_result r;
    r.method = "krylov";
    r.values.assign(k, 0.0);
    if (vectors) {
      r.left = xt::zeros<double>({n, k});
      r.right = xt::zeros<double>({p, k});
      for (std::size_t j = 0; j < k; ++j) { r.left(j, j) = 1; r.right(j, j) = 1; }
    }
    return r;
  }
  detail::gram_op op{&m, n <= p, {}};
  const Eigen::Index ncv = Eigen::Index(std::min(small, std::max(2 * k + 1, k + 20)));
  Spectra::SymEigsSolver<detail::gram_op> eigs(op, Eigen::Index(k), ncv);
  eigs.init();
  Eigen::Index converged = 0;
  try {
    converged = eigs.compute(Spectra::SortRule::LargestAlge, 1000, tol);
  } catch (const std::exception& e) {
    throw solver_error(std::string("Krylov top-k singular values failed: ") + e.what());
  }
  if (eigs.info() != Spectra::CompInfo::Successful)
    throw solver_error("Krylov top-" + std::to_string(k) + " singular values did not converge (" +
                       std::to_string(converged) + " of " + std::to_string(k) + " converged, tol " + std::to_string(tol) + ")");
  singular_result r;
  r.method = "krylov";
  const Eigen::VectorXd ev = eigs.eigenvalues();  // descending for LargestAlge
  for (Eigen::Index i = 0; i < ev.size(); ++i) r.values.push_back(std::sqrt(std::max(ev[i], 0.0)));
  if (vectors) {
    const Eigen::MatrixXd vec = eigs.eigenvectors();
    matrix& side = op.rows_side ? r.left : r.right;
    matrix& other = op.rows_side ? r.right : r.left;
    side = matrix({std::size_t(vec.rows()), k});
    other = matrix({op.rows_side ? p : n, k});
    for (std::size_t j = 0; j < k; ++j) {
      for (Eigen::Index i = 0; i < vec.rows(); ++i) side(std::size_t(i), j) = vec(i, Eigen::Index(j));
      // the other side: Mᵀu/σ or Mv/σ
      std::vector<double> col(std::size_t(vec.rows())), out(op.rows_side ? p : n);
      for (Eigen::Index i = 0; i < vec.rows(); ++i) col[std::size_t(i)] = vec(i, Eigen::Index(j));
      blas::gemv(op.rows_side, 1.0 / std::max(r.values[j], 1e-300), m.data(), n, p, col.data(), 0.0, out.data());
      for (std::size_t i = 0; i < out.size(); ++i) other(i, j) = out[i];
    }
  }
  return r;
}
#else
;
#endif

/// All singular values when the matrix is small or k is a large fraction of it, else the top k.
SPECDYN_CORE_FN singular_result singular_values_auto(const matrix& m, std::size_t k, bool vectors = false)
#if SPECDYN_CORE_BODIES
{
  const std::size_t small = std::min(m.shape(0), m.shape(1));
  if (!vectors && (small <= 512 || 4 * k >= small)) return all_singular(m);
  return top_singular(m, std::min(k, small - 1), vectors);
}
#else
;
#endif

/// ‖M‖_F² / ‖M‖_op²
SPECDYN_CORE_FN double stable_rank(const matrix& m, double top)
#if SPECDYN_CORE_BODIES
{
  double f = 0;
  for (double v : m) f += v * v;
  return f / (top * top);
}
#else
;
#endif

}  // namespace specdyn::spectra
