// The empirical NTK on the training set from the exact identity of docs/conventions.md §4.1, in the units
// where one GD step of the linearised model is f ← f + (η/P) K Δ:
//   K_{(a,μ),(b,ν)} = Σ_i (lr_i s_i² / η) (δ^{i,a}_μ · δ^{i,b}_ν)(in^i_μ · in^i_ν)
// with δ^{i,a} = ∂f^a/∂pre_i (one reverse pass per output, no weight update) and in^i the input
// of weight i. For μP this is Σ_ℓ G^{ℓ+1} ⊙ Φ^ℓ. Also returns the layer kernels Φ^ℓ = φ·φ/N and
// the backward kernels in μP units, G^ℓ = g·g/N with g = γ0_eff N ∂f/∂h^ℓ (output 0), for theory
// comparisons (γ0_eff: model::effective_gamma0()).
#pragma once

#include <vector>

#include "specdyn/spectra/lanczos.hpp"
#include "specdyn/train/model.hpp"

namespace specdyn::spectra {

struct ntk_result {
  matrix K;                       // [C·P, C·P], index (a, μ) → a·P + μ
  std::vector<matrix> phi;        // Φ^ℓ [P, P] for ℓ = 0..L (Φ^0 = x·x/D)
  std::vector<matrix> g;          // G^ℓ [P, P] for ℓ = 1..L (output 0), μP units
  double top_eigenvalue = 0;      // λ_max(K) (LAPACK up to C·P = 256, Lanczos above)
};

/// Computes the NTK from the fields of a completed forward pass over the training set in ws.
/// ws's adjoints are overwritten. Cost: C reverse passes plus O(L C² P² N) for the Gram matrices.
template <class Decl>
ntk_result empirical_ntk(const model<Decl>& net, const matrix& x, ad::workspace<Decl>& ws) {
  constexpr std::size_t L = Decl::hidden_layers;
  const std::size_t p = x.shape(1), c = net.sizes().C, n = net.sizes().N;
  const double eta = net.hyper_params().eta;
  const auto& lr = net.learning_rates();
  ntk_result r;
  r.K = xt::zeros<double>({c * p, c * p});
  // Input Grams in^iᵀ in^i, i = 0..L.
  std::vector<matrix> gram_in(L + 1, matrix({p, p}));
  blas::gemm(true, false, 1.0, x, x, 0.0, gram_in[0]);
  ad::static_for<L>([&](auto i) { blas::gemm(true, false, 1.0, ws.template post_of<i>(), ws.template post_of<i>(), 0.0, gram_in[i + 1]); });
  // Backward fields per output: delta[a][i] = ∂f^a/∂pre_i  [N, P]
  std::vector<std::array<matrix, L>> delta(c);
  for (std::size_t a = 0; a < c; ++a) {
    ws.adj_out.fill(0.0);
    for (std::size_t mu = 0; mu < p; ++mu) ws.adj_out(a, mu) = 1.0;
    net.reverse(x, ws, ad::no_sink{});
    ad::static_for<L>([&](auto i) { delta[a][i] = ws.template adj_pre_of<i>(); });
  }
  matrix gd({p, p});
  for (std::size_t a = 0; a < c; ++a)
    for (std::size_t b = 0; b < c; ++b) {
      for (std::size_t i = 0; i <= L; ++i) {
        const double coef = lr[i] * net.scale(i) * net.scale(i) / eta;
        if (i == L) {
          if (a != b) continue;  // ∂f^a/∂out^b = δ_ab
          gd.fill(1.0);
        } else {
          blas::gemm(true, false, 1.0, delta[a][i], delta[b][i], 0.0, gd);
        }
        for (std::size_t mu = 0; mu < p; ++mu)
          for (std::size_t nu = 0; nu < p; ++nu) r.K(a * p + mu, b * p + nu) += coef * gd(mu, nu) * gram_in[i](mu, nu);
      }
    }
  // Layer kernels: Φ^0 = x·x/D, Φ^ℓ = φ·φ/N, G^ℓ = g·g/N = γ0_eff² N (δ·δ).
  r.phi.push_back(gram_in[0] / double(x.shape(0)));
  for (std::size_t i = 1; i <= L; ++i) r.phi.push_back(gram_in[i] / double(n));
  const double g0 = net.effective_gamma0();
  for (std::size_t i = 0; i < L; ++i) {
    blas::gemm(true, false, 1.0, delta[0][i], delta[0][i], 0.0, gd);
    r.g.push_back(gd * (g0 * g0 * double(n)));
  }
  r.top_eigenvalue = dense_top_eigenvalue(r.K);
  return r;
}

}  // namespace specdyn::spectra
