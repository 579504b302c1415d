// The DMFT of a declared network (docs/dmft.md §2), solved by a
// population of S single-site "particles" per layer. For layer ℓ with sources u^ℓ (forward, from
// the weight below) and r^ℓ (backward, from the weight above):
//   h^ℓ(t) = u^ℓ(t) + Σ_{s<t} [Rφ^{ℓ−1}(t,s) + (ηγ0κ_{ℓ−1}/P) Φ^{ℓ−1}(t,s)∘Δ(s)] g^ℓ(s)
//   z^ℓ(t) = r^ℓ(t) + Σ_{s≤t} Rg^{ℓ+1}(t,s) φ(h^ℓ(s)) + Σ_{s<t} (ηγ0κ_ℓ/P) G^{ℓ+1}(t,s)∘Δ(s) φ(h^ℓ(s))
//   g^ℓ = φ'(h^ℓ) z^ℓ,   f(t) = γ0⁻¹ ⟨z^L(t) φ(h^L(t))⟩ (exact in η; centred on t = 0)
// Every coupling reaches into the past except Rg(t, t), which is known once the backward sweep
// reaches the layer at time t, so one causal march in time solves the closure ("march"). The
// classic scheme re-simulates whole trajectories with the previous iterate's kernels until they
// stop changing ("alternating"); with the same innovations both reach the same fixed point.
// Innovations are Gaussian — by default a randomised quasi-Monte Carlo point set (scrambled Sobol',
// mapped through the normal quantile: every particle's innovations are exactly N(0, I), the error
// falls faster than S^{-1/2} and is reported across independently scrambled replicas), or
// pseudo-random draws (plain Monte Carlo) — or an exact orthonormal design (±√(S/2) on one
// coordinate per particle pair), which makes the solver exact for linear activations: the
// deterministic deep-linear closure. docs/dmft.md §8 has the speed and the measured errors.
#pragma once

#include "specdyn/core.hpp"

#include <array>
#include <cmath>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/random/detail/sobol_table.hpp>
#include <xtensor/xview.hpp>

#include "specdyn/dmft/closure.hpp"
#include "specdyn/dmft/kernels.hpp"
#include "specdyn/dmft/problem.hpp"
#include "specdyn/dmft/sources.hpp"
#include "specdyn/data/rng.hpp"
#include "specdyn/io/signals.hpp"
#include "specdyn/spectra/lanczos.hpp"
#include "specdyn/spectra/singular.hpp"

