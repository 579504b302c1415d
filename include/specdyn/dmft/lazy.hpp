// The lazy (γ0_eff → 0) limit of the theory: static kernels at initialisation,
//   Φ^ℓ = E_{u~N(0, σ²Φ^{ℓ−1})}[φ(u)φ(u)ᵀ],   G^ℓ = σ² E[φ'(u)φ'(u)ᵀ] ⊙ G^{ℓ+1},   G^{L+1} = 1,
//   K = Σ_i κ_i G^{i+1} ⊙ Φ^i,   f(t+1) = f(t) + (η/P) K Δ_eff(t)   (exact for the linearised model;
//   Δ_eff carries the loss and the batch schedule, dmft/problem.hpp),
// with the Gaussian expectations in closed form where the activation has one (linear, ReLU, erf)
// and by bivariate Gauss–Hermite quadrature otherwise (docs/dmft.md).
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <vector>

#include "specdyn/dmft/kernels.hpp"
#include "specdyn/dmft/particles.hpp"
#include "specdyn/spectra/lanczos.hpp"

namespace specdyn::dmft {

/// Kernel regression with a static NTK k [C·P_all, C·P_all] (k_train: its training block), the
/// layer kernels repeated at every step.
SPECDYN_CORE_FN solution kernel_regression(const problem& pr, const matrix& k, const matrix& k_train, const std::vector<matrix>& phi,
                                  const std::vector<matrix>& g)
#if SPECDYN_CORE_BODIES
{
  const std::size_t p = pr.p_all(), c = pr.outputs(), pt = pr.p_train, T = pr.steps;
  require(pr.update.decay == 1.0 && !pr.update.entrywise(), "optimizer", 0, "the lazy limit is derived for GD and momentum only");
  solution out;
  matrix f = xt::zeros<double>({c, p});
  const double top = spectra::dense_top_eigenvalue(k_train);
  std::vector<matrix> kd;  // (η/P) K Δ_eff(s) per step (momentum re-weights them)
  out.phi_tt.assign(phi.size(), {});
  out.g_tt.assign(g.size(), {});
  for (std::size_t t = 0; t <= T; ++t) {
    const matrix delta = pr.update_residual(pr.residual(f), t);
    out.f.push_back(f);
    out.train_loss.push_back(pr.train_loss(f));
    out.test_loss.push_back(pr.test_loss(f));
    for (std::size_t l = 0; l < phi.size(); ++l) out.phi_tt[l].push_back(phi[l]);
    for (std::size_t l = 0; l < g.size(); ++l) out.g_tt[l].push_back(g[l]);
    out.ntk.push_back(k_train);
    out.ntk_top.push_back(top);
    out.eos_ratio.push_back(pr.eta / double(pt) * top);
    // f ← f + (η/P) K Δ_eff   (test points through K[test, train])
    matrix nf = f;
    kd.push_back(matrix({c, p}));
    for (std::size_t ca = 0; ca < c; ++ca)
      for (std::size_t a = 0; a < p; ++a) {
        double s = 0;
        for (std::size_t cb = 0; cb < c; ++cb)
          for (std::size_t b = 0; b < pt; ++b) s += k(ca * p + a, cb * p + b) * delta(cb, b);
        nf(ca, a) += pr.eta / double(pt) * s;
        kd.back()(ca, a) = pr.eta / double(pt) * s;
      }
    if (!pr.update.plain()) {  // momentum: f(t+1) = Σ_{s≤t} c(t+1, s) (η/P) K Δ_eff(s)  (no decay here: refused upstream)
      nf = xt::zeros<double>({c, p});
      for (std::size_t s = 0; s <= t; ++s) nf += pr.update.weight(t + 1, s) * kd[s];
    }
    f = nf;
  }
  return out;
}
#else
;
#endif

/// Kernel regression with the static NTK: the γ0_eff → 0 limit of the theory.
template <class Decl>
solution lazy_solve(const problem& pr) {
  constexpr std::size_t L = Decl::hidden_layers;
  const std::size_t p = pr.p_all(), c = pr.outputs(), pt = pr.p_train;
  matrix kx({p, p});
  blas::gemm(true, false, 1.0 / double(pr.x.shape(0)), pr.x, pr.x, 0.0, kx);
  const auto [phi, g] = lazy_kernels<Decl>(kx, pr.sigma, c);
  std::vector<const matrix*> pp, gp;
  for (std::size_t l = 0; l < L; ++l) { pp.push_back(&phi[l]); gp.push_back(&g[l]); }
  const matrix k = assemble_ntk(kx, pp, gp, pr.rule.kappa, c, p);         // all points (test rows drive f_test)
  const matrix k_train = assemble_ntk(kx, pp, gp, pr.rule.kappa, c, pt);  // training points
  return kernel_regression(pr, k, k_train, phi, g);
}

}  // namespace specdyn::dmft
