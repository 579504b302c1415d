// Static Gaussian kernels of a declaration (docs/conventions.md §7): Φ^ℓ and G^ℓ at initialisation, in
// closed form where the activation has one (linear, ReLU, erf) and by bivariate Gauss–Hermite
// quadrature otherwise. Used by the lazy solver and to start the alternating scheme.
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <vector>

#if SPECDYN_CORE_BODIES  // LAPACK through xtensor-blas: parsed only where the bodies compile (core.hpp)
#include <xtensor-blas/xlinalg.hpp>
#endif

#include "specdyn/ad/program.hpp"
#include "specdyn/dmft/sources.hpp"

namespace specdyn::dmft {

/// Nodes and weights of the n-point Gauss–Hermite rule for the standard normal (Golub–Welsch).
SPECDYN_CORE_FN std::pair<std::vector<double>, std::vector<double>> gauss_hermite(std::size_t n)
#if SPECDYN_CORE_BODIES
{
  matrix j = xt::zeros<double>({n, n});
  for (std::size_t k = 1; k < n; ++k) j(k - 1, k) = j(k, k - 1) = std::sqrt(double(k));
  auto [lam, vec] = xt::linalg::eigh(j);
  std::vector<double> x(n), w(n);
  for (std::size_t k = 0; k < n; ++k) {
    x[k] = lam(k);
    w[k] = vec(0, k) * vec(0, k);
  }
  return {x, w};
}
#else
;
#endif

/// E[a(u) b(v)] for (u, v) ~ N(0, [[q1, c], [c, q2]]) by a 2-D Gauss–Hermite rule.
template <class A, class B>
double gauss_expect(A&& a, B&& b, double q1, double q2, double c) {
  static const auto rule = gauss_hermite(64);
  const auto& [x, w] = rule;
  const double s1 = std::sqrt(std::max(q1, 0.0));
  const double beta = s1 > 0 ? c / s1 : 0.0, rest = std::sqrt(std::max(q2 - beta * beta, 0.0));
  double sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double ai = a(s1 * x[i]);
    for (std::size_t k = 0; k < x.size(); ++k) sum += w[i] * w[k] * ai * b(beta * x[i] + rest * x[k]);
  }
  return sum;
}

template <class Act>
double kernel_phi(double q1, double q2, double c) {
  if constexpr (dsl::gaussian_kernel_activation<Act>) return Act::gauss_phi_phi(q1, q2, c);
  else return gauss_expect([](double u) { return Act::phi(u); }, [](double v) { return Act::phi(v); }, q1, q2, c);
}
template <class Act>
double kernel_dphi(double q1, double q2, double c) {
  if constexpr (dsl::gaussian_kernel_activation<Act>) return Act::gauss_dphi_dphi(q1, q2, c);
  else return gauss_expect([](double u) { return Act::dphi(u); }, [](double v) { return Act::dphi(v); }, q1, q2, c);
}

/// Static kernels Φ^ℓ(0,0) [P, P] and G^ℓ(0,0) [C·P, C·P] (ℓ = 1..L) of a declaration.
template <class Decl>
std::pair<std::vector<matrix>, std::vector<matrix>> lazy_kernels(const matrix& kx, double sigma, std::size_t outputs) {
  constexpr std::size_t L = Decl::hidden_layers;
  const std::size_t p = kx.shape(0), c = outputs;
  const double s2 = sigma * sigma;
  std::vector<matrix> phi(L), dd(L), g(L);
  ad::static_for<L>([&](auto li) {
    constexpr std::size_t l = li;
    using Act = typename Decl::template activation<l>;
    const matrix& prev = l == 0 ? kx : phi[l - 1];
    phi[l] = matrix({p, p});
    dd[l] = matrix({p, p});
    for (std::size_t a = 0; a < p; ++a)
      for (std::size_t b = 0; b <= a; ++b) {
        const double q1 = s2 * prev(a, a), q2 = s2 * prev(b, b), cv = s2 * prev(a, b);
        phi[l](a, b) = phi[l](b, a) = kernel_phi<Act>(q1, q2, cv);
        dd[l](a, b) = dd[l](b, a) = kernel_dphi<Act>(q1, q2, cv);
      }
  });
  for (std::size_t l = L; l-- > 0;) {
    g[l] = matrix({c * p, c * p});
    for (std::size_t ca = 0; ca < c; ++ca)
      for (std::size_t cb = 0; cb < c; ++cb)
        for (std::size_t a = 0; a < p; ++a)
          for (std::size_t b = 0; b < p; ++b) {
            const double next = l + 1 == L ? (ca == cb ? 1.0 : 0.0) : g[l + 1](ca * p + a, cb * p + b);
            g[l](ca * p + a, cb * p + b) = s2 * dd[l](a, b) * next;
          }
  }
  return {phi, g};
}

/// The NTK K = Σ_{i=0}^{L} κ_i G^{i+1} ⊙ Φ^i on the first `n` of the P points, indexed (c, μ) ↦ c·n + μ.
/// phi[ℓ−1] = Φ^ℓ [P, P], g[ℓ−1] = G^ℓ [C·P, C·P] for ℓ = 1..L; Φ^0 = K^x, G^{L+1} = δ_cc'.
SPECDYN_CORE_FN matrix assemble_ntk(const matrix& kx, const std::vector<const matrix*>& phi, const std::vector<const matrix*>& g,
                                    const std::vector<double>& kappa, std::size_t outputs, std::size_t n)
#if SPECDYN_CORE_BODIES
{
  const std::size_t L = phi.size(), p = kx.shape(0), c = outputs;
  matrix k = xt::zeros<double>({c * n, c * n});
  for (std::size_t i = 0; i <= L; ++i) {
    const matrix& ph = i == 0 ? kx : *phi[i - 1];
    for (std::size_t a = 0; a < c; ++a)
      for (std::size_t b = 0; b < c; ++b)
        for (std::size_t mu = 0; mu < n; ++mu)
          for (std::size_t nu = 0; nu < n; ++nu) {
            const double gk = i == L ? double(a == b) : (*g[i])(a * p + mu, b * p + nu);
            k(a * n + mu, b * n + nu) += kappa[i] * gk * ph(mu, nu);
          }
  }
  return k;
}
#else
;
#endif

}  // namespace specdyn::dmft