namespace specdyn::dmft {

enum class innovations { gaussian, design };
enum class scheme { march, alternating };

struct solver_options {
  std::size_t particles = 4000;
  std::size_t replicas = 4;  // independent Monte Carlo replicas (error bars); 1 for a design
  std::uint64_t seed = 0;
  innovations kind = innovations::gaussian;
  // Gaussian innovations from a scrambled Sobol' sequence (randomised QMC; one point of dimension
  // Σ_t dim(innovations at t) per particle and layer); false: pseudo-random draws (plain Monte Carlo)
  bool quasi_random = true;
  scheme how = scheme::march;
  std::size_t max_iterations = 500;  // alternating only
  double damping = 1.0;              // alternating only: new = (1−β) old + β update
  double tolerance = 1e-12;          // alternating only: stop when the relative change is below
  bool keep_two_time = false;        // keep Φ(t,s), G(t,s) for records
  bool spike_moments = false;        // also measure the Gram matrices of the weight updates' spike vectors
};

/// Kernels and responses of every layer at every (t, s); Δ(t).
struct kernel_store {
  // [layer][t][s]: phi (s ≤ t) [P, P], g (s ≤ t) [B, B], r_phi (s < t) [P, B], r_g (s ≤ t) [B, P]
  std::vector<std::vector<std::vector<matrix>>> phi, g, r_phi, r_g;
  std::vector<matrix> delta;  // Δ_eff(t) the update uses (batch-masked under SGD) [C, P_all]
  std::vector<matrix> f;      // centred outputs [C, P_all]
  SPECDYN_CORE_FN void resize(std::size_t layers, std::size_t steps)
#if SPECDYN_CORE_BODIES
  {
    for (auto* k : {&phi, &g, &r_phi, &r_g}) {
      k->assign(layers, std::vector<std::vector<matrix>>(steps + 1));
      for (auto& l : *k)
        for (std::size_t t = 0; t <= steps; ++t) l[t].resize(t + 1);
    }
    delta.assign(steps + 1, matrix());
    f.assign(steps + 1, matrix());
  }
#else
  ;
#endif
};

/// The spike vectors of one weight matrix's update, as Gram matrices over (s, α) ↦ s·P + α for
/// s = 0..T−1 and the P training points (docs/spectra-theory.md). For weight i with input layer
/// ℓ = i and output layer ℓ+1 (1 ≤ i ≤ L−1, an N×N hidden weight X = W^i(0)/√N):
///   row side (neurons of layer ℓ+1):  ĝ_α(s) = Σ_c Δ_eff,α^c(s) g^{ℓ+1,c}_α(s),  ȳ_α(s) = X φ^ℓ_α(s)
///   column side (neurons of layer ℓ): φ^ℓ_α(s),  ẑ_α(s) = Xᵀ ĝ_α(s)
/// and W^i(t)/√N = X + coef Σ_{s<t, α} ĝ_α(s) φ_α(s)ᵀ / N. For the input weight (i = 0, D fixed)
/// only ⟨ĝĝ⟩ and the response of ĝ to the input field u^1 are needed.
struct spike_grams {
  matrix gg, gy, yy;            // ⟨ĝ ĝ⟩, ⟨ĝ ȳ⟩, ⟨ȳ ȳ⟩     [T·P, T·P]
  matrix pp, pz, zz;            // ⟨φ φ⟩, ⟨φ ẑ⟩, ⟨ẑ ẑ⟩     [T·P, T·P]  (hidden weights only)
  std::vector<matrix> response; // input weight: σ²⟨∂ĝ(s)/∂u^1⟩ [P, P] for s = 0..T−1
  double coef = 0;              // ηγ0κ_i/P
  std::size_t p = 0, steps = 0; // P (training points) and T
};

/// One solve's outputs (per time t = 0..T).
struct solution {
  std::vector<matrix> f;                   // centred outputs [C, P_all]
  std::vector<double> train_loss, test_loss;
  std::vector<std::vector<matrix>> phi_tt; // [ℓ−1][t] Φ^ℓ(t,t) [P_all, P_all]
  std::vector<std::vector<matrix>> g_tt;   // [ℓ−1][t] G^ℓ(t,t) [C·P_all, C·P_all]
  std::vector<matrix> ntk;                 // [t] K(t) on the training points [C·P, C·P]
  std::vector<double> ntk_top, eos_ratio;
  std::vector<double> residuals;           // alternating: relative change per iteration
  std::size_t iterations = 1;
  double min_conditional_eigenvalue = INFINITY;  // relative to the marginal scale; < 0 only by rounding
  kernel_store kernels;                    // full two-time kernels when keep_two_time
  std::vector<spike_grams> spikes;         // per weight i = 0..L−1 when spike_moments
  /// Entrywise optimizers: the top singular values of each hidden weight's update ΔW_eff(T) =
  /// (ηγ0κ/S) M(T) (in the units of the network's W_eff, whose bulk edge is 2σ), weights 1..L−1.
  std::vector<std::vector<double>> update_top_sv;
  /// Block declarations (dmft/blocks.hpp): the matrix weights below the readout that g_tt, spikes
  /// (and phi_tt shifted by one) belong to; empty for chains (W0 … W(L−1)). Also K(t) over all points.
  struct weight_meta {
    std::string name;
    bool input = false, square = false;  // the input weight; an N×N weight (two-level outliers derived)
    double sigma = 1;                    // √(N_A var(W_eff)): the bulk's scale
  };
  std::vector<weight_meta> weights;
  std::vector<matrix> ntk_all;             // block declarations: K(t) [C·P_all, C·P_all]
};

namespace detail {

// ---------------- randomised quasi-Monte Carlo innovations ----------------

/// Φ⁻¹(q) for 0 < q ≤ 1/2 (the upper half by symmetry): Acklam's rational approximation, relative
/// error below 1.2e-9 over the whole range (an erfc-based Halley step would reach rounding, but it
/// doubled the cost of the innovations for a change far below any Monte Carlo error).
SPECDYN_CORE_FN double normal_quantile_lower(double q)
#if SPECDYN_CORE_BODIES
{
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01,  -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
  if (q < 0.02425) {
    const double r = std::sqrt(-2 * std::log(q));
    return (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1);
  }
  const double u = q - 0.5, r = u * u;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * u /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}
#else
;
#endif

/// Largest Sobol' dimension with tabulated direction numbers (Joe & Kuo, as shipped with Boost.Random);
/// innovation coordinates beyond it are drawn pseudo-randomly.
inline constexpr std::size_t sobol_dimensions = boost::random::detail::qrng_tables::sobol::max_dimension;

/// The 32 direction numbers v_j (bit 31 − j and below) of Sobol' dimension k < sobol_dimensions
/// (k = 0: van der Corput), by the Bratley–Fox recurrence over Joe & Kuo's primitive polynomials.
SPECDYN_CORE_FN std::array<std::uint32_t, 32> sobol_directions(std::size_t k)
#if SPECDYN_CORE_BODIES
{
  using table = boost::random::detail::qrng_tables::sobol;
  std::array<std::uint32_t, 32> v{};
  if (k == 0) {
    v.fill(1u);
  } else {
    const unsigned poly = table::polynomial(k - 1);
    unsigned degree = 0;
    while ((poly >> (degree + 1)) != 0) ++degree;
    for (unsigned j = 0; j < degree; ++j) v[j] = table::minit(k - 1, j);
    for (unsigned j = degree; j < 32; ++j) {
      v[j] = v[j - degree];
      unsigned bits = poly;
      for (unsigned i = 0; i < degree; ++i, bits >>= 1) v[j] ^= ((bits & 1u) * v[j - (degree - i)]) << (degree - i);
    }
  }
  for (unsigned j = 0; j < 32; ++j) v[j] <<= 31 - j;
  return v;
}
#else
;
#endif

/// Coordinate k of n scrambled Sobol' points (Gray-code order), mapped to N(0, 1), written to
/// out[i·stride]. Randomisation from gen: Matoušek's random linear scramble (output bit p = parity of
/// bit p and random higher input bits), a random digital shift, and a uniform jitter below the last
/// of the 32 bits. Every entry is then N(0, 1) (to the quantile's 1.2e-9), independently across
/// coordinates, while the column as a whole is a stratified (0, m, 1)-net.
SPECDYN_CORE_FN void sobol_normal_column(std::size_t n, std::size_t k, rng& gen, double* out, std::size_t stride)
#if SPECDYN_CORE_BODIES
{
  auto v = sobol_directions(k);
  std::array<std::uint32_t, 32> row{};
  for (unsigned p = 0; p < 32; ++p) row[p] = (1u << p) | (std::uint32_t(gen.next() >> 32) & (p == 31 ? 0u : ~0u << (p + 1)));
  for (auto& x : v) {
    std::uint32_t y = 0;
    for (unsigned p = 0; p < 32; ++p) y |= std::uint32_t(__builtin_parity(row[p] & x)) << p;
    x = y;
  }
  std::uint32_t x = std::uint32_t(gen.next() >> 32);  // digital shift: the first point
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) x ^= v[std::size_t(__builtin_ctzll(i))];
    const double jitter = gen.uniform();
    // the lower half directly, the upper half through its complement (no cancellation in 1 − q)
    const bool upper = (x >> 31) != 0;
    const double q = upper ? (double(~x) + (1 - jitter)) * 0x1.0p-32 : (double(x) + jitter) * 0x1.0p-32;
    const double z = normal_quantile_lower(std::max(q, 0x1.0p-80));
    out[i * stride] = upper ? -z : z;
  }
}
#else
;
#endif

