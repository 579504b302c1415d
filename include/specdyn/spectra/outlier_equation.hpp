// Outliers of a finite-rank perturbation M = X + U Θ Vᵀ of a matrix X: the singular values of M
// above the spectrum of X are the roots of det(I − Θ_d K(s)) with the Hermitian dilation
//   Θ_d = [[0, Θ], [Θᵀ, 0]],   K(s) = [[Uᵀ s(s² − XXᵀ)⁻¹ U,   Uᵀ X(s² − XᵀX)⁻¹ V],
//                                    [Vᵀ Xᵀ(s² − XXᵀ)⁻¹ U,  Vᵀ s(s² − XᵀX)⁻¹ V]]
// (Benaych-Georges–Nadakuditi; docs/spectra-theory.md). For s above the spectrum K(s) is positive
// semi-definite and decreasing in s, so the positive eigenvalues of K^{1/2} Θ_d K^{1/2} decrease in
// s too: the number of outliers above s is the number of those eigenvalues above 1, and each
// outlier is where one of them crosses 1. `crossings` finds those points for any such family;
// `semi_empirical_outliers` evaluates K(s) exactly from a trained network's X, U, Θ, V, the
// debugging ground truth for the infinite-width theory (dmft/spectral.hpp).
//   auto roots = specdyn::spectra::semi_empirical_outliers(X, U, theta, V);   // descending
#pragma once

#include "specdyn/core.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#if SPECDYN_CORE_BODIES  // LAPACK through xtensor-blas: parsed only where the bodies compile (core.hpp)
#include <xtensor-blas/xlinalg.hpp>
#endif
#include <xtensor/xview.hpp>

#include "specdyn/ad/blas.hpp"
#include "specdyn/data/rng.hpp"
#include "specdyn/errors.hpp"

extern "C" void dsyevr_(const char* jobz, const char* range, const char* uplo, const int* n, double* a, const int* lda,
                        const double* vl, const double* vu, const int* il, const int* iu, const double* abstol, int* m,
                        double* w, double* z, const int* ldz, int* isuppz, double* work, const int* lwork, int* iwork,
                        const int* liwork, int* info);

namespace specdyn::spectra {

using matrix = xt::xtensor<double, 2>;

/// Eigenpairs of a symmetric matrix with eigenvalue above `floor` (LAPACK dsyevr: tridiagonal
/// reduction plus only the requested vectors, several times cheaper than a full eigh when few
/// directions are kept). Returns eigenvalues descending and vectors as columns [n, k] (row-major).
SPECDYN_CORE_FN std::pair<std::vector<double>, matrix> eigen_above(const matrix& a, double floor)
#if SPECDYN_CORE_BODIES
{
  const int n = blas::to_blas_int(a.shape(0), "n");
  if (n == 0) return {{}, matrix({0, 0})};
  std::vector<double> work_a(a.begin(), a.end());  // symmetric: row-major = column-major
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < i; ++j) work_a[std::size_t(i) * n + j] = work_a[std::size_t(j) * n + i] = 0.5 * (a(i, j) + a(j, i));
  double top = 0;
  for (int i = 0; i < n; ++i) top = std::max(top, std::abs(a(i, i)));
  const double vl = floor, vu = 2 * (top * n + std::abs(floor)) + 1;  // Gershgorin-safe upper bound for a PSD Gram
  const int il = 0, iu = 0, lda = n, ldz = n;
  const double abstol = 0;
  int m = 0, info = 0, lwork = -1, liwork = -1, iwork_q = 0;
  double work_q = 0;
  const auto un = static_cast<std::size_t>(n);
  std::vector<double> w(un), z(un * un);
  std::vector<int> isuppz(2 * un);
  dsyevr_("V", "V", "U", &n, work_a.data(), &lda, &vl, &vu, &il, &iu, &abstol, &m, w.data(), z.data(), &ldz, isuppz.data(), &work_q,
          &lwork, &iwork_q, &liwork, &info);
  lwork = int(work_q);
  liwork = iwork_q;
  std::vector<double> work(static_cast<std::size_t>(std::max(lwork, 1)));
  std::vector<int> iwork(static_cast<std::size_t>(std::max(liwork, 1)));
  dsyevr_("V", "V", "U", &n, work_a.data(), &lda, &vl, &vu, &il, &iu, &abstol, &m, w.data(), z.data(), &ldz, isuppz.data(), work.data(),
          &lwork, iwork.data(), &liwork, &info);
  if (info != 0) throw solver_error("symmetric eigenproblem (dsyevr) failed with info = " + std::to_string(info));
  std::vector<double> values(static_cast<std::size_t>(m));
  matrix vectors({un, static_cast<std::size_t>(m)});
  for (int k = 0; k < m; ++k) {  // ascending from LAPACK → descending; z is column-major [n, m]
    const int src = m - 1 - k;
    values[std::size_t(k)] = w[std::size_t(src)];
    for (int i = 0; i < n; ++i) vectors(std::size_t(i), std::size_t(k)) = z[std::size_t(src) * n + i];
  }
  return {values, vectors};
}
#else
;
#endif

