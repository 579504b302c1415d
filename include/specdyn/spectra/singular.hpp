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
#include "specdyn/data/rng.hpp"
#include "specdyn/errors.hpp"

#if SPECDYN_CORE_BODIES  // Eigen, Spectra and LAPACK's bindings: parsed only where the bodies compile (core.hpp)
#include <Eigen/Core>
#include <Eigen/QR>
#include <Eigen/SVD>
#include <Spectra/SymEigsSolver.h>
#include <xtensor-blas/xlinalg.hpp>
#endif

namespace specdyn::spectra {

using matrix = xt::xtensor<double, 2>;

struct singular_result {
  std::vector<double> values;  // descending
  matrix left;                 // [n, k] left singular vectors (columns), when requested
  matrix right;                // [m, k] right singular vectors (columns), when requested
  std::string method;          // "lapack", "krylov" or "subspace" (where Lanczos broke down)
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

/// Top k singular values by randomized subspace iteration (k + 10 columns, a fixed seed, QR between
/// products): the fallback where Lanczos breaks down. It does on matrices of rank below k + 1, whose
/// Krylov space closes before k vectors (e.g. the sign of a rank-one matrix, which is rank one);
/// subspace iteration returns their zero singular values exactly. Converged when the top k change by
/// less than tol (relative to the largest) between iterations; throws solver_error otherwise.
inline singular_result subspace_top(const matrix& m, std::size_t k, bool vectors, double tol) {
  using rmat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const rmat> a(m.data(), Eigen::Index(m.shape(0)), Eigen::Index(m.shape(1)));
  const Eigen::Index small = std::min(a.rows(), a.cols()), l = std::min(small, Eigen::Index(k) + 10);
  rng gen(0x5eed, rng::stream::lanczos);
  Eigen::MatrixXd omega(a.cols(), l);
  for (Eigen::Index j = 0; j < l; ++j)
    for (Eigen::Index i = 0; i < a.cols(); ++i) omega(i, j) = gen.normal();
  const auto orth = [](const Eigen::MatrixXd& y) -> Eigen::MatrixXd {
    return Eigen::HouseholderQR<Eigen::MatrixXd>(y).householderQ() * Eigen::MatrixXd::Identity(y.rows(), y.cols());
  };
  Eigen::MatrixXd q = orth(a * omega);
  Eigen::VectorXd prev = Eigen::VectorXd::Constant(l, -1.0);
  double change = 0;
  for (int it = 0; it < 500; ++it) {
    const Eigen::MatrixXd z = orth(a.transpose() * q);  // [cols, l]
    q = orth(a * z);
    const Eigen::MatrixXd b = q.transpose() * a;  // [l, cols]: the range's restriction
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(b, vectors ? Eigen::ComputeThinU | Eigen::ComputeThinV : 0);
    const Eigen::VectorXd sv = svd.singularValues();
    change = 0;
    for (std::size_t j = 0; j < k; ++j) change = std::max(change, std::abs(sv[Eigen::Index(j)] - prev[Eigen::Index(j)]));
    prev = sv;
    if (change <= tol * std::max(sv[0], 1e-300)) {
      singular_result r;
      r.method = "subspace";
      for (std::size_t j = 0; j < k; ++j) r.values.push_back(sv[Eigen::Index(j)]);
      if (vectors) {
        const Eigen::MatrixXd u = q * svd.matrixU(), v = svd.matrixV();
        r.left = matrix({std::size_t(a.rows()), k});
        r.right = matrix({std::size_t(a.cols()), k});
        for (std::size_t j = 0; j < k; ++j) {
          for (Eigen::Index i = 0; i < a.rows(); ++i) r.left(std::size_t(i), j) = u(i, Eigen::Index(j));
          for (Eigen::Index i = 0; i < a.cols(); ++i) r.right(std::size_t(i), j) = v(i, Eigen::Index(j));
        }
      }
      return r;
    }
  }
  throw solver_error("top-" + std::to_string(k) + " singular values: Lanczos broke down and subspace iteration did not converge in 500 " +
                     "iterations (last change " + std::to_string(change) + " against tol " + std::to_string(tol) + ")");
}
}  // namespace detail
#endif

/// Top k singular values (and vectors) by implicitly restarted Lanczos on the smaller Gram matrix.
/// Converges to `tol` relative accuracy in σ²; throws solver_error (with the count converged)
/// if Lanczos does not converge. Where Lanczos breaks down (rank below k + 1) the values come from
/// randomized subspace iteration instead (method "subspace").
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
  } catch (const std::exception&) {  // a breakdown: the Krylov space closed (rank below k + 1)
    return detail::subspace_top(m, k, vectors, tol);
  }
  if (eigs.info() == Spectra::CompInfo::NumericalIssue) return detail::subspace_top(m, k, vectors, tol);
  if (eigs.info() != Spectra::CompInfo::Successful)
    throw solver_error("Krylov top-" + std::to_string(k) + " singular values did not converge (" +
                       std::to_string(converged) + " of " + std::to_string(k) + " converged, tol " + std::to_string(tol) + ")");
  // Lanczos can also "converge" on such a matrix to ghosts: copies of the top value whose Ritz
  // vectors are not orthogonal (seen on a rank-one matrix). Orthonormal Ritz vectors with small
  // residuals are the check; anything else goes to subspace iteration. Genuine Ritz vectors from
  // Spectra's reorthogonalised basis are orthonormal to ~1e-14 and converged ones have residuals
  // ≤ tol·λ (1e-11 by default); a ghost's overlap and residual are O(1) and O(λ), so the bounds
  // 1e-8 and 1e-5·λ_max sit far from both.
  const Eigen::VectorXd ev = eigs.eigenvalues();  // descending for LargestAlge
  const Eigen::MatrixXd vec = eigs.eigenvectors();
  {
    const Eigen::MatrixXd gram = vec.transpose() * vec - Eigen::MatrixXd::Identity(vec.cols(), vec.cols());
    bool ok = gram.cwiseAbs().maxCoeff() < 1e-8;
    std::vector<double> y(std::size_t(vec.rows()));
    for (Eigen::Index j = 0; ok && j < vec.cols(); ++j) {
      op.perform_op(vec.col(j).data(), y.data());
      double res = 0;
      for (Eigen::Index i = 0; i < vec.rows(); ++i) res += std::pow(y[std::size_t(i)] - ev[j] * vec(i, j), 2);
      ok = std::sqrt(res) <= 1e-5 * std::max(ev[0], 1e-300);
    }
    if (!ok) return detail::subspace_top(m, k, vectors, tol);
  }
  singular_result r;
  r.method = "krylov";
  for (Eigen::Index i = 0; i < ev.size(); ++i) r.values.push_back(std::sqrt(std::max(ev[i], 0.0)));
  if (vectors) {
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