/// Innovations for one layer: Gaussian — quasi-random (coordinate k of the layer's Sobol' point, its
/// own scramble from (seed, layer, k)) or pseudo-random (one stream per source and time) — or the
/// orthonormal design (a global coordinate index per (source, time, component), two particles
/// ±√(S/2) each).
class innovation_stream {
 public:
  /// du, dr: dimensions of the layer's forward and backward sources per time; the input source
  /// (first layer) and the readout source (last layer) are constant: innovations at t = 0 only.
  innovation_stream(innovations kind, bool quasi, std::size_t particles, std::uint64_t seed, std::size_t layer, std::size_t du,
                    std::size_t dr, bool first, bool last)
      : kind_(kind), quasi_(quasi && kind == innovations::gaussian), s_(particles), seed_(seed), layer_(layer), du_(du), dr_(dr),
        first_(first), last_(last) {}
  /// Innovations [S, dim] of stream 2t (forward source at t) or 2t + 1 (backward source at t).
  SPECDYN_CORE_FN matrix next(std::size_t dim, std::size_t stream_id)
#if SPECDYN_CORE_BODIES
  {
    matrix xi = xt::zeros<double>({s_, dim});
    if (kind_ == innovations::gaussian && quasi_) {
      // coordinates of this layer's quasi-random point: times in order, forward before backward
      const std::size_t t = stream_id / 2;
      std::size_t offset = stream_id % 2 ? du_at(t) : 0;
      for (std::size_t tp = 0; tp < t; ++tp) offset += du_at(tp) + dr_at(tp);
      for (std::size_t j = 0; j < dim; ++j) {
        const std::size_t k = offset + j;
        rng gen(seed_, rng::stream::particles, (std::uint64_t(layer_ + 1) << 40) | k);
        if (k < sobol_dimensions) {
          sobol_normal_column(s_, k, gen, xi.data() + j, dim);
        } else {
          for (std::size_t i = 0; i < s_; ++i) xi(i, j) = gen.normal();
        }
      }
    } else if (kind_ == innovations::gaussian) {
      rng gen(seed_, rng::stream::particles, layer_ * 1000003 + stream_id);
      for (auto& v : xi) v = gen.normal();
    } else {
      const double a = std::sqrt(double(s_) / 2.0);
      for (std::size_t j = 0; j < dim; ++j, ++next_index_) {
        if (2 * next_index_ + 1 >= s_) throw solver_error("orthonormal design needs more particles than " + std::to_string(s_));
        xi(2 * next_index_, j) = a;
        xi(2 * next_index_ + 1, j) = -a;
      }
    }
    return xi;
  }
#else
  ;
#endif
 private:
  std::size_t du_at(std::size_t t) const { return first_ && t > 0 ? 0 : du_; }
  std::size_t dr_at(std::size_t t) const { return last_ && t > 0 ? 0 : dr_; }
  innovations kind_;
  bool quasi_;
  std::size_t s_;
  std::uint64_t seed_;
  std::size_t layer_, du_, dr_;
  bool first_, last_;
  std::size_t next_index_ = 0;
};

/// φ(x) and φ'(x) element-wise: the activation's fused expressions where it has them (vectorised;
/// tanh's φ' = 1 − φ² reuses φ), else its scalar functions.
template <class Act>
void activate(const matrix& x, matrix& phi, matrix& dphi) {
  phi.resize(x.shape());
  dphi.resize(x.shape());
  if constexpr (requires { Act::phi_expr(x); Act::dphi_expr(x, phi); }) {
    xt::noalias(phi) = Act::phi_expr(x);
    xt::noalias(dphi) = Act::dphi_expr(x, phi);
  } else {
    for (std::size_t i = 0; i < x.size(); ++i) {
      phi.data()[i] = Act::phi(x.data()[i]);
      dphi.data()[i] = Act::dphi(x.data()[i]);
    }
  }
}

SPECDYN_CORE_FN double norm2(const matrix& m)
#if SPECDYN_CORE_BODIES
{
  double s = 0;
  for (double v : m) s += v * v;
  return s;
}
#else
;
#endif

}  // namespace detail

/// The pairwise state of one parameter under an entrywise optimizer (docs/optimizers.md §5): for a
/// hidden weight rows are the particles of the layer it feeds and columns those of the layer below
/// ([S, S]); the input weight's columns are the D input coordinates, the readout's the C outputs,
/// a bias's or gain's a single column. M(t) = Σ_{s<t} d^{t−1−s} U(s) is what the optimizer has added
/// to the parameter (in units of the rule's step), U(s) its direction from the normalised gradient
/// Ĝ = G/P: sign(Ĝ), Adam's m̂/(√v̂ + ε) with m, v the moments of Ĝ, or Ĝ itself (pairwise_gd).
struct entrywise_state {
  matrix M, m, v;
};

/// One optimizer step of an entrywise state from this step's unnormalised gradient g_hat = P·Ĝ
/// (step counts from 1, for Adam's bias corrections); `decayed`: weight decay applies (matrices only);
/// eps_scale: Adam's ε in the closure's units is ε × (the parameter's entrywise factor a, 1 for chains).
SPECDYN_CORE_FN void entrywise_accumulate(const update_rule& ur, std::size_t p_train, entrywise_state& st, const matrix& g_hat, std::size_t step,
                                          bool decayed, double eps_scale)
#if SPECDYN_CORE_BODIES
{
  if (st.M.size() == 0) {
    st.M = xt::zeros_like(g_hat);
    if (ur.how == update_rule::kind::adam) {
      st.m = xt::zeros_like(g_hat);
      st.v = xt::zeros_like(g_hat);
    }
  }
  const double d = decayed ? ur.decay : 1.0, inv_p = 1.0 / double(p_train);
  double* M = st.M.data();
  const double* g = g_hat.data();
  const std::size_t n = g_hat.size();
  if (ur.how == update_rule::kind::sign) {
    for (std::size_t k = 0; k < n; ++k) M[k] = d * M[k] + double((g[k] > 0) - (g[k] < 0));
    return;
  }
  if (ur.how == update_rule::kind::pairwise_gd) {
    for (std::size_t k = 0; k < n; ++k) M[k] = d * M[k] + g[k] * inv_p;
    return;
  }
  const double b1 = ur.beta1, b2 = ur.beta2, bc1 = 1 - std::pow(b1, double(step)), bc2 = 1 - std::pow(b2, double(step));
  double* m = st.m.data();
  double* v = st.v.data();
  for (std::size_t k = 0; k < n; ++k) {
    const double x = g[k] * inv_p;
    m[k] = b1 * m[k] + (1 - b1) * x;
    v[k] = b2 * v[k] + (1 - b2) * x * x;
    const double den = std::sqrt(v[k] / bc2) + ur.eps * eps_scale;
    M[k] = d * M[k] + (den > 0 ? m[k] / bc1 / den : 0.0);
  }
}
#else
;
#endif

/// Memory one solve plans to use, in bytes: the particle histories φ(h(s)), g(s) and the stored
/// innovations of every source (S·(T+1)·(P + C·P) numbers each, per layer), the two-time kernel
/// and response store (T²/2 blocks of (P + C·P)² per layer) and the sources' block factors
/// (T²/2 blocks of P² and (C·P)²); the alternating scheme keeps a second store, and two-time output
/// another copy. This is the guard `specdyn theory` applies before it writes anything.
SPECDYN_CORE_FN double estimate_solver_bytes(std::size_t layers, std::size_t p_all, std::size_t outputs, std::size_t steps,
                                             std::size_t particles, bool alternating, bool two_time)