/// Eigenvalues of a symmetric matrix, descending.
SPECDYN_CORE_FN std::vector<double> eigenvalues_desc(const matrix& a)
#if SPECDYN_CORE_BODIES
{
  if (a.size() == 0) return {};
  matrix sym = 0.5 * (a + xt::transpose(a));
  auto ev = xt::linalg::eigvalsh(sym);
  std::vector<double> v(ev.begin(), ev.end());
  std::sort(v.begin(), v.end(), std::greater<>());
  return v;
}
#else
;
#endif

/// For a family of symmetric matrices whose eigenvalues μ_1(s) ≥ μ_2(s) ≥ … decrease in s, the
/// points s_k in (lo, hi) where μ_k(s_k) = 1, descending (largest outlier first). `eigs(s)`
/// returns the eigenvalues in descending order. Brent's method to relative precision `tol`.
SPECDYN_CORE_FN std::vector<double> crossings(const std::function<std::vector<double>(double)>& eigs, double lo, double hi,
                                              double tol = 1e-13)
#if SPECDYN_CORE_BODIES
{
  const std::vector<double> at_lo = eigs(lo);
  std::size_t count = 0;
  while (count < at_lo.size() && at_lo[count] > 1.0) ++count;
  std::vector<double> roots;
  for (std::size_t k = 0; k < count; ++k) {
    auto f = [&](double s) {
      const auto e = eigs(s);
      return (k < e.size() ? e[k] : 0.0) - 1.0;
    };
    double a = lo, b = hi, fa = at_lo[k] - 1.0, fb = f(b);
    for (int grow = 0; fb > 0 && grow < 60; ++grow) {  // widen until the bracket holds the crossing
      a = b;
      fa = fb;
      b = lo + 2 * (b - lo);
      fb = f(b);
    }
    if (fb > 0) throw solver_error("outlier equation: no crossing of eigenvalue " + std::to_string(k + 1) + " found below s = " + std::to_string(b));
    // Brent's method on [a, b] with f(a) > 0 > f(b)
    double c = a, fc = fa, d = b - a, e = d;
    for (int it = 0; it < 200; ++it) {
      if ((fb > 0) == (fc > 0)) { c = a; fc = fa; d = e = b - a; }
      if (std::abs(fc) < std::abs(fb)) { a = b; b = c; c = a; fa = fb; fb = fc; fc = fa; }
      const double tol1 = 2e-16 * std::abs(b) + 0.5 * tol * std::abs(b), m = 0.5 * (c - b);
      if (std::abs(m) <= tol1 || fb == 0) break;
      if (std::abs(e) >= tol1 && std::abs(fa) > std::abs(fb)) {
        double p, q, r;
        const double s_ = fb / fa;
        if (a == c) { p = 2 * m * s_; q = 1 - s_; }
        else {
          q = fa / fc;
          r = fb / fc;
          p = s_ * (2 * m * q * (q - r) - (b - a) * (r - 1));
          q = (q - 1) * (r - 1) * (s_ - 1);
        }
        if (p > 0) q = -q; else p = -p;
        if (2 * p < std::min(3 * m * q - std::abs(tol1 * q), std::abs(e * q))) { e = d; d = p / q; }
        else { d = m; e = d; }
      } else { d = m; e = d; }
      a = b;
      fa = fb;
      b += std::abs(d) > tol1 ? d : (m > 0 ? tol1 : -tol1);
      fb = f(b);
    }
    roots.push_back(b);
  }
  return roots;
}
#else
;
#endif

/// The symmetric square root K^{1/2} of a positive semi-definite matrix (negative rounding clipped).
SPECDYN_CORE_FN matrix psd_sqrt(const matrix& k)
#if SPECDYN_CORE_BODIES
{
  matrix sym = 0.5 * (k + xt::transpose(k));
  auto [lam, vec_cm] = xt::linalg::eigh(sym);
  const matrix vec = vec_cm;  // eigh returns column-major storage
  const std::size_t n = k.shape(0);
  matrix scaled = vec;
  for (std::size_t j = 0; j < n; ++j) {
    const double r = std::sqrt(std::max(lam(j), 0.0));
    for (std::size_t i = 0; i < n; ++i) scaled(i, j) *= r;
  }
  matrix out({n, n});
  blas::gemm(false, true, 1.0, scaled, vec, 0.0, out);
  return out;
}
#else
;
#endif

/// Singular values of X + U Θ Vᵀ above max(floor, σ_max(X)·(1 + 1e-9)), descending, from the
/// exact determinant of the dilation. X [n, m], U [n, r], Θ [r, r], V [m, r]. Just above σ_max(X)
/// a rank-r update also lifts up to r bulk values; pass the bulk edge as `floor` to get outliers.
SPECDYN_CORE_FN std::vector<double> semi_empirical_outliers(const matrix& x, const matrix& u, const matrix& theta, const matrix& v,
                                                            double floor = 0.0)
