// The proportional limit of a two-layer linear network (deep_linear2, one output): width N, input
// dimension D and samples P diverge together at fixed ν = N/D and α = P/D, with γ̃0 = γ0√D and
// η̂ = η/P fixed (docs/proportional.md derives the scalings and the equations). The data matrix,
// the N×D input weight and the readout are all random, so the theory has one single-site process
// per index type — a data point μ, an input coordinate i, a hidden neuron k — each linear in its
// Gaussian sources:
//   μ:  Δ(t) = r^X(t) + Σ_{s<t} R_e(t,s) Δ(s) + ε                       r^X ~ GP(0, C_e)
//   i:  β(t) = [r^A(t) + Σ_{s<t} (σ²ν R_w(t,s) + η̂γ̃0ν C_w(s,t)) v(s)] / (γ̃0ν),  e = β* − β + β(0)
//       v(t) = u^X(t) + α Σ_{s≤t} R_Δ(t,s) e(s)                            r^A ~ GP(0, σ²ν C_w), u^X ~ GP(0, αC_Δ)
//   k:  w(t+1) = w(t) + η̂γ̃0 [u^A(t) + Σ_{s≤t} σ² R_v(t,s) w(s) + η̂γ̃0 Σ_{s<t} C_v(s,t) w(s)]   u^A ~ GP(0, σ²C_v)
// with responses R_x(t,s) = ⟨∂x(t)/∂source(s)⟩ and correlations C_x(t,s) = ⟨x(t)x(s)⟩ averaged over
// each site. Every variable is a linear combination of its site's sources with deterministic
// coefficients, so the closure is exact linear algebra over (T+1)×(T+1) blocks, solved in one causal
// pass (no particles): the coefficient of a source is the response, and correlations are
// coefficient · source covariance · coefficientᵀ.
//   auto sol = specdyn::dmft::solve_proportional({.alpha = 2, .nu = 1, .gamma0_tilde = 16, .eta_hat = 0.4, .steps = 50});
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "specdyn/errors.hpp"

namespace specdyn::dmft {

struct proportional_problem {
  double alpha = 2.0;         // P/D
  double nu = 1.0;            // N/D
  double gamma0_tilde = 1.0;  // γ0 √D
  double eta_hat = 0.5;       // η / P
  double sigma = 1.0;         // initial weight scale
  double noise = 0.0;         // label noise standard deviation σ_ε
  std::size_t steps = 50;