#if SPECDYN_CORE_BODIES
{
  const double l = double(layers), p = double(p_all), b = double(outputs * p_all), t1 = double(steps + 1);
  const double pairs = t1 * (t1 + 1) / 2;
  const double histories = 2.0 * double(particles) * t1 * l * (p + b) + 6.0 * double(particles) * (p + b);
  const double store = pairs * l * (p + b) * (p + b) * (1.0 + (alternating ? 1.0 : 0.0) + (two_time ? 1.0 : 0.0));
  const double factors = pairs * l * (p * p + b * b);
  return 8.0 * (histories + store + factors);
}
#else
;
#endif

/// Particles needed by the orthonormal design for L layers, P samples, C outputs, T steps.
SPECDYN_CORE_FN std::size_t design_particles(std::size_t layers, std::size_t p, std::size_t c, std::size_t steps)
#if SPECDYN_CORE_BODIES
{
  const std::size_t b = c * p, t = steps + 1;
  std::size_t d = 0;
  for (std::size_t l = 0; l < layers; ++l) {
    const std::size_t du = l == 0 ? p : p * t;
    const std::size_t dr = l + 1 == layers ? c : b * t;
    d = std::max(d, du + dr);
  }
  return 2 * d;
}
#else
;
#endif

template <class Decl>
class particle_solver {
 public:
  static constexpr std::size_t L = Decl::hidden_layers;

  particle_solver(const problem& pr, solver_options opt) : pr_(pr), opt_(opt) {
    require(!pr.rule.lazy, "gamma0_eff", 0, "the lazy limit is solved by dmft::lazy_solve, not by particles");
    require(pr.p_train >= 1 && pr.p_train <= pr.p_all(), "training samples", pr.p_train, "must be in 1..P");
    if (pr.update.entrywise()) {
      require(opt.kind == innovations::gaussian, "innovations", 0, "an entrywise optimizer's closure is not Gaussian: use Gaussian particles, not the design");
      require(opt.how == scheme::march, "scheme", 0, "an entrywise optimizer is solved by the causal march only");
      require(!opt.spike_moments, "spike_moments", 1, "the outlier theory is derived for GD/SGD only");
    }
    p_ = pr.p_all();
    c_ = pr.outputs();
    b_ = c_ * p_;
    kx_ = matrix({p_, p_});
    blas::gemm(true, false, 1.0 / double(pr.x.shape(0)), pr.x, pr.x, 0.0, kx_);  // K^x = xᵀx/D
  }

  /// One solve with `seed`; throws solver_error with residuals if the alternating scheme fails.
  solution solve(std::uint64_t seed) {
    const std::size_t T = pr_.steps;
    solution out;
    kernel_store store;
    store.resize(L, T);
    if (opt_.how == scheme::march) {
      sweep(seed, store, store, out);
    } else {
      kernel_store next;
      next.resize(L, T);
      initialise_lazy(store);
      double change = INFINITY;
      std::size_t it = 0;
      for (; it < opt_.max_iterations && change > opt_.tolerance; ++it) {
        sweep(seed, store, next, out);
        change = damp_into(store, next);
        out.residuals.push_back(change);
      }
      out.iterations = it;
      if (change > opt_.tolerance)
        throw solver_error("alternating DMFT iteration did not converge in " + std::to_string(it) +
                           " iterations: relative change " + std::to_string(change) + " > tolerance " +
                           std::to_string(opt_.tolerance) + " (residuals of the last iterations: " + last_residuals(out.residuals) + ")");
    }
    summarise(store, out);
    if (opt_.keep_two_time) out.kernels = store;
    return out;
  }

  /// One solve per seed, on up to `threads` std::threads (replica r on thread r mod threads). Each
  /// replica is computed by one thread from its own seed, so every result is bitwise the same for
  /// any `threads`; the first failure (in replica order) is rethrown once all threads are done.
  std::vector<solution> solve_replicas(const std::vector<std::uint64_t>& seeds, std::size_t threads = 2) {
    const std::size_t n = seeds.size(), workers = std::max<std::size_t>(1, std::min(threads, n));
    std::vector<solution> out(n);
    std::vector<std::exception_ptr> failed(n);
    auto work = [&](std::size_t w) {
      for (std::size_t r = w; r < n; r += workers) {
        try {
          out[r] = solve(seeds[r]);
        } catch (...) {
          failed[r] = std::current_exception();
        }
      }
    };
    std::vector<std::thread> pool;
    for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
    work(0);
    for (auto& th : pool) th.join();
    for (const auto& e : failed)
      if (e) std::rethrow_exception(e);
    return out;
  }

 private:
  static std::string last_residuals(const std::vector<double>& r) {
    std::string s;
    for (std::size_t i = r.size() > 5 ? r.size() - 5 : 0; i < r.size(); ++i) s += (s.empty() ? "" : ", ") + std::to_string(r[i]);
    return s;
  }

  double coef(std::size_t weight) const {
    return pr_.eta * pr_.rule.gamma0_eff * pr_.rule.kappa[weight] / double(pr_.p_train);
  }

  /// Records the conditional covariance's smallest relative eigenvalue; a clearly negative one means
  /// the kernels are not a covariance (a broken closure or an overflowing iterate): stop and say so.
  static void check_psd(double rel_min, solution& out, const char* source, std::size_t layer, std::size_t t) {
    out.min_conditional_eigenvalue = std::min(out.min_conditional_eigenvalue, rel_min);
    if (!(rel_min > -1e-6))
      throw solver_error(std::string("DMFT: the covariance of source ") + source + " of layer " + std::to_string(layer + 1) +
                         " at step " + std::to_string(t) + " is not positive semi-definite (smallest conditional eigenvalue " +
                         std::to_string(rel_min) + " of the marginal scale); the kernels are inconsistent — for the alternating "
                         "scheme try --damping 0.5 or --scheme march");
  }

  /// Particle histories of the spike vectors (spike_moments): per layer, stacked over times as
  /// columns s·P + α of the P training points; empty where a layer does not need them.
  struct spike_histories {
    std::vector<matrix> g_hat, y_bar, z_hat;  // ĝ (all layers), ȳ = Xφ (layers ≥ 2), ẑ = Xᵀĝ (layers ≤ L−1) [S, T·P]
    std::vector<matrix> response;             // input weight: σ²⟨∂ĝ^1(s)/∂u^1⟩ [P, P], s = 0..T−1
  };