#if SPECDYN_CORE_BODIES
{
  const std::size_t n = x.shape(0), m = x.shape(1), r = u.shape(1);
  require(u.shape(0) == n && v.shape(0) == m && v.shape(1) == r && theta.shape(0) == r && theta.shape(1) == r,
          "semi-empirical determinant shapes", r, "need X [n, m], U [n, r], Θ [r, r], V [m, r]");
  auto [p, sv, qt] = xt::linalg::svd(x, false, true);  // X = P diag(sv) Qᵀ (thin)
  const std::size_t k = sv.size();
  matrix ut({k, r}), vt({k, r});  // Pᵀ U, Qᵀ V
  blas::gemm(true, false, 1.0, matrix(p), u, 0.0, ut);
  blas::gemm(false, false, 1.0, matrix(qt), v, 0.0, vt);
  // directions of the larger side outside the thin SVD (singular value 0): their resolvent is 1/s
  matrix u_perp({r, r}), v_perp({r, r});
  {
    matrix uu({r, r}), vv({r, r}), a({r, r}), b({r, r});
    blas::gemm(true, false, 1.0, u, u, 0.0, uu);
    blas::gemm(true, false, 1.0, v, v, 0.0, vv);
    blas::gemm(true, false, 1.0, ut, ut, 0.0, a);
    blas::gemm(true, false, 1.0, vt, vt, 0.0, b);
    u_perp = uu - a;  // Uᵀ(I − PPᵀ)U
    v_perp = vv - b;
  }
  const double top = k ? sv(0) : 0.0;
  matrix th_d = xt::zeros<double>({2 * r, 2 * r});
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < r; ++j) {
      th_d(i, r + j) = theta(i, j);
      th_d(r + j, i) = theta(i, j);
    }
  auto eigs = [&](double s) {
    matrix kk = xt::zeros<double>({2 * r, 2 * r});
    matrix wu = ut, wv = vt, wc = vt;
    for (std::size_t i = 0; i < k; ++i) {
      const double den = s * s - sv(i) * sv(i);
      for (std::size_t j = 0; j < r; ++j) {
        wu(i, j) *= s / den;
        wv(i, j) *= s / den;
        wc(i, j) *= sv(i) / den;
      }
    }
    matrix a({r, r}), b({r, r}), c({r, r});
    blas::gemm(true, false, 1.0, ut, wu, 0.0, a);  // Uᵀ s(s² − XXᵀ)⁻¹ U
    blas::gemm(true, false, 1.0, vt, wv, 0.0, b);  // Vᵀ s(s² − XᵀX)⁻¹ V
    blas::gemm(true, false, 1.0, ut, wc, 0.0, c);  // Uᵀ X (s² − XᵀX)⁻¹ V
    for (std::size_t i = 0; i < r; ++i)
      for (std::size_t j = 0; j < r; ++j) {
        kk(i, j) = a(i, j) + (n > k ? u_perp(i, j) / s : 0.0);
        kk(r + i, r + j) = b(i, j) + (m > k ? v_perp(i, j) / s : 0.0);
        kk(i, r + j) = c(i, j);
        kk(r + j, i) = c(i, j);
      }
    const matrix half = psd_sqrt(kk);
    matrix tmp({2 * r, 2 * r}), sym({2 * r, 2 * r});
    blas::gemm(false, false, 1.0, half, th_d, 0.0, tmp);
    blas::gemm(false, false, 1.0, tmp, half, 0.0, sym);
    return eigenvalues_desc(sym);
  };
  double frob = 0;
  for (double t : theta) frob += t * t;
  double scale_u = 0, scale_v = 0;
  for (double t : u) scale_u += t * t;
  for (double t : v) scale_v += t * t;
  const double lo = std::max(floor, top * (1 + 1e-9) + 1e-300), hi = lo + std::sqrt(frob * scale_u * scale_v) + 1.0;
  return crossings(eigs, lo, hi);
}
#else
;
#endif

/// Vectors independent of any matrix with exactly the Gram matrix of `a` [n, r]: Q C with Q an
/// orthonormal basis of a fresh Gaussian [n, r] (seeded) and CᵀC = aᵀa. Cuts the dependence of
/// spike vectors on the bulk while keeping level 1 (their Gram matrices) intact.
SPECDYN_CORE_FN matrix fresh_with_same_gram(const matrix& a, std::uint64_t seed)
#if SPECDYN_CORE_BODIES
{
  const std::size_t n = a.shape(0), r = a.shape(1);
  matrix z({n, r});
  rng gen(seed, rng::stream::lanczos, 4242);
  for (auto& x : z) x = gen.normal();
  auto [q, rr] = xt::linalg::qr(z, xt::linalg::qrmode::reduced);
  matrix gram({r, r});
  blas::gemm(true, false, 1.0, a, a, 0.0, gram);
  const matrix c = psd_sqrt(gram);  // symmetric C with CᵀC = C² = aᵀa
  matrix out({n, r});
  blas::gemm(false, false, 1.0, matrix(q), c, 0.0, out);
  return out;
}
#else
;
#endif

}  // namespace specdyn::spectra