  void validate() const {
    require(alpha > 0 && std::isfinite(alpha), "α = P/D", alpha, "must be a positive number");
    require(nu > 0 && std::isfinite(nu), "ν = N/D", nu, "must be a positive number");
    require(gamma0_tilde > 0 && std::isfinite(gamma0_tilde), "γ̃0 = γ0√D", gamma0_tilde, "must be a positive number");
    require(eta_hat > 0 && std::isfinite(eta_hat), "η/P", eta_hat, "must be a positive number");
    require(sigma > 0 && std::isfinite(sigma), "--sigma", sigma, "must be a positive number");
    require(noise >= 0 && std::isfinite(noise), "--noise", noise, "must be a non-negative number");
    require(steps <= 5000, "--steps", steps, "use at most 5000 for the proportional theory (cost T³)");
  }
};

struct proportional_solution {
  std::vector<double> train_loss, test_loss;  // ½⟨Δ²⟩_μ and ½(⟨e²⟩_i + σ_ε²), t = 0..T
  std::vector<double> teacher_overlap;        // ⟨(β(t) − β(0)) β*⟩_i / ⟨β*²⟩: alignment with the teacher
  std::vector<double> readout_norm;           // ⟨w(t)²⟩_k
};

/// One causal pass of the proportional closure (the equations at the top of this file).
inline proportional_solution solve_proportional(const proportional_problem& pr) {
  pr.validate();
  using vec = std::vector<double>;
  using mat = std::vector<vec>;
  const std::size_t T1 = pr.steps + 1;
  const double s2 = pr.sigma * pr.sigma, a = pr.alpha, nu = pr.nu, g = pr.gamma0_tilde, eh = pr.eta_hat;
  auto zeros = [&] { return mat(T1, vec(T1, 0.0)); };
  // source covariances, filled causally
  mat c_uA = zeros(), c_rA = zeros(), c_uX = zeros(), c_rX = zeros();
  // site correlations
  mat c_w = zeros(), c_v = zeros(), c_e = zeros(), c_d = zeros();
  // coefficients of each variable on its site's sources: [t][s]
  mat w_uA = zeros();  vec w_0(T1, 0.0);                                  // k: w on u^A, w0 (var σ²)
  mat b_rA = zeros(), b_uX = zeros();  vec b_st(T1, 0.0);                 // i: β on r^A, u^X, β* (var 1)
  mat e_rA = zeros(), e_uX = zeros();  vec e_st(T1, 0.0);                 // i: e = β* − β + β(0)
  mat v_rA = zeros(), v_uX = zeros();  vec v_st(T1, 0.0);                 // i: v
  mat d_rX = zeros();  vec d_eps(T1, 0.0);                                // μ: Δ on r^X, ε (var σ_ε²)
  auto quad = [&](const vec& x, const mat& c, const vec& y, std::size_t upto) {  // xᵀ C y over s, s' ≤ upto
    double q = 0;
    for (std::size_t s = 0; s <= upto; ++s) {
      if (x[s] == 0) continue;
      double row = 0;
      for (std::size_t r = 0; r <= upto; ++r) row += c[s][r] * y[r];
      q += x[s] * row;
    }
    return q;
  };
  proportional_solution out;
  for (std::size_t t = 0; t < T1; ++t) {
    // (1) neuron site: w(t) from step t−1 (readout update with the input weight's field Ã(t−1)v(t−1))
    if (t == 0) {
      w_0[0] = 1;
    } else {
      const std::size_t p = t - 1;
      w_uA[t] = w_uA[p];
      w_0[t] = w_0[p];
      w_uA[t][p] += eh * g;  // η̂γ̃0 u^A(t−1)
      for (std::size_t s = 0; s <= p; ++s) {
        const double k = eh * g * (s2 * v_rA[p][s] + (s < p ? eh * g * c_v[s][p] : 0.0));  // σ²R_v(t−1,s) + η̂γ̃0 C_v(s,t−1)
        if (k == 0) continue;
        for (std::size_t r = 0; r < T1; ++r) w_uA[t][r] += k * w_uA[s][r];
        w_0[t] += k * w_0[s];
      }
    }
    for (std::size_t s = 0; s <= t; ++s) {
      c_w[t][s] = c_w[s][t] = quad(w_uA[t], c_uA, w_uA[s], t) + s2 * w_0[t] * w_0[s];
      c_rA[t][s] = c_rA[s][t] = s2 * nu * c_w[t][s];
    }
    // (2) input-coordinate site: β(t) and e(t)
    b_rA[t][t] = 1.0 / (g * nu);
    for (std::size_t s = 0; s < t; ++s) {
      const double k = (s2 * nu * w_uA[t][s] + eh * g * nu * c_w[s][t]) / (g * nu);  // (σ²ν R_w(t,s) + η̂γ̃0ν C_w(s,t)) / γ̃0ν
      if (k == 0) continue;
      for (std::size_t r = 0; r < T1; ++r) {
        b_rA[t][r] += k * v_rA[s][r];
        b_uX[t][r] += k * v_uX[s][r];
      }
      b_st[t] += k * v_st[s];
    }
    for (std::size_t r = 0; r < T1; ++r) {
      e_rA[t][r] = b_rA[0][r] - b_rA[t][r];
      e_uX[t][r] = b_uX[0][r] - b_uX[t][r];
    }
    e_st[t] = 1.0 - b_st[t] + b_st[0];
    auto corr_i = [&](const mat& x_rA, const mat& x_uX, const vec& x_st, std::size_t tt, const mat& y_rA, const mat& y_uX, const vec& y_st,
                      std::size_t ss) {
      return quad(x_rA[tt], c_rA, y_rA[ss], t) + quad(x_uX[tt], c_uX, y_uX[ss], t) + x_st[tt] * y_st[ss];
    };
    for (std::size_t s = 0; s <= t; ++s) {
      c_e[t][s] = c_e[s][t] = corr_i(e_rA, e_uX, e_st, t, e_rA, e_uX, e_st, s);
      c_rX[t][s] = c_rX[s][t] = c_e[t][s];
    }
    // (3) data site: Δ(t) = r^X(t) + Σ_{s<t} R_e(t,s) Δ(s) + ε,  R_e(t,s) = ∂e(t)/∂u^X(s)
    d_rX[t][t] = 1;
    d_eps[t] = 1;
    for (std::size_t s = 0; s < t; ++s) {
      const double k = e_uX[t][s];
      if (k == 0) continue;
      for (std::size_t r = 0; r < T1; ++r) d_rX[t][r] += k * d_rX[s][r];
      d_eps[t] += k * d_eps[s];
    }
    for (std::size_t s = 0; s <= t; ++s) {
      c_d[t][s] = c_d[s][t] = quad(d_rX[t], c_rX, d_rX[s], t) + pr.noise * pr.noise * d_eps[t] * d_eps[s];
      c_uX[t][s] = c_uX[s][t] = a * c_d[t][s];
    }
    // (4) input-coordinate site: v(t) = u^X(t) + α Σ_{s≤t} R_Δ(t,s) e(s),  R_Δ(t,s) = ∂Δ(t)/∂r^X(s)
    v_uX[t][t] = 1;
    for (std::size_t s = 0; s <= t; ++s) {
      const double k = a * d_rX[t][s];
      if (k == 0) continue;
      for (std::size_t r = 0; r < T1; ++r) {
        v_rA[t][r] += k * e_rA[s][r];
        v_uX[t][r] += k * e_uX[s][r];
      }
      v_st[t] += k * e_st[s];
    }
    for (std::size_t s = 0; s <= t; ++s) {
      c_v[t][s] = c_v[s][t] = corr_i(v_rA, v_uX, v_st, t, v_rA, v_uX, v_st, s);
      c_uA[t][s] = c_uA[s][t] = s2 * c_v[t][s];
    }
    out.train_loss.push_back(0.5 * c_d[t][t]);
    out.test_loss.push_back(0.5 * (c_e[t][t] + pr.noise * pr.noise));
    out.teacher_overlap.push_back(b_st[t] - b_st[0]);
    out.readout_norm.push_back(c_w[t][t]);
    if (!std::isfinite(c_d[t][t]) || c_d[t][t] > 1e12) {
      out.train_loss.back() = INFINITY;
      throw divergence_error(t, "the loss", "the proportional theory's training loss diverges; lower η/P (--lr-over-p) or γ̃0");
    }
  }
  return out;
}

}  // namespace specdyn::dmft