  /// Contracts a [S, C·P_all] field with Δ_eff over outputs into columns offset + α (α < P) of out.
  void contract_into(const matrix& field, const matrix& delta, std::size_t offset, matrix& out) const {
    const std::size_t S = field.shape(0), pt = pr_.p_train;
    for (std::size_t i = 0; i < S; ++i)
      for (std::size_t a = 0; a < pt; ++a) {
        double v = 0;
        for (std::size_t c = 0; c < c_; ++c) v += delta(c, a) * field(i, c * p_ + a);
        out(i, offset + a) = v;
      }
  }

  void entrywise_step(entrywise_state& st, const matrix& g_hat, std::size_t step) const {
    entrywise_accumulate(pr_.update, pr_.p_train, st, g_hat, step, true, 1.0);
  }

  /// One causal pass over t = 0..T. Reads couplings from `rd`, writes kernels/responses to `wr`
  /// (the same object for the march).
  void sweep(std::uint64_t seed, const kernel_store& rd, kernel_store& wr, solution& out) {
    const std::size_t T = pr_.steps, S = opt_.particles, pt = pr_.p_train;
    const double s2 = pr_.sigma * pr_.sigma, inv_s = 1.0 / double(S);
    const bool centre = opt_.kind == innovations::gaussian;
    const bool spikes = opt_.spike_moments && T > 0;
    std::vector<gaussian_source> src_u(L), src_r(L);
    std::vector<detail::innovation_stream> stream;
    for (std::size_t l = 0; l < L; ++l) {
      src_u[l] = gaussian_source(p_, S, l == 0);
      src_r[l] = gaussian_source(l + 1 == L ? c_ : b_, S, l + 1 == L);
      stream.emplace_back(opt_.kind, opt_.quasi_random, S, seed, l, p_, l + 1 == L ? c_ : b_, l == 0, l + 1 == L);
    }
    // particle histories per layer: φ(h(s)) [S, P] and g(s) [S, B]
    std::vector<std::vector<matrix>> phi(L, std::vector<matrix>(T + 1)), g(L, std::vector<matrix>(T + 1));
    std::vector<matrix> dphi(L);
    std::vector<matrix> phi_u(L), dphi_u(L), r_now(L);  // φ(u(t)), φ'(u(t)): the lazy parts, for control variates
    spike_histories sh;
    if (spikes) {
      sh.g_hat.resize(L);
      sh.y_bar.resize(L);
      sh.z_hat.resize(L);
      for (std::size_t l = 0; l < L; ++l) {
        sh.g_hat[l] = xt::zeros<double>({S, T * pt});
        if (l > 0) sh.y_bar[l] = xt::zeros<double>({S, T * pt});
        if (l + 1 < L) sh.z_hat[l] = xt::zeros<double>({S, T * pt});
      }
      sh.response.resize(T);
    }
    matrix w, r_readout;  // readout z^L = w [S, C]; its initial value r^L
    // the optimizer (dmft/problem.hpp): GD keeps its exact code path (bit for bit); linear optimizers
    // re-weight the update terms by c(t, s) and scale what comes from W(0) by d^t; entrywise ones
    // carry the pairwise state of every weight (weight 0 input, 1..L−1 hidden, L readout)
    const update_rule& ur = pr_.update;
    const bool plain = ur.plain(), ew = ur.entrywise();
    std::vector<entrywise_state> ews(ew ? L + 1 : 0);
    matrix x_train;
    if (ew) x_train = xt::view(pr_.x, xt::all(), xt::range(0, pt));

    for (std::size_t t = 0; t <= T; ++t) {
      io::throw_if_interrupted("while solving the theory (step " + std::to_string(t) + " of " + std::to_string(T) + ")");
      // ---------------- forward: h^ℓ(t), ℓ = 1..L ----------------
      ad::static_for<L>([&](auto li) {
        constexpr std::size_t l = li;
        using Act = typename Decl::template activation<l>;
        matrix h, u_now;
        if (l == 0) {
          if (t == 0) {
            check_psd(src_u[0].extend({s2 * kx_}), out, "u", 0, 0);
            src_u[0].sample(0, stream[0].next(p_, 0));
          }
          h = src_u[0].constant_value();
          if (!plain) h *= ur.retained(t);
        } else {
          std::vector<matrix> cov(t + 1);
          for (std::size_t s = 0; s <= t; ++s) cov[s] = s2 * rd.phi[l - 1][t][s];
          check_psd(src_u[l].extend(cov), out, "u", l, t);
          u_now = src_u[l].sample(t, stream[l].next(p_, 2 * t));
          if (!plain) u_now *= ur.retained(t);  // d^t (u + Σ Rφ g): what is left of W(0)'s part
          h = u_now;
        }
        // h = u + Σ_{s<t} g(s) M(t,s)ᵀ with M = Rφ^{ℓ−1}(t,s) + coef Φ^{ℓ−1}(t,s)∘Δ(s): the response
        // part alone is ȳ = X^{ℓ−1}φ^{ℓ−1}(t), the rest is what training added to the weight. With
        // spike moments the two are summed in separate passes so that ȳ can be read off between them.
        const bool split = spikes && l > 0 && t < T;
        matrix m({p_, b_});
        for (std::size_t pass = 0; pass < (split ? 2u : 1u); ++pass) {
          const bool resp = !split || pass == 0, upd = !split || pass == 1;
          for (std::size_t s = 0; s < t; ++s) {
            const matrix& phi_prev = l == 0 ? kx_ : rd.phi[l - 1][t][s];
            const double k = ew ? 0.0 : coef(l) * ur.weight(t, s), dt = ur.retained(t);
            if (l == 0 && (!upd || ew)) continue;
            for (std::size_t mu = 0; mu < p_; ++mu)
              for (std::size_t c = 0; c < c_; ++c)
                for (std::size_t a = 0; a < p_; ++a)
                  m(mu, c * p_ + a) = (resp && l > 0 ? dt * rd.r_phi[l - 1][t][s](mu, c * p_ + a) : 0.0) +
                                      (upd ? k * phi_prev(mu, a) * rd.delta[s](c, a) : 0.0);
            blas::gemm(false, true, 1.0, g[l][s], m, 1.0, h);
          }
          if (split && pass == 0)
            for (std::size_t i = 0; i < S; ++i)
              for (std::size_t a = 0; a < pt; ++a) sh.y_bar[l](i, t * pt + a) = h(i, a);
        }
        // entrywise: what the optimizer added to the weight, (ηγ0κ) M(t), acting on its input at t:
        // the D input coordinates x (÷ D, as K^x), or the particles of the layer below (÷ S, ⟨·⟩)
        if (ew && t > 0) {
          const double k = coef(l) * double(pt);
          if (l == 0) blas::gemm(false, false, k / double(pr_.x.shape(0)), ews[0].M, pr_.x, 1.0, h);
          else blas::gemm(false, false, k * inv_s, ews[l].M, phi[l - 1][t], 1.0, h);
        }
        // φ(h), φ'(h) in one pass, and the lazy parts φ(u), φ'(u) the control variates subtract:
        // at t = 0 h = u, and the input source is constant, so layer 1's are those of t = 0.
        phi[l][t] = matrix({S, p_});
        dphi[l] = matrix({S, p_});
        detail::activate<Act>(h, phi[l][t], dphi[l]);
        if (t == 0) {
          phi_u[l] = phi[l][0];
          dphi_u[l] = dphi[l];
        } else if (l > 0) {
          detail::activate<Act>(u_now, phi_u[l], dphi_u[l]);  // u_now carries d^t
        } else if (ur.retained(t) != 1.0) {
          detail::activate<Act>(matrix(ur.retained(t) * src_u[0].constant_value()), phi_u[0], dphi_u[0]);
        }
        for (std::size_t s = 0; s <= t; ++s) {
          wr.phi[l][t][s] = matrix({p_, p_});
          blas::gemm(true, false, inv_s, phi[l][t], phi[l][s], 0.0, wr.phi[l][t][s]);  // Φ(t,s) = ⟨φ(t)φ(s)ᵀ⟩
        }
        if (l + 1 < L && t > 0) {  // Rφ^ℓ(t, s<t) = σ² ⟨∂φ(h(t))/∂r(s)⟩
          // Control variate: φ(u(t)) is independent of r, so ⟨φ(u(t)) ξ_r⟩ = 0 and subtracting it
          // leaves the O(γ0) part; otherwise Monte Carlo noise O(S^{-1/2}) would swamp an O(γ0) response.
          auto r = src_r[l].stein(matrix(phi[l][t] - phi_u[l]), t - 1, centre);
          for (std::size_t s = 0; s < t; ++s) wr.r_phi[l][t][s] = s2 * r[s];
        }
      });

      // ---------------- output: f(t) = γ0⁻¹⟨z^L(t) φ(h^L(t))⟩, Δ(t) ----------------
      {
        constexpr std::size_t l = L - 1;
        if (t == 0) {
          check_psd(src_r[l].extend({s2 * xt::eye<double>(c_)}), out, "r", l, 0);
          w = src_r[l].sample(0, stream[l].next(c_, 1));
          r_readout = w;
        } else if (plain) {
          // w(t) = w(t−1) + coef_L φ(t−1) Δ(t−1)ᵀ   (readout update, exact)
          blas::gemm(false, true, coef(L), phi[l][t - 1], rd.delta[t - 1], 1.0, w);
        } else if (!ew) {
          // w(t) = d^t w(0) + coef_L Σ_{s<t} c(t, s) φ(s) Δ(s)ᵀ
          w = ur.retained(t) * r_readout;
          for (std::size_t s = 0; s < t; ++s) blas::gemm(false, true, coef(L) * ur.weight(t, s), phi[l][s], rd.delta[s], 1.0, w);
        } else {
          w = ur.retained(t) * r_readout + (coef(L) * double(pt)) * ews[L].M;
        }
        // f = γ0⁻¹⟨w φ(h)⟩ − γ0⁻¹⟨r φ(u)⟩: the subtracted term has mean zero (r ⟂ u) but carries the
        // O(1/(γ0√S)) noise of the lazy part, and it makes f(0) = 0 exactly (the centred output).
        matrix f({c_, p_});
        blas::gemm(true, false, inv_s / pr_.rule.gamma0_eff, w, phi[l][t], 0.0, f);
        blas::gemm(true, false, -inv_s / pr_.rule.gamma0_eff, r_readout, phi_u[l], 1.0, f);
        wr.f[t] = f;
        wr.delta[t] = pr_.update_residual(pr_.residual(f), t);
      }

      // ---------------- backward: z^ℓ(t), g^ℓ(t), ℓ = L..1 ----------------
      ad::static_for_reverse<L>([&](auto li) {
        constexpr std::size_t l = li;
        matrix z({S, b_});
        const bool split = spikes && l + 1 < L && t < T;  // ẑ = X^ℓᵀ ĝ^{ℓ+1} is read off between passes
        if (l + 1 == L) {
          for (std::size_t i = 0; i < S; ++i)
            for (std::size_t c = 0; c < c_; ++c)
              for (std::size_t mu = 0; mu < p_; ++mu) z(i, c * p_ + mu) = w(i, c);
        } else {
          std::vector<matrix> cov(t + 1);
          for (std::size_t s = 0; s <= t; ++s) cov[s] = s2 * rd.g[l + 1][t][s];
          check_psd(src_r[l].extend(cov), out, "r", l, t);
          z = src_r[l].sample(t, stream[l].next(b_, 2 * t + 1));
          if (!plain) z *= ur.retained(t);
          r_now[l] = z;
          // + Σ_{s≤t} φ(s) Q(t,s)ᵀ, Q(t,s)[cP+μ, α] = Rg^{ℓ+1}(t,s) + coef Σ_c' G^{ℓ+1}(t,s)[cP+μ, c'P+α] Δ^{c'}_α(s)
          matrix q({b_, p_});
          const double dt = ur.retained(t);
          for (std::size_t pass = 0; pass < (split ? 2u : 1u); ++pass) {
            const bool resp = !split || pass == 0, upd = (!split || pass == 1) && !ew;
            for (std::size_t s = 0; s <= t; ++s) {
              if (!resp && s == t) continue;  // no update term at s = t
              const double k = s < t ? coef(l + 1) * ur.weight(t, s) : 0.0;
              const matrix& gn = rd.g[l + 1][t][s];
              for (std::size_t bi = 0; bi < b_; ++bi)
                for (std::size_t a = 0; a < p_; ++a) {
                  double v = resp ? dt * rd.r_g[l + 1][t][s](bi, a) : 0.0;
                  if (upd && s < t)
                    for (std::size_t cp = 0; cp < c_; ++cp) v += k * gn(bi, cp * p_ + a) * rd.delta[s](cp, a);
                  q(bi, a) = v;
                }
              blas::gemm(false, true, 1.0, phi[l][s], q, 1.0, z);
            }
            if (split && pass == 0) contract_into(z, wr.delta[t], t * pt, sh.z_hat[l]);  // ẑ = Σ_c Δ^c z̄^c
          }
          // entrywise: the weight above's added part, transposed, on the layer above's g(t)
          if (ew && t > 0) blas::gemm(true, false, coef(l + 1) * double(pt) * inv_s, ews[l + 1].M, g[l + 1][t], 1.0, z);
        }
        g[l][t] = matrix({S, b_});
        for (std::size_t i = 0; i < S; ++i)
          for (std::size_t c = 0; c < c_; ++c)
            for (std::size_t mu = 0; mu < p_; ++mu) g[l][t](i, c * p_ + mu) = dphi[l](i, mu) * z(i, c * p_ + mu);
        for (std::size_t s = 0; s <= t; ++s) {
          wr.g[l][t][s] = matrix({b_, b_});
          blas::gemm(true, false, inv_s, g[l][t], g[l][s], 0.0, wr.g[l][t][s]);  // G(t,s) = ⟨g(t)g(s)ᵀ⟩
        }
        if (spikes && t < T) contract_into(g[l][t], wr.delta[t], t * pt, sh.g_hat[l]);
        if (l > 0 || (spikes && t < T)) {  // Rg^ℓ(t, s≤t) = σ² ⟨∂g(t)/∂u(s)⟩ (layer 1: only for the input weight's spikes)
          // Control variate: the lazy part φ'(u(t)) r(t) has ⟨φ'(u) r ξ_u⟩ = ⟨r⟩⟨φ'(u) ξ_u⟩ = 0.
          matrix lazy_g({S, b_});
          for (std::size_t i = 0; i < S; ++i)
            for (std::size_t c = 0; c < c_; ++c)
              for (std::size_t mu = 0; mu < p_; ++mu)
                lazy_g(i, c * p_ + mu) = dphi_u[l](i, mu) * (l + 1 == L ? ur.retained(t) * r_readout(i, c) : r_now[l](i, c * p_ + mu));
          if (l > 0) {
            auto r = src_u[l].stein(matrix(g[l][t] - lazy_g), t, centre);
            for (std::size_t s = 0; s <= t; ++s) wr.r_g[l][t][s] = s2 * r[s];
          } else {
            matrix contracted({S, pt});
            contract_into(matrix(g[l][t] - lazy_g), wr.delta[t], 0, contracted);
            auto r = src_u[0].stein(contracted, 0, centre);  // the input source is constant in time
            sh.response[t] = s2 * matrix(xt::view(r[0], xt::all(), xt::range(0, pt)));
          }
        }
      });

      // ---------------- entrywise optimizers: every weight's gradient at t, then its state ----------------
      if (ew && t < T) {
        const matrix& dl = wr.delta[t];
        matrix gh({S, pt}), grad;
        for (std::size_t wi = 0; wi < L; ++wi) {
          contract_into(g[wi][t], dl, 0, gh);  // ĝ = Σ_c Δ_eff^c g^c on the training points
          if (wi == 0) {
            grad = matrix({S, x_train.shape(0)});
            blas::gemm(false, true, 1.0, gh, x_train, 0.0, grad);  // G_ij = Σ_α ĝ_iα x_jα
          } else {
            const matrix below = xt::view(phi[wi - 1][t], xt::all(), xt::range(0, pt));
            grad = matrix({S, S});
            blas::gemm(false, true, 1.0, gh, below, 0.0, grad);  // G_ij = Σ_α ĝ_iα φ_jα: particle i above, j below
          }
          entrywise_step(ews[wi], grad, t + 1);
        }
        grad = matrix({S, c_});
        blas::gemm(false, true, 1.0, phi[L - 1][t], dl, 0.0, grad);  // readout: G_ic = Σ_α φ_iα Δ^c_α
        entrywise_step(ews[L], grad, t + 1);
      }
    }
    if (spikes) out.spikes = spike_moments(sh, phi, wr);
    if (ew && T > 0)
      for (std::size_t wi = 1; wi < L; ++wi)
        {
          auto sv = spectra::top_singular(ews[wi].M, update_top_k).values;  // of M itself: no [S, S] copy
          for (auto& v : sv) v *= std::abs(coef(wi) * double(pt) * inv_s);
          out.update_top_sv.push_back(std::move(sv));
        }
  }

