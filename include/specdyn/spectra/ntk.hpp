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
  std::vector<matrix> phi;        // per weight matrix i (input, hidden, readout): its input's kernel in·in / fan-in [P, P]
                                  // (chains: Φ^ℓ for ℓ = 0..L, Φ^0 = x·x/D)
  std::vector<matrix> g;          // per weight matrix below the readout: its output's backward kernel [P, P] (output 0),
                                  // μP units G = γ0_eff² N δ·δ (chains: G^ℓ for ℓ = 1..L)
  double top_eigenvalue = 0;      // λ_max(K) (LAPACK up to C·P = 256, Lanczos above)
};

namespace detail {
/// Copies each parameter's per-sample adjoint during a reverse pass with no update: for a weight
/// δ (its output adjoint) and a pointer to its input; for a bias δ; for a gain δ ⊙ x̂.
struct recording_sink {
  static constexpr bool active = true;
  std::vector<matrix>* delta;
  std::vector<const matrix*>* input;
  void weight(std::size_t i, double, const matrix& d, const matrix& in) const {
    (*delta)[i] = d;
    (*input)[i] = &in;
  }
  void bias(std::size_t i, double, const matrix& d) const { (*delta)[i] = d; }
  void gain(std::size_t i, double, const matrix& d, const matrix& xhat) const { (*delta)[i] = d * xhat; }
};
}  // namespace detail

/// Computes the NTK from the fields of a completed forward pass over the training set in ws.
/// ws's adjoints are overwritten. Cost: C reverse passes plus O(C² P² Σ_i rows_i) for the Gram matrices.
/// K = Σ_i (lr_i s_i² / η) (δ^{i,a}·δ^{i,b}) ⊙ (in^i·in^i): weights pair their output adjoints with
/// their inputs, biases with 1, gains pair δ ⊙ x̂ with 1.
template <class Decl>
ntk_result empirical_ntk(const model<Decl>& net, const matrix& x, ad::workspace<Decl>& ws) {
  const std::size_t p = x.shape(1), c = net.sizes().C, n = net.sizes().N;
  const std::size_t np = net.parameter_count();
  const auto& info = net.parameter_info();
  const double eta = net.hyper_params().eta;
  const auto& lr = net.learning_rates();
  ntk_result r;
  r.K = xt::zeros<double>({c * p, c * p});
  // Per output a: every parameter's adjoint (one reverse pass each, no update).
  std::vector<std::vector<matrix>> delta(c, std::vector<matrix>(np));
  std::vector<const matrix*> input(np, nullptr);
  for (std::size_t a = 0; a < c; ++a) {
    ws.adj_out.fill(0.0);
    for (std::size_t mu = 0; mu < p; ++mu) ws.adj_out(a, mu) = 1.0;
    net.reverse(x, ws, detail::recording_sink{&delta[a], &input});
  }
  // Input Grams in^iᵀ in^i of the weight matrices (1 for biases and gains).
  std::vector<matrix> gram_in(np);
  for (std::size_t i = 0; i < np; ++i) {
    gram_in[i] = matrix({p, p});
    if (info[i].is_matrix()) blas::gemm(true, false, 1.0, *input[i], *input[i], 0.0, gram_in[i]);
    else gram_in[i].fill(1.0);
  }
  matrix gd({p, p});
  for (std::size_t a = 0; a < c; ++a)
    for (std::size_t b = 0; b < c; ++b) {
      for (std::size_t i = 0; i < np; ++i) {
        const double coef = lr[i] * net.scale(i) * net.scale(i) / eta;
        if (info[i].kind == ad::param_kind::readout) {
          if (a != b) continue;  // ∂f^a/∂out^b = δ_ab
          gd.fill(1.0);
        } else {
          blas::gemm(true, false, 1.0, delta[a][i], delta[b][i], 0.0, gd);
        }
        for (std::size_t mu = 0; mu < p; ++mu)
          for (std::size_t nu = 0; nu < p; ++nu) r.K(a * p + mu, b * p + nu) += coef * gd(mu, nu) * gram_in[i](mu, nu);
      }
    }
  // Layer kernels: Φ = in·in / fan-in, G = g·g/N = γ0_eff² N (δ·δ).
  const double g0 = net.effective_gamma0();
  for (std::size_t i = 0; i < np; ++i) {
    if (!info[i].is_matrix()) continue;
    r.phi.push_back(gram_in[i] / (info[i].kind == ad::param_kind::input ? double(x.shape(0)) : double(info[i].cols)));
    if (info[i].kind == ad::param_kind::readout) continue;
    blas::gemm(true, false, 1.0, delta[0][i], delta[0][i], 0.0, gd);
    r.g.push_back(gd * (g0 * g0 * double(n)));
  }
  r.top_eigenvalue = dense_top_eigenvalue(r.K);
  return r;
}

}  // namespace specdyn::spectra