  /// The spike Gram matrices per weight (see spike_grams). ⟨φφ⟩ and ⟨ĝĝ⟩ are read off the kernel
  /// store (Φ(t,s) and G(t,s) contracted with Δ_eff), the other four are (1/S)AᵀB products of the
  /// stacked particle histories (symmetric ones by syrk).
  std::vector<spike_grams> spike_moments(const spike_histories& sh, const std::vector<std::vector<matrix>>& phi,
                                         const kernel_store& st) const {
    const std::size_t T = pr_.steps, S = opt_.particles, pt = pr_.p_train, n = T * pt;
    const double inv_s = 1.0 / double(S);
    auto gram = [&](const matrix& a, const matrix& b) {
      matrix m({n, n});
      blas::gemm(true, false, inv_s, a, b, 0.0, m);
      return m;
    };
    auto gram_sym = [&](const matrix& a) {
      matrix m({n, n});
      blas::syrk_t(inv_s, a, 0.0, m);
      return m;
    };
    // Φ^ℓ(t,s) on the training points, and G^ℓ(t,s) contracted with Δ_eff(t), Δ_eff(s)
    auto phi_blocks = [&](std::size_t l) {
      matrix m({n, n});
      for (std::size_t t = 0; t < T; ++t)
        for (std::size_t s = 0; s <= t; ++s)
          for (std::size_t a = 0; a < pt; ++a)
            for (std::size_t b = 0; b < pt; ++b) m(t * pt + a, s * pt + b) = m(s * pt + b, t * pt + a) = st.phi[l][t][s](a, b);
      return m;
    };
    auto g_blocks = [&](std::size_t l) {
      matrix m({n, n});
      for (std::size_t t = 0; t < T; ++t)
        for (std::size_t s = 0; s <= t; ++s)
          for (std::size_t a = 0; a < pt; ++a)
            for (std::size_t b = 0; b < pt; ++b) {
              double v = 0;
              for (std::size_t c = 0; c < c_; ++c)
                for (std::size_t c2 = 0; c2 < c_; ++c2) v += st.delta[t](c, a) * st.delta[s](c2, b) * st.g[l][t][s](c * p_ + a, c2 * p_ + b);
              m(t * pt + a, s * pt + b) = m(s * pt + b, t * pt + a) = v;
            }
      return m;
    };
    std::vector<spike_grams> out(L);
    for (std::size_t i = 0; i < L; ++i) {
      auto& sg = out[i];
      sg.p = pt;
      sg.steps = T;
      sg.coef = coef(i);
      sg.gg = g_blocks(i);
      if (i == 0) {
        sg.response = sh.response;
        continue;
      }
      sg.gy = gram(sh.g_hat[i], sh.y_bar[i]);
      sg.yy = gram_sym(sh.y_bar[i]);
      matrix phi_stack({S, n});  // φ^{ℓ}(s) of the weight's input layer, training points
      for (std::size_t s = 0; s < T; ++s)
        for (std::size_t k = 0; k < S; ++k)
          for (std::size_t a = 0; a < pt; ++a) phi_stack(k, s * pt + a) = phi[i - 1][s](k, a);
      sg.pp = phi_blocks(i - 1);
      sg.pz = gram(phi_stack, sh.z_hat[i - 1]);
      sg.zz = gram_sym(sh.z_hat[i - 1]);
    }
    return out;
  }

  /// Alternating scheme: start from the lazy (γ0 → 0) trajectory, as published solvers do: static
  /// kernels at every (t, s), zero responses, and Δ(t) from the linearised model with the static
  /// NTK, f(t+1) = f(t) + (η/P) K Δ_eff(t) (the loss and the batches enter through Δ_eff).
  void initialise_lazy(kernel_store& st) const {
    const std::size_t T = pr_.steps, pt = pr_.p_train;
    const auto [phi0, g0] = lazy_kernels<Decl>(kx_, pr_.sigma, c_);
    std::vector<const matrix*> pp, gp;
    for (std::size_t l = 0; l < L; ++l) { pp.push_back(&phi0[l]); gp.push_back(&g0[l]); }
    const matrix k = assemble_ntk(kx_, pp, gp, pr_.rule.kappa, c_, pt);
    matrix f = xt::zeros<double>({c_, p_});
    for (std::size_t t = 0; t <= T; ++t) {
      st.delta[t] = pr_.update_residual(pr_.residual(f), t);
      st.f[t] = f;
      for (std::size_t c = 0; c < c_; ++c)
        for (std::size_t mu = 0; mu < pt; ++mu) {
          double kd = 0;
          for (std::size_t c2 = 0; c2 < c_; ++c2)
            for (std::size_t nu = 0; nu < pt; ++nu) kd += k(c * pt + mu, c2 * pt + nu) * st.delta[t](c2, nu);
          f(c, mu) += pr_.eta / double(pt) * kd;
        }
      for (std::size_t l = 0; l < L; ++l)
        for (std::size_t s = 0; s <= t; ++s) {
          st.phi[l][t][s] = phi0[l];
          st.g[l][t][s] = g0[l];
          st.r_g[l][t][s] = xt::zeros<double>({b_, p_});
          if (s < t) st.r_phi[l][t][s] = xt::zeros<double>({p_, b_});
        }
    }
  }

  /// old ← (1−β) old + β new; returns the relative change max over Δ and kernels.
  double damp_into(kernel_store& old, const kernel_store& nw) const {
    const double beta = opt_.damping;
    double change = 0;
    auto mix = [&](matrix& o, const matrix& n) {
      if (n.size() == 0) return;
      if (o.size() != n.size()) o = xt::zeros_like(n);
      const double d = std::sqrt(detail::norm2(matrix(n - o))), sc = std::sqrt(detail::norm2(n)) + 1e-300;
      change = std::max(change, d / sc);
      o = (1 - beta) * o + beta * n;
    };
    for (std::size_t t = 0; t <= pr_.steps; ++t) {
      mix(old.delta[t], nw.delta[t]);
      old.f[t] = nw.f[t];
      for (std::size_t l = 0; l < L; ++l)
        for (std::size_t s = 0; s <= t; ++s) {
          mix(old.phi[l][t][s], nw.phi[l][t][s]);
          mix(old.g[l][t][s], nw.g[l][t][s]);
          if (l > 0) mix(old.r_g[l][t][s], nw.r_g[l][t][s]);
          if (s < t && l + 1 < L) mix(old.r_phi[l][t][s], nw.r_phi[l][t][s]);
        }
    }
    return change;
  }

  void summarise(const kernel_store& st, solution& out) const {
    const std::size_t T = pr_.steps, pt = pr_.p_train;
    out.f = st.f;
    out.phi_tt.assign(L, {});
    out.g_tt.assign(L, {});
    for (std::size_t t = 0; t <= T; ++t) {
      out.train_loss.push_back(pr_.train_loss(st.f[t]));
      out.test_loss.push_back(pr_.test_loss(st.f[t]));
      for (std::size_t l = 0; l < L; ++l) {
        out.phi_tt[l].push_back(st.phi[l][t][t]);
        out.g_tt[l].push_back(st.g[l][t][t]);
      }
      // K(t)[cμ, c'ν] = Σ_i κ_i G^{i+1}(t,t)[cμ, c'ν] Φ^i(t,t)[μ, ν]  (Φ^0 = K^x, G^{L+1} = δ_cc')
      std::vector<const matrix*> pp, gp;
      for (std::size_t l = 0; l < L; ++l) { pp.push_back(&st.phi[l][t][t]); gp.push_back(&st.g[l][t][t]); }
      matrix k = assemble_ntk(kx_, pp, gp, pr_.rule.kappa, c_, pt);
      out.ntk_top.push_back(spectra::dense_top_eigenvalue(k));
      out.eos_ratio.push_back(pr_.eta / double(pt) * out.ntk_top.back());
      out.ntk.push_back(std::move(k));
    }
  }

  static constexpr std::size_t update_top_k = 8;  // singular values of an entrywise update recorded per hidden weight
  problem pr_;  // owned: a copy of the data (small at fixed P), so a temporary problem cannot dangle
  solver_options opt_;
  std::size_t p_ = 0, c_ = 1, b_ = 1;
  matrix kx_;
};

}  // namespace specdyn::dmft
