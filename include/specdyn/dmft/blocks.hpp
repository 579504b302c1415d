// The DMFT of a block declaration (docs/blocks-theory.md), solved by one causal march of single-site
// particles. It walks the same block tree as the finite-width step (ad/program.hpp), with one
// closure rule per block kind:
//   dense  A → B   χ(t) = u(t) + Σ_{s<t} [R_a(t,s) + c Φ_a(t,s)∘Δ(s)] ĝ_χ(s)      (+ bias b(t), then φ)
//                  ĝ_a(t) = r(t) + Σ_{s≤t} ρ [R_χ(t,s) + 𝟙[s<t] c G_χ(t,s)∘Δ(s)] a(s)
//                  u ~ GP(0, v Φ_a) in B's particles, r ~ GP(0, v ρ G_χ) in A's, ρ = N_B/N_A,
//                  R_a = v⟨∂a/∂r⟩, R_χ = v⟨∂ĝ_χ/∂u⟩ (Stein's lemma), Φ_a = ⟨a a⟩, G_χ = ⟨ĝ_χ ĝ_χ⟩
//   bias           b(t+1) = b(t) + c_b Σ_{c,α} Δ^c_α(t) ĝ^c_{χ,α}(t), b(0) ~ N(0, v_b) per particle
//   activation     post = φ(pre), ĝ_pre = φ'(pre) ĝ_post
//   layer norm     x̂ = (h − ⟨h⟩)/√(⟨h²⟩ − ⟨h⟩² + ε) with population averages, y = γ x̂ (gain γ per
//                  particle, trained like a bias); ĝ_h = (ĝ_x̂ − ⟨ĝ_x̂⟩ − x̂⟨ĝ_x̂ x̂⟩)/s
//   residual       out = in + m_L branch(in); ĝ_in = ĝ_out + branch'(m_L ĝ_out)
//   readout        f = (ν_L/γ)⟨ĝ_w a⟩, ĝ_w(t+1) = ĝ_w(t) + c_L Σ_α a_α(t) Δ_α(t)
// with ĝ = γ N ∂f/∂(value) in μP units (γ: the rule's γ0_eff) and every coefficient (v, c, v_b, ...)
// the N → ∞ limit of the finite-width step's own scales, derived from the rule's exponents
// (block_coefficients below), so that width multipliers and branch multipliers need no special case.
// Particles of one population are the neurons of one width group: a residual stream and every
// branch output added to it share one population (the same neurons); any other dense layer starts a
// new one. Innovations are allocated per population (quasi-random, pseudo-random, or the exact
// orthonormal design that makes linear blocks exact), so sources within a population are independent.
// Chains keep their own solver (dmft/particles.hpp); this one agrees with it (tests/dmft/test_blocks.cpp).
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <exception>
#include <optional>
#include <thread>
#include <string>
#include <tuple>
#include <vector>

#include "specdyn/ad/program.hpp"
#include "specdyn/dmft/lazy.hpp"
#include "specdyn/dmft/particles.hpp"
#include "specdyn/dsl/rule_map.hpp"

namespace specdyn::dmft {

// ---------------------------------------------------------------- coefficients from the rule

/// C · N^e: a finite-width scale as a function of the base width N.
struct monomial {
  double c = 1;
  dsl::rational e{0};
  friend monomial operator*(monomial a, monomial b) { return {a.c * b.c, a.e + b.e}; }
  friend monomial operator/(monomial a, monomial b) { return {a.c / b.c, a.e - b.e}; }
  /// The value at width N, or its N → ∞ limit (0 for e < 0; e > 0 has none: throws).
  [[nodiscard]] double at(std::optional<std::size_t> width, const std::string& what) const {
    if (width) return c * std::pow(double(*width), e.value());
    if (e > dsl::rational{0})
      throw usage_error("--param: " + what + " grows like N^" + e.str() + " under this rule, so the infinite-width limit does not exist");
    return e == dsl::rational{0} ? c : 0.0;
  }
};
inline monomial power_of_n(double c, dsl::rational e) { return {c, e}; }

/// The closure's coefficients of one parameter tensor (docs/blocks-theory.md §1).
struct param_coefficients {
  double v = 0;       // weights: N_A · var(W_eff) (source variance); biases: var of s_b b(0); gains: 0
  double coef = 0;    // weights: s² λ N_A/(P γ N); biases and gains: s² λ/(P γ N); readout: γ N s² λ/P
  double rho = 1;     // weights: N_B/N_A
  double nu_in = 1, nu_out = 1;
  double kappa = 0;   // NTK weight: K = Σ κ (G ⊙ Φ), κ = P ν_B coef/(η γ) (readout: P ν_L coef/(η γ))
  // entrywise optimizers: the network's gradient scale s_i over the raw gradient's in the closure's
  // units, a = s_i γ N / s (readout: s_i / s); the pairwise update is coef·P·a·U with Adam's ε × a
  // (docs/optimizers.md §5.2): 1 for plain weights, m_L inside residual branches
  double entrywise = 1;
};

/// The whole table, plus γ (γ0_eff), the readout's output factor ν_L/γ and the branch multiplier.
struct block_coefficients {
  std::vector<param_coefficients> params;
  double gamma = 1;       // γ0_eff = γ0 N^{ρ−1}
  double out_factor = 1;  // f = out_factor ⟨ĝ_w a⟩
  double branch = 1;      // m_L
  bool lazy = false;      // γ → 0: static kernels
  std::string description;
  std::size_t depth = 1;  // copies of repeat<any_depth>
  [[nodiscard]] std::size_t depth_copies(std::size_t count) const { return count == dsl::any_depth ? depth : count; }
};

/// Derives every coefficient from the rule's exponents as monomials in N, exactly as model<Decl>
/// builds the finite-width scales (train/model.hpp), and takes N → ∞ (or evaluates at `width`).
/// info: the parameters at a reference size (only kinds, width ratios and branch flags are read).
SPECDYN_CORE_FN block_coefficients derive_coefficients(const std::vector<ad::param_info>& info, const dsl::exponents& e, double sigma,
                                                       double sigma_bias, double gamma0, double eta, double branch, std::size_t residual_blocks,
                                                       std::size_t p_train, std::size_t input_dim, std::optional<std::size_t> width)
#if SPECDYN_CORE_BODIES
{
  using dsl::rational;
  block_coefficients out;
  const rational one{1}, two{2};
  const auto& ro = info.back();  // the readout
  const rational rho_exp = e.a_readout + e.b_readout;
  const monomial gam = power_of_n(gamma0, rho_exp - one);
  out.gamma = gam.at(width, "γ0_eff");
  if (!width && rho_exp - one > rational{0}) throw usage_error("--param: γ0_eff grows with N; no stable limit");
  out.lazy = out.gamma == 0.0;
  const double depth = residual_blocks > 0 ? double(residual_blocks) : 1.0;
  out.branch = branch * std::pow(depth, -e.alpha_depth.value());
  const monomial n{1, one};  // N itself
  const double p = double(p_train);
  for (const auto& pi : info) {
    param_coefficients pc;
    const bool vec = pi.kind == ad::param_kind::bias || pi.kind == ad::param_kind::gain;
    // own width n_i = ratio · N (as in model<Decl>): fan-out for the input, fan-in for hidden/readout, size for vectors
    const double ratio = pi.kind == ad::param_kind::input ? pi.fan_out_ratio : vec ? pi.fan_out_ratio : pi.fan_in_ratio;
    const rational a = pi.kind == ad::param_kind::input ? e.a_input : pi.kind == ad::param_kind::readout ? e.a_readout : vec ? e.a_bias : e.a_hidden;
    const rational b = pi.kind == ad::param_kind::input ? e.b_input : pi.kind == ad::param_kind::readout ? e.b_readout : vec ? e.b_bias : e.b_hidden;
    monomial s = power_of_n(std::pow(ratio, -a.value()), -a);
    if (pi.kind == ad::param_kind::input) s = s * monomial{1.0 / std::sqrt(double(input_dim)), rational{0}};
    if (pi.kind == ad::param_kind::readout) s = s * monomial{1.0 / gamma0, rational{0}};
    const monomial std_raw = power_of_n((pi.kind == ad::param_kind::bias ? sigma_bias : sigma) * std::pow(ratio, -b.value()), -b);
    monomial lr = power_of_n(eta * gamma0 * gamma0 * std::pow(ratio, -e.c.value()), -e.c);
    if (pi.in_branch) lr = lr * monomial{std::pow(depth, -e.c_depth.value()), rational{0}};
    const monomial fan_in = pi.kind == ad::param_kind::input ? monomial{double(input_dim), rational{0}} : monomial{pi.fan_in_ratio, one};
    pc.nu_in = pi.kind == ad::param_kind::input ? 1.0 : pi.fan_in_ratio;
    pc.nu_out = pi.fan_out_ratio;
    const std::string what = "parameter " + pi.name;
    switch (pi.kind) {
      case ad::param_kind::input:
      case ad::param_kind::hidden: {
        pc.v = (s * s * std_raw * std_raw * fan_in).at(width, what + "'s forward variance");
        pc.coef = (s * s * lr * fan_in / (gam * n)).at(width, what + "'s update") / p;
        pc.rho = pi.kind == ad::param_kind::input ? 1.0 : pi.fan_out_ratio / pi.fan_in_ratio;
        break;
      }
      case ad::param_kind::readout: {
        pc.v = (gam * n * s * std_raw * gam * n * s * std_raw).at(width, "the readout's initial scale");
        pc.coef = (gam * n * s * s * lr).at(width, "the readout's update") / p;
        break;
      }
      case ad::param_kind::bias: {
        pc.v = (s * s * std_raw * std_raw).at(width, what + "'s initial scale");
        pc.coef = (s * s * lr / (gam * n)).at(width, what + "'s update") / p;
        break;
      }
      case ad::param_kind::gain: {
        pc.coef = (s * s * lr / (gam * n)).at(width, what + "'s update") / p;
        break;
      }
    }
    // NTK weight κ = P ν_B coef/(η γ): for weights ν_B s² λ N_A/(η γ² N), readout ν_L N s² λ/η, vectors ν_B s² λ/(η γ² N);
    // formed as a monomial so that the lazy limit (γ → 0, coef → 0) keeps its finite ratio
    const monomial eta_m{eta, rational{0}};
    const monomial nu_b{pi.fan_out_ratio, rational{0}};
    monomial k;
    if (pi.kind == ad::param_kind::readout) k = monomial{pi.fan_in_ratio, rational{0}} * n * s * s * lr / eta_m;
    else if (pi.is_matrix()) k = nu_b * s * s * lr * fan_in / (eta_m * gam * gam * n);
    else k = nu_b * s * s * lr / (eta_m * gam * gam * n);
    pc.kappa = k.at(width, what + "'s kernel weight");
    {  // s_i = n_i^{-g}/γ0 (÷√D input, × m_L in branches) as model<Decl>::gradient_scales(); 1 for a given g = 0
      const dsl::gradient_scale_exponents ge = dsl::gradient_exponents(e);
      const rational g = pi.kind == ad::param_kind::input ? ge.input : pi.kind == ad::param_kind::readout ? ge.readout : vec ? ge.bias : ge.hidden;
      monomial si = e.entrywise_given && g == rational{0} ? monomial{1, rational{0}} : power_of_n(std::pow(ratio, -g.value()) / gamma0, -g);
      if (!(e.entrywise_given && g == rational{0})) {
        if (pi.kind == ad::param_kind::input) si = si * monomial{1.0 / std::sqrt(double(input_dim)), rational{0}};
        if (pi.in_branch) si = si * monomial{out.branch, rational{0}};
      }
      const monomial a = pi.kind == ad::param_kind::readout ? si / s : si * gam * n / s;
      pc.entrywise = out.lazy ? 1.0 : a.at(width, what + "'s entrywise step");
    }
    out.params.push_back(pc);
  }
  out.out_factor = out.lazy ? 0.0 : ro.fan_in_ratio / out.gamma;
  out.description = "γ0_eff = γ0·N^(" + (rho_exp - one).str() + ")" + (width ? " at N = " + std::to_string(*width) : " at N = ∞") +
                    ", m_L = " + std::to_string(out.branch);
  return out;
}
#else
;
#endif

// ---------------------------------------------------------------- innovations per population

/// Innovations of one population: every source of that population takes its coordinates from one
/// running counter, so that sources within a population are independent (distinct Sobol'
/// coordinates, distinct pseudo-random streams, distinct design coordinates).
class population_stream {
 public:
  population_stream(innovations kind, bool quasi, std::size_t particles, std::uint64_t seed, std::size_t id)
      : kind_(kind), quasi_(quasi && kind == innovations::gaussian), s_(particles), seed_(seed), id_(id) {}
  SPECDYN_CORE_FN matrix next(std::size_t dim)
#if SPECDYN_CORE_BODIES
  {
    matrix xi = xt::zeros<double>({s_, dim});
    for (std::size_t j = 0; j < dim; ++j, ++next_) {
      if (kind_ == innovations::design) {
        const double a = std::sqrt(double(s_) / 2.0);
        if (2 * next_ + 1 >= s_) throw solver_error("orthonormal design needs more particles than " + std::to_string(s_));
        xi(2 * next_, j) = a;
        xi(2 * next_ + 1, j) = -a;
        continue;
      }
      rng gen(seed_, rng::stream::particles, (std::uint64_t(id_ + 1) << 40) | (std::uint64_t(1) << 39) | next_);
      if (quasi_ && next_ < detail::sobol_dimensions) detail::sobol_normal_column(s_, next_, gen, xi.data() + j, dim);
      else
        for (std::size_t i = 0; i < s_; ++i) xi(i, j) = gen.normal();
    }
    return xi;
  }
#else
  ;
#endif
  /// One N(0, 1) number per particle, independent of every innovation (bias initial values).
  SPECDYN_CORE_FN std::vector<double> scalars()
#if SPECDYN_CORE_BODIES
  {
    std::vector<double> v(s_);
    if (kind_ == innovations::design) {  // one more design coordinate
      const matrix xi = next(1);
      for (std::size_t i = 0; i < s_; ++i) v[i] = xi(i, 0);
      return v;
    }
    rng gen(seed_, rng::stream::particles, (std::uint64_t(id_ + 1) << 40) | (std::uint64_t(1) << 38) | scalars_++);
    for (auto& x : v) x = gen.normal();
    return v;
  }
#else
  ;
#endif
  [[nodiscard]] std::size_t used() const { return next_; }

 private:
  innovations kind_;
  bool quasi_;
  std::size_t s_;
  std::uint64_t seed_, id_;
  std::size_t next_ = 0, scalars_ = 0;
};

// ---------------------------------------------------------------- the march

/// Values of one node at the current time over the particles, and their lazy (γ → 0) shadows, used
/// as control variates (docs/blocks-theory.md §3): the shadow of a forward value depends on the
/// forward sources only, that of an adjoint is linear in the backward sources.
struct particle_field {
  matrix v, lazy;  // forward [S, P], adjoint [S, C·P]
};

/// Per-weight kernels the solution reports (matrix weights in forward order).
struct weight_record {
  std::string name;
  ad::param_kind kind;
  double nu_in = 1, nu_out = 1;
  std::vector<matrix> phi_tt, g_tt;  // input kernel Φ_a(t,t) [P, P] (empty for the input weight), output G_χ(t,t) [B, B]
  spike_grams spikes;
  bool square = false;
};

/// What the whole march shares.
struct march_context {
  const problem& pr;
  solver_options opt;
  const block_coefficients& co;
  std::size_t S = 0, P = 0, Pt = 0, C = 1, B = 1, T = 0;
  bool centre = true, spikes = false;
  bool ew = false;                      // an entrywise optimizer: pairwise states (docs/optimizers.md §5.2)
  matrix kx{};                          // K^x [P, P]
  std::vector<population_stream> pops{};  // innovations per population
  std::vector<double> nu{};             // width ratio per population
  std::vector<matrix> delta{};          // Δ_eff(t) [C, P]
  std::vector<matrix> f{};              // centred outputs [C, P]
  std::vector<matrix> ntk{};            // K(t) over all points [C·P, C·P]
  std::vector<weight_record> weights{};  // matrix weights in forward order
  solution* out = nullptr;
  std::uint64_t seed = 0;
  std::size_t depth_count = 1;          // copies of repeat<any_depth>

  std::size_t new_population(double ratio) {
    pops.emplace_back(opt.kind, opt.quasi_random, S, seed, pops.size());
    nu.push_back(ratio);
    return pops.size() - 1;
  }
  /// A source covariance that is not finite (or astronomically large) means the march has diverged:
  /// say so at its step instead of letting the eigen-decomposition fail on it.
  void check_finite(const std::vector<matrix>& cov, const std::string& where, std::size_t t) const {
    for (const auto& m : cov)
      for (double v : m)
        if (!std::isfinite(v) || std::abs(v) > 1e100)
          throw divergence_error(t, where, "the closure's kernels are not finite; lower --lr or --gamma0");
  }
  void check_psd(double rel_min, const std::string& where, std::size_t t) {
    out->min_conditional_eigenvalue = std::min(out->min_conditional_eigenvalue, rel_min);
    if (!(rel_min > -1e-6))
      throw solver_error("DMFT: the covariance of " + where + " at step " + std::to_string(t) +
                         " is not positive semi-definite (smallest conditional eigenvalue " + std::to_string(rel_min) +
                         " of the marginal scale); the kernels are inconsistent");
  }
  /// Σ_c Δ^c_α field[·, c P + α] into columns offset + α (α < P_train) of out.
  void contract_into(const matrix& field, const matrix& d, std::size_t offset, matrix& o) const {
    for (std::size_t i = 0; i < S; ++i)
      for (std::size_t a = 0; a < Pt; ++a) {
        double v = 0;
        for (std::size_t c = 0; c < C; ++c) v += d(c, a) * field(i, c * P + a);
        o(i, offset + a) = v;
      }
  }
  /// The entrywise factor a of a parameter (pairwise_gd, the test of the machinery, is GD itself: 1).
  [[nodiscard]] double ew_factor(const param_coefficients& pc) const {
    return pr.update.how == update_rule::kind::pairwise_gd ? 1.0 : pc.entrywise;
  }
  /// A vector as an [n, 1] matrix.
  static matrix column(const std::vector<double>& v) {
    matrix m({v.size(), std::size_t(1)});
    for (std::size_t i = 0; i < v.size(); ++i) m(i, 0) = v[i];
    return m;
  }
  /// (1/S) aᵀ b
  matrix gram(const matrix& a, const matrix& b) const {
    matrix m({a.shape(1), b.shape(1)});
    blas::gemm(true, false, 1.0 / double(S), a, b, 0.0, m);
    return m;
  }
  /// adj [S, C·P] ← d [S, P] ⊙ adj, per output
  void times_columns(const matrix& d, const matrix& adj, matrix& out_adj) const {
    out_adj.resize({S, B});
    for (std::size_t i = 0; i < S; ++i)
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t mu = 0; mu < P; ++mu) out_adj(i, c * P + mu) = d(i, mu) * adj(i, c * P + mu);
  }
};

/// Where make() is in the tree.
struct make_walk {
  std::size_t param = 0;      // index of the next parameter
  std::size_t pop = 0;        // population of the current stream
  double width = 1;           // its width ratio
  std::optional<std::size_t> target;  // a residual body's last dense writes into this population
};

template <class B, bool First = false>
struct closure;

template <class Act>
void activate_pair(const particle_field& in, particle_field& out, matrix& d, matrix& d_lazy) {
  detail::activate<Act>(in.v, out.v, d);
  detail::activate<Act>(in.lazy, out.lazy, d_lazy);
}

// ---------------------------------------------------------------- sequences
template <bool FirstIsData, class... Bs>
struct closure_sequence {
  template <std::size_t I>
  using at = std::tuple_element_t<I, std::tuple<Bs...>>;
  template <std::size_t I>
  using rule = closure<at<I>, FirstIsData && I == 0>;
  static constexpr std::size_t n = sizeof...(Bs);
  /// The index of the last top-level dense layer (n if none).
  static constexpr std::size_t last_dense = [] {
    std::size_t k = n;
    ad::static_for<n>([&](auto i) {
      if constexpr (dsl::is_dense<at<i>>) k = i;
    });
    return k;
  }();
  template <class Seq> struct tuples;
  template <std::size_t... I>
  struct tuples<std::index_sequence<I...>> { using type = std::tuple<typename rule<I>::state...>; };
  using state = typename tuples<std::make_index_sequence<n>>::type;

  static void make(state& st, march_context& cx, make_walk& w) {
    const std::optional<std::size_t> target = w.target;
    w.target.reset();
    ad::static_for<n>([&](auto i) {
      if constexpr (dsl::is_repeat<at<i>>)
        if (target) throw usage_error("specdyn theory: a repeat<K>(…) inside a residual body is not derived; write the body's blocks out");
      if (i == last_dense && target) w.target = target;
      rule<i>::make(std::get<i>(st), cx, w);
      w.target.reset();
    });
  }
  static const particle_field& forward(march_context& cx, state& st, std::size_t t, const particle_field& in) {
    const particle_field* cur = &in;
    ad::static_for<n>([&](auto i) { cur = &rule<i>::forward(cx, std::get<i>(st), t, *cur); });
    return *cur;
  }
  static const particle_field& backward(march_context& cx, state& st, std::size_t t, const particle_field& adj) {
    const particle_field* cur = &adj;
    ad::static_for_reverse<n>([&](auto i) { cur = &rule<i>::backward(cx, std::get<i>(st), t, *cur); });
    return *cur;
  }
  static void finish(march_context& cx, state& st) {
    ad::static_for<n>([&](auto i) { rule<i>::finish(cx, std::get<i>(st)); });
  }
};

// ---------------------------------------------------------------- dense [| bias] [| φ]
template <class Act, std::intmax_t Num, std::intmax_t Den, bool Bias, bool HasAct, bool First>
struct closure<dsl::dense_layer<Act, Num, Den, Bias, HasAct>, First> {
  struct state {
    std::size_t index = 0, weight = 0;  // parameter index; position in march_context::weights
    std::size_t pop_in = 0, pop_out = 0;
    param_coefficients pc, bias_pc;
    gaussian_source u, r;
    std::vector<matrix> a_hist, g_hist;                            // a(s) [S, P], ĝ_χ(s) [S, B]
    std::vector<std::vector<matrix>> phi, G, r_a, r_g;             // [t][s]
    particle_field chi, post, adj_in;
    matrix dphi, dphi_lazy, g, g_lazy;
    std::vector<double> bias, bias0, bias_v;                       // s_b b(t), s_b b(0) per particle; the bias velocity (momentum)
    matrix g_hat, y_bar, z_hat;                                    // spike histories [S, T·P_train]
    std::vector<matrix> input_response;                            // input weight: σ²⟨∂ĝ(s)/∂u⟩ [P, P]
    entrywise_state ew_w, ew_b;                                    // entrywise optimizers: the weight's [S, S] (input: [S, D]) and the bias's [S, 1]
  };
  static void make(state& st, march_context& cx, make_walk& w) {
    st.index = w.param;
    st.pc = cx.co.params[w.param];
    w.param += 1;
    if constexpr (Bias) st.bias_pc = cx.co.params[w.param++];
    st.pop_in = w.pop;
    using W = std::ratio<Num, Den>;
    const double ratio = double(W::num) / double(W::den);
    st.pop_out = w.target ? *w.target : cx.new_population(ratio);
    w.pop = st.pop_out;
    w.width = ratio;
    st.u = gaussian_source(cx.P, cx.S, First);
    if constexpr (!First) st.r = gaussian_source(cx.B, cx.S, false);
    const std::size_t T1 = cx.T + 1;
    st.a_hist.resize(T1);
    st.g_hist.resize(T1);
    for (auto* k : {&st.phi, &st.G, &st.r_a, &st.r_g}) {
      k->resize(T1);
      for (std::size_t t = 0; t < T1; ++t) (*k)[t].resize(t + 1);
    }
    st.weight = cx.weights.size();
    weight_record rec;
    rec.kind = First ? ad::param_kind::input : ad::param_kind::hidden;
    rec.nu_in = st.pc.nu_in;
    rec.nu_out = st.pc.nu_out;
    rec.square = !First && st.pc.nu_in == 1.0 && st.pc.nu_out == 1.0;
    cx.weights.push_back(rec);
    if (cx.spikes) {
      const std::size_t n = cx.T * cx.Pt;
      st.g_hat = xt::zeros<double>({cx.S, n});
      if constexpr (!First) {
        st.y_bar = xt::zeros<double>({cx.S, n});
        st.z_hat = xt::zeros<double>({cx.S, n});
      }
      st.input_response.resize(cx.T);
    }
  }
  static const particle_field& forward(march_context& cx, state& st, std::size_t t, const particle_field& in) {
    const std::size_t S = cx.S, P = cx.P;
    const param_coefficients& pc = st.pc;
    // the input's kernels and its response to this weight's backward source
    if constexpr (!First) {
      st.a_hist[t] = in.v;
      for (std::size_t s = 0; s <= t; ++s) st.phi[t][s] = cx.gram(in.v, st.a_hist[s]);  // Φ_a(t,s) = ⟨a(t) a(s)⟩
      if (t > 0) {  // R_a(t, s<t) = v ⟨∂a(t)/∂r(s)⟩; control variate: the lazy shadow does not depend on r
        const auto resp = st.r.stein(matrix(in.v - in.lazy), t - 1, cx.centre);
        for (std::size_t s = 0; s < t; ++s) st.r_a[t][s] = pc.v * resp[s];
      }
      cx.weights[st.weight].phi_tt.push_back(st.phi[t][t]);
    }
    // the forward source u(t) ~ GP(0, v Φ_a), conditioned on its past
    if constexpr (First) {
      if (t == 0) {
        cx.check_psd(st.u.extend({pc.v * cx.kx}), "the input weight's source u", 0);
        st.u.sample(0, cx.pops[st.pop_out].next(P));
      }
      st.chi.v = st.u.constant_value();
    } else {
      std::vector<matrix> cov(t + 1);
      for (std::size_t s = 0; s <= t; ++s) cov[s] = pc.v * st.phi[t][s];
      cx.check_finite(cov, "the input kernel of weight " + std::to_string(st.index), t);
      cx.check_psd(st.u.extend(cov), "the source u of weight " + std::to_string(st.index), t);
      st.chi.v = st.u.sample(t, cx.pops[st.pop_out].next(P));
    }
    const double dt = cx.pr.update.retained(t);  // weight decay: d^t of W(0)'s parts (1 exactly without)
    if (dt != 1.0) st.chi.v *= dt;
    st.chi.lazy = st.chi.v;
    // χ = u + Σ_{s<t} ĝ_χ(s) M(t,s)ᵀ, M[μ, cP+α] = R_a(t,s)[μ, cP+α] + c Φ_a(t,s)[μ,α] Δ^c_α(s). With spike
    // moments the response part alone (ȳ = X a) is read off between two passes.
    const bool split = cx.spikes && !First && t < cx.T;
    matrix m({P, cx.B});
    for (std::size_t pass = 0; pass < (split ? 2u : 1u); ++pass) {
      const bool resp = !split || pass == 0, upd = !split || pass == 1;
      for (std::size_t s = 0; s < t; ++s) {
        const matrix& phi_prev = First ? cx.kx : st.phi[t][s];
        const double k = cx.ew ? 0.0 : pc.coef * cx.pr.update.weight(t, s);  // momentum: c(t, s) (1 for GD, exactly)
        if (First && cx.ew) continue;
        for (std::size_t mu = 0; mu < P; ++mu)
          for (std::size_t c = 0; c < cx.C; ++c)
            for (std::size_t a = 0; a < P; ++a)
              m(mu, c * P + a) = (resp && !First ? dt * st.r_a[t][s](mu, c * P + a) : 0.0) + (upd ? k * phi_prev(mu, a) * cx.delta[s](c, a) : 0.0);
        blas::gemm(false, true, 1.0, st.g_hist[s], m, 1.0, st.chi.v);
      }
      if (split && pass == 0)
        for (std::size_t i = 0; i < S; ++i)
          for (std::size_t a = 0; a < cx.Pt; ++a) st.y_bar(i, t * cx.Pt + a) = st.chi.v(i, a);
    }
    // entrywise: the weight's added part (c P) M(t) on its input at t — the D coordinates x (÷ D) or the
    // input population's particles (÷ S)
    if (cx.ew && t > 0) {
      const double k = pc.coef * double(cx.Pt) * cx.ew_factor(pc);
      if constexpr (First) blas::gemm(false, false, k / double(cx.pr.x.shape(0)), st.ew_w.M, cx.pr.x, 1.0, st.chi.v);
      else blas::gemm(false, false, k / double(S), st.ew_w.M, in.v, 1.0, st.chi.v);
    }
    if constexpr (Bias) {
      if (t == 0) {
        const double sd = std::sqrt(st.bias_pc.v);
        st.bias0 = cx.pops[st.pop_out].scalars();
        for (auto& b : st.bias0) b *= sd;
        st.bias = st.bias0;
      }
      for (std::size_t i = 0; i < S; ++i)
        for (std::size_t mu = 0; mu < P; ++mu) {
          st.chi.v(i, mu) += st.bias[i];
          st.chi.lazy(i, mu) += st.bias0[i];
        }
    }
    activate_pair<Act>(st.chi, st.post, st.dphi, st.dphi_lazy);
    return st.post;
  }
  static const particle_field& backward(march_context& cx, state& st, std::size_t t, const particle_field& adj) {
    const std::size_t S = cx.S, P = cx.P, B = cx.B;
    const param_coefficients& pc = st.pc;
    cx.times_columns(st.dphi, adj.v, st.g);            // ĝ_χ = φ'(χ) ĝ_post
    cx.times_columns(st.dphi_lazy, adj.lazy, st.g_lazy);
    st.g_hist[t] = st.g;
    for (std::size_t s = 0; s <= t; ++s) st.G[t][s] = cx.gram(st.g, st.g_hist[s]);  // G_χ(t,s) = ⟨ĝ_χ(t) ĝ_χ(s)⟩
    auto& rec = cx.weights[st.weight];
    rec.g_tt.push_back(st.G[t][t]);
    // the NTK's share of this weight: κ G_χ ⊙ Φ_a (Φ_a = K^x for the input weight)
    add_ntk(cx, t, pc.kappa, st.G[t][t], First ? &cx.kx : &st.phi[t][t]);
    if constexpr (Bias) add_ntk(cx, t, st.bias_pc.kappa, st.G[t][t], nullptr);
    if (cx.spikes && t < cx.T) cx.contract_into(st.g, cx.delta[t], t * cx.Pt, st.g_hat);
    // R_χ(t, s≤t) = v ρ ⟨∂ĝ_χ(t)/∂u(s)⟩ (the input weight needs only its spikes' contracted response)
    if constexpr (!First) {
      const auto resp = st.u.stein(matrix(st.g - st.g_lazy), t, cx.centre);
      for (std::size_t s = 0; s <= t; ++s) st.r_g[t][s] = pc.v * pc.rho * resp[s];
    } else if (cx.spikes && t < cx.T) {
      matrix contracted({S, cx.Pt});
      cx.contract_into(matrix(st.g - st.g_lazy), cx.delta[t], 0, contracted);
      const auto r = st.u.stein(contracted, 0, cx.centre);  // the input source is constant in time
      st.input_response[t] = pc.v * matrix(xt::view(r[0], xt::all(), xt::range(0, cx.Pt)));
    }
    if constexpr (Bias) {  // b(t+1) = b(t) + c_b Σ_{c,α} Δ^c_α(t) ĝ^c_α(t)   (momentum: its velocity form)
      const bool plain = cx.pr.update.plain();
      const auto [ca, cb] = cx.pr.update.step_form();
      if (!plain && st.bias_v.size() != S) st.bias_v.assign(S, 0.0);
      for (std::size_t i = 0; i < S; ++i) {
        double s = 0;
        for (std::size_t c = 0; c < cx.C; ++c)
          for (std::size_t a = 0; a < cx.Pt; ++a) s += cx.delta[t](c, a) * st.g(i, c * P + a);
        if (plain) {
          st.bias[i] += st.bias_pc.coef * s;
        } else if (!cx.ew) {
          st.bias_v[i] = cx.pr.update.mu * st.bias_v[i] + s;
          st.bias[i] += st.bias_pc.coef * (ca * s + cb * st.bias_v[i]);
        } else {
          st.bias_v[i] = s;  // this step's gradient, for the entrywise state below
        }
      }
      if (cx.ew && t < cx.T) {  // b = b(0) + (c_b P) M, one entry per particle
        entrywise_accumulate(cx.pr.update, cx.Pt, st.ew_b, march_context::column(st.bias_v), t + 1, false, cx.ew_factor(st.bias_pc));
        for (std::size_t i = 0; i < S; ++i) st.bias[i] = st.bias0[i] + st.bias_pc.coef * cx.ew_factor(st.bias_pc) * double(cx.Pt) * st.ew_b.M(i, 0);
      }
    }
    if constexpr (First) {
      entrywise_weight_step(cx, st, t);
      return st.adj_in;  // the data needs no adjoint
    } else {
      std::vector<matrix> cov(t + 1);
      for (std::size_t s = 0; s <= t; ++s) cov[s] = pc.v * pc.rho * st.G[t][s];
      cx.check_finite(cov, "the backward kernel of weight " + std::to_string(st.index), t);
      cx.check_psd(st.r.extend(cov), "the source r of weight " + std::to_string(st.index), t);
      st.adj_in.v = st.r.sample(t, cx.pops[st.pop_in].next(B));
      const double dt = cx.pr.update.retained(t);
      if (dt != 1.0) st.adj_in.v *= dt;
      st.adj_in.lazy = st.adj_in.v;
      // + Σ_{s≤t} a(s) Q(t,s)ᵀ, Q[cP+μ, α] = R_χ(t,s)[cP+μ, α] + 𝟙[s<t] c ρ Σ_c' G_χ(t,s)[cP+μ, c'P+α] Δ^{c'}_α(s)
      const bool split = cx.spikes && t < cx.T;
      matrix q({B, P});
      for (std::size_t pass = 0; pass < (split ? 2u : 1u); ++pass) {
        const bool resp = !split || pass == 0, upd = !split || pass == 1;
        for (std::size_t s = 0; s <= t; ++s) {
          if (!resp && s == t) continue;
          const matrix& gn = st.G[t][s];
          const double k = s < t && !cx.ew ? pc.coef * cx.pr.update.weight(t, s) : 0.0;
          for (std::size_t bi = 0; bi < B; ++bi)
            for (std::size_t a = 0; a < P; ++a) {
              double v = resp ? dt * st.r_g[t][s](bi, a) : 0.0;
              if (upd && s < t)
                for (std::size_t cp = 0; cp < cx.C; ++cp) v += k * pc.rho * gn(bi, cp * P + a) * cx.delta[s](cp, a);
              q(bi, a) = v;
            }
          blas::gemm(false, true, 1.0, st.a_hist[s], q, 1.0, st.adj_in.v);
        }
        if (split && pass == 0) cx.contract_into(st.adj_in.v, cx.delta[t], t * cx.Pt, st.z_hat);  // ẑ = Σ_c Δ^c (Xᵀĝ)^c
      }
      // entrywise: the added part transposed on ĝ_χ(t), with the closure's width ratio ρ
      if (cx.ew && t > 0) blas::gemm(true, false, pc.coef * cx.ew_factor(pc) * pc.rho * double(cx.Pt) / double(S), st.ew_w.M, st.g, 1.0, st.adj_in.v);
      entrywise_weight_step(cx, st, t);
      return st.adj_in;
    }
  }
  /// Entrywise optimizers, after the step's backward pass: Ĝ_ij = Σ_α ĝ_iα a_jα (a = x for the input
  /// weight), ĝ = Σ_c Δ^c ĝ_χ^c on the training points, into the weight's pairwise state.
  static void entrywise_weight_step(march_context& cx, state& st, std::size_t t) {
    if (!cx.ew || t >= cx.T) return;
    matrix gh({cx.S, cx.Pt});
    cx.contract_into(st.g, cx.delta[t], 0, gh);
    matrix grad;
    if constexpr (First) {
      const matrix x_train = xt::view(cx.pr.x, xt::all(), xt::range(0, cx.Pt));
      grad = matrix({cx.S, x_train.shape(0)});
      blas::gemm(false, true, 1.0, gh, x_train, 0.0, grad);
    } else {
      const matrix below = xt::view(st.a_hist[t], xt::all(), xt::range(0, cx.Pt));
      grad = matrix({cx.S, cx.S});
      blas::gemm(false, true, 1.0, gh, below, 0.0, grad);
    }
    entrywise_accumulate(cx.pr.update, cx.Pt, st.ew_w, grad, t + 1, true, cx.ew_factor(st.pc));
  }
  /// K(cμ, c'ν) += κ G[cμ, c'ν] Φ[μ, ν] (Φ = 1 for biases)
  static void add_ntk(march_context& cx, std::size_t t, double kappa, const matrix& g, const matrix* phi) {
    matrix& k = cx.ntk[t];
    const std::size_t P = cx.P;
    for (std::size_t a = 0; a < cx.C; ++a)
      for (std::size_t b = 0; b < cx.C; ++b)
        for (std::size_t mu = 0; mu < P; ++mu)
          for (std::size_t nu = 0; nu < P; ++nu) k(a * P + mu, b * P + nu) += kappa * g(a * P + mu, b * P + nu) * (phi ? (*phi)(mu, nu) : 1.0);
  }
  /// The spike Gram matrices of this weight (docs/spectra-theory.md), after the march.
  static void finish(march_context& cx, state& st) {
    if (!cx.spikes || cx.T == 0) return;
    auto& sg = cx.weights[st.weight].spikes;
    const std::size_t T = cx.T, Pt = cx.Pt, n = T * Pt, P = cx.P;
    sg.p = Pt;
    sg.steps = T;
    sg.coef = st.pc.coef;
    sg.gg = matrix({n, n});
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t s = 0; s <= t; ++s)
        for (std::size_t a = 0; a < Pt; ++a)
          for (std::size_t b = 0; b < Pt; ++b) {
            double v = 0;
            for (std::size_t c = 0; c < cx.C; ++c)
              for (std::size_t c2 = 0; c2 < cx.C; ++c2) v += cx.delta[t](c, a) * cx.delta[s](c2, b) * st.G[t][s](c * P + a, c2 * P + b);
            sg.gg(t * Pt + a, s * Pt + b) = sg.gg(s * Pt + b, t * Pt + a) = v;
          }
    if constexpr (First) {
      sg.response = st.input_response;
    } else {
      sg.gy = cx.gram(st.g_hat, st.y_bar);
      sg.yy = cx.gram(st.y_bar, st.y_bar);
      matrix a_stack({cx.S, n});
      for (std::size_t s = 0; s < T; ++s)
        for (std::size_t k = 0; k < cx.S; ++k)
          for (std::size_t a = 0; a < Pt; ++a) a_stack(k, s * Pt + a) = st.a_hist[s](k, a);
      sg.pp = matrix({n, n});
      for (std::size_t t = 0; t < T; ++t)
        for (std::size_t s = 0; s <= t; ++s)
          for (std::size_t a = 0; a < Pt; ++a)
            for (std::size_t b = 0; b < Pt; ++b) sg.pp(t * Pt + a, s * Pt + b) = sg.pp(s * Pt + b, t * Pt + a) = st.phi[t][s](a, b);
      sg.pz = cx.gram(a_stack, st.z_hat);
      sg.zz = cx.gram(st.z_hat, st.z_hat);
    }
  }
};

// ---------------------------------------------------------------- an activation block
template <class Act, bool First>
struct closure<dsl::activation_block<Act>, First> {
  struct state {
    particle_field post, adj_in;
    matrix d, d_lazy;
  };
  static void make(state&, march_context&, make_walk&) {}
  static void finish(march_context&, state&) {}
  static const particle_field& forward(march_context&, state& st, std::size_t, const particle_field& in) {
    activate_pair<Act>(in, st.post, st.d, st.d_lazy);
    return st.post;
  }
  static const particle_field& backward(march_context& cx, state& st, std::size_t, const particle_field& adj) {
    cx.times_columns(st.d, adj.v, st.adj_in.v);
    cx.times_columns(st.d_lazy, adj.lazy, st.adj_in.lazy);
    return st.adj_in;
  }
};

// ---------------------------------------------------------------- layer norm [| gain]
template <bool Gain, bool First>
struct closure<dsl::layernorm_block<Gain>, First> {
  struct state {
    std::size_t index = 0;
    param_coefficients pc;
    std::vector<double> gain, gain_v;          // γ_i(t) per particle (1 at t = 0); its velocity (momentum)
    entrywise_state ew_g;                      // entrywise optimizers: the gain's [S, 1] state
    matrix xhat, xhat_lazy;                    // [S, P]
    std::vector<double> rstd, rstd_lazy;       // 1/√(var + ε) per sample
    particle_field out, adj_in;
  };
  static void make(state& st, march_context& cx, make_walk& w) {
    if constexpr (Gain) {
      st.index = w.param;
      st.pc = cx.co.params[w.param++];
      st.gain.assign(cx.S, 1.0);
    }
  }
  static void finish(march_context&, state&) {}
  static void normalise(const matrix& h, matrix& xhat, std::vector<double>& rstd) {
    const std::size_t S = h.shape(0), P = h.shape(1);
    std::vector<double> mean;
    // the same column statistics as the finite-width step (ad/program.hpp), over particles
    matrix ht = h;
    ad::detail::column_moments(ht, mean, rstd);
    xhat.resize({S, P});
    for (std::size_t i = 0; i < S; ++i)
      for (std::size_t mu = 0; mu < P; ++mu) xhat(i, mu) = (h(i, mu) - mean[mu]) * rstd[mu];
  }
  static const particle_field& forward(march_context& cx, state& st, std::size_t, const particle_field& in) {
    normalise(in.v, st.xhat, st.rstd);
    normalise(in.lazy, st.xhat_lazy, st.rstd_lazy);
    st.out.v = st.xhat;
    st.out.lazy = st.xhat_lazy;
    if constexpr (Gain)
      for (std::size_t i = 0; i < cx.S; ++i)
        for (std::size_t mu = 0; mu < cx.P; ++mu) st.out.v(i, mu) *= st.gain[i];
    return st.out;
  }
  /// ĝ_h = (a − ⟨a⟩ − x̂⟨a x̂⟩) r per column (c, μ), a = γ ĝ_y
  static void jacobian(const march_context& cx, const matrix& xhat, const std::vector<double>& rstd, const std::vector<double>* gain,
                       const matrix& adj, matrix& out) {
    const std::size_t S = cx.S, P = cx.P;
    out.resize({S, cx.B});
    for (std::size_t c = 0; c < cx.C; ++c)
      for (std::size_t mu = 0; mu < P; ++mu) {
        const std::size_t col = c * P + mu;
        double avg = 0, avg_x = 0;
        for (std::size_t i = 0; i < S; ++i) {
          const double a = (gain ? (*gain)[i] : 1.0) * adj(i, col);
          avg += a;
          avg_x += a * xhat(i, mu);
        }
        avg /= double(S);
        avg_x /= double(S);
        for (std::size_t i = 0; i < S; ++i)
          out(i, col) = rstd[mu] * ((gain ? (*gain)[i] : 1.0) * adj(i, col) - avg - xhat(i, mu) * avg_x);
      }
  }
  static const particle_field& backward(march_context& cx, state& st, std::size_t t, const particle_field& adj) {
    jacobian(cx, st.xhat, st.rstd, Gain ? &st.gain : nullptr, adj.v, st.adj_in.v);
    jacobian(cx, st.xhat_lazy, st.rstd_lazy, nullptr, adj.lazy, st.adj_in.lazy);
    if constexpr (Gain) {
      // the gain's NTK share κ ⟨(ĝ_y ⊙ x̂)(ĝ_y ⊙ x̂)⟩, then γ(t+1) = γ(t) + c_g Σ_{c,α} Δ^c_α ĝ^c_{y,α} x̂_α
      matrix gx;
      cx.times_columns(st.xhat, adj.v, gx);
      const matrix k = cx.gram(gx, gx);
      for (std::size_t a = 0; a < cx.B; ++a)
        for (std::size_t b = 0; b < cx.B; ++b) cx.ntk[t](a, b) += st.pc.kappa * k(a, b);
      const bool plain = cx.pr.update.plain();
      const auto [ca, cb] = cx.pr.update.step_form();
      if (!plain && st.gain_v.size() != cx.S) st.gain_v.assign(cx.S, 0.0);
      for (std::size_t i = 0; i < cx.S; ++i) {
        double s = 0;
        for (std::size_t c = 0; c < cx.C; ++c)
          for (std::size_t a = 0; a < cx.Pt; ++a) s += cx.delta[t](c, a) * gx(i, c * cx.P + a);
        if (plain) {
          st.gain[i] += st.pc.coef * s;
        } else if (!cx.ew) {  // momentum: the velocity form of the step
          st.gain_v[i] = cx.pr.update.mu * st.gain_v[i] + s;
          st.gain[i] += st.pc.coef * (ca * s + cb * st.gain_v[i]);
        } else {
          st.gain_v[i] = s;
        }
      }
      if (cx.ew && t < cx.T) {  // γ = 1 + (c_g P) M, one entry per particle
        entrywise_accumulate(cx.pr.update, cx.Pt, st.ew_g, march_context::column(st.gain_v), t + 1, false, cx.ew_factor(st.pc));
        for (std::size_t i = 0; i < cx.S; ++i) st.gain[i] = 1.0 + st.pc.coef * cx.ew_factor(st.pc) * double(cx.Pt) * st.ew_g.M(i, 0);
      }
    }
    return st.adj_in;
  }
};

// ---------------------------------------------------------------- residual(body…)
template <class... Body, bool First>
struct closure<dsl::residual_block<Body...>, First> {
  using body = closure_sequence<false, Body...>;
  struct state {
    typename body::state inner;
    particle_field out, adj_branch, adj_in;
  };
  static void make(state& st, march_context& cx, make_walk& w) {
    const std::size_t pop = w.pop;
    const double width = w.width;
    w.target = pop;  // the branch's last dense writes into the stream's own neurons
    body::make(st.inner, cx, w);
    w.pop = pop;
    w.width = width;
  }
  static void finish(march_context& cx, state& st) { body::finish(cx, st.inner); }
  static const particle_field& forward(march_context& cx, state& st, std::size_t t, const particle_field& in) {
    const particle_field& b = body::forward(cx, st.inner, t, in);
    const double m = cx.co.branch;
    st.out.v = in.v + m * b.v;
    st.out.lazy = in.lazy + m * b.lazy;
    return st.out;
  }
  static const particle_field& backward(march_context& cx, state& st, std::size_t t, const particle_field& adj) {
    const double m = cx.co.branch;
    st.adj_branch.v = m * adj.v;
    st.adj_branch.lazy = m * adj.lazy;
    const particle_field& b = body::backward(cx, st.inner, t, st.adj_branch);
    st.adj_in.v = adj.v + b.v;
    st.adj_in.lazy = adj.lazy + b.lazy;
    return st.adj_in;
  }
};

// ---------------------------------------------------------------- repeat<K>(body…)
template <std::size_t K, class... Body, bool First>
struct closure<dsl::repeat_block<K, Body...>, First> {
  using body = closure_sequence<false, Body...>;
  struct state {
    std::vector<typename body::state> copy;
  };
  static void make(state& st, march_context& cx, make_walk& w) {
    st.copy.resize(K == dsl::any_depth ? cx.depth_count : K);
    for (auto& c : st.copy) body::make(c, cx, w);
  }
  static void finish(march_context& cx, state& st) {
    for (auto& c : st.copy) body::finish(cx, c);
  }
  static const particle_field& forward(march_context& cx, state& st, std::size_t t, const particle_field& in) {
    const particle_field* cur = &in;
    for (auto& c : st.copy) cur = &body::forward(cx, c, t, *cur);
    return *cur;
  }
  static const particle_field& backward(march_context& cx, state& st, std::size_t t, const particle_field& adj) {
    const particle_field* cur = &adj;
    for (std::size_t k = st.copy.size(); k-- > 0;) cur = &body::backward(cx, st.copy[k], t, *cur);
    return *cur;
  }
};

// ---------------------------------------------------------------- the network

/// One march of the block closure for a declaration; solve() per seed, solve_replicas() on threads.
template <class Decl>
class block_solver;

template <class... Blocks>
class block_solver<dsl::network_decl<Blocks...>> {
  using decl = dsl::network_decl<Blocks...>;
  using body = closure_sequence<true, Blocks...>;

 public:
  /// info: the declaration's parameters at the run's depth (ad::program<Decl>::info).
  block_solver(const problem& pr, solver_options opt, block_coefficients co, std::vector<ad::param_info> info, std::size_t depth)
      : pr_(pr), opt_(opt), co_(std::move(co)), info_(std::move(info)), depth_(depth) {
    require(!co_.lazy, "gamma0_eff", 0, "the lazy limit is solved by block_lazy_solve, not by particles");
    require(pr.p_train >= 1 && pr.p_train <= pr.p_all(), "training samples", pr.p_train, "must be in 1..P");
    if (pr.update.entrywise()) {
      require(opt.kind == innovations::gaussian, "innovations", 0, "an entrywise optimizer's closure is not Gaussian: use Gaussian particles, not the design");
      require(!opt.spike_moments, "spike_moments", 1, "the outlier theory is derived for GD/SGD only");
    }
    if (opt.how != scheme::march)
      throw usage_error("--scheme = alternating: block declarations are solved by the causal march only; use --scheme march");
  }

  solution solve(std::uint64_t seed) {
    solution out;
    march_context cx{.pr = pr_, .opt = opt_, .co = co_};
    cx.out = &out;
    cx.seed = seed;
    cx.depth_count = depth_;
    cx.S = opt_.particles;
    cx.P = pr_.p_all();
    cx.Pt = pr_.p_train;
    cx.C = pr_.outputs();
    cx.B = cx.C * cx.P;
    cx.T = pr_.steps;
    cx.centre = opt_.kind == innovations::gaussian;
    cx.spikes = opt_.spike_moments && cx.T > 0;
    cx.ew = pr_.update.entrywise();
    cx.kx = matrix({cx.P, cx.P});
    blas::gemm(true, false, 1.0 / double(pr_.x.shape(0)), pr_.x, pr_.x, 0.0, cx.kx);  // K^x = xᵀx/D
    cx.delta.assign(cx.T + 1, matrix());
    cx.f.assign(cx.T + 1, matrix());
    cx.ntk.assign(cx.T + 1, matrix());
    typename body::state st;
    make_walk w;
    body::make(st, cx, w);
    const std::size_t last_pop = w.pop;
    const param_coefficients ro = co_.params.at(w.param);
    gaussian_source readout_src(cx.C, cx.S, true);
    matrix wr, w0, a_prev, wr_v;  // ĝ_w = w [S, C], its initial value, the previous a, the readout's velocity (momentum)
    entrywise_state ew_readout;   // entrywise optimizers: the readout's [S, C] state
    particle_field adj_last;
    adj_last.v = matrix({cx.S, cx.B});
    adj_last.lazy = matrix({cx.S, cx.B});
    std::vector<matrix> readout_phi;
    const particle_field x_field;  // the first dense layer reads K^x, not particles
    for (std::size_t t = 0; t <= cx.T; ++t) {
      io::throw_if_interrupted("while solving the theory (step " + std::to_string(t) + " of " + std::to_string(cx.T) + ")");
      cx.ntk[t] = xt::zeros<double>({cx.B, cx.B});
      const particle_field& last = body::forward(cx, st, t, x_field);
      // readout: ĝ_w(t) = ĝ_w(t−1) + c_L a(t−1) Δ_eff(t−1)ᵀ;  f = (ν_L/γ)(⟨ĝ_w a⟩ − ⟨ĝ_w(0) a_lazy⟩)
      if (t == 0) {
        cx.check_psd(readout_src.extend({ro.v * xt::eye<double>(cx.C)}), "the readout's source", 0);
        wr = readout_src.sample(0, cx.pops[last_pop].next(cx.C));
        w0 = wr;
      } else if (pr_.update.plain()) {
        blas::gemm(false, true, ro.coef, a_prev, cx.delta[t - 1], 1.0, wr);
      } else if (cx.ew) {  // ĝ_w = d^t ĝ_w(0) + (c_L P a) M, M the readout's [S, C] state
        matrix grad({cx.S, cx.C});
        blas::gemm(false, true, 1.0, a_prev, cx.delta[t - 1], 0.0, grad);
        entrywise_accumulate(pr_.update, cx.Pt, ew_readout, grad, t, true, cx.ew_factor(ro));
        wr = pr_.update.retained(t) * w0 + (ro.coef * cx.ew_factor(ro) * double(cx.Pt)) * ew_readout.M;
      } else {  // momentum: v ← μ v + a Δᵀ, ĝ_w += c_L (a_g · grad + b_g · v)
        const auto [ca, cb] = pr_.update.step_form();
        matrix grad({cx.S, cx.C});
        blas::gemm(false, true, 1.0, a_prev, cx.delta[t - 1], 0.0, grad);
        if (wr_v.size() == 0) wr_v = xt::zeros_like(grad);
        wr_v = pr_.update.mu * wr_v + grad;
        wr = pr_.update.decay * wr + ro.coef * (ca * grad + cb * wr_v);  // W(t+1) = d W(t) − lr·step
      }
      a_prev = last.v;
      matrix f({cx.C, cx.P});
      blas::gemm(true, false, co_.out_factor / double(cx.S), wr, last.v, 0.0, f);
      blas::gemm(true, false, -co_.out_factor / double(cx.S), w0, last.lazy, 1.0, f);
      for (double v : f)
        if (!std::isfinite(v))
          throw divergence_error(t, "the theory's output f", "the closure's outputs are not finite; lower --lr or --gamma0");
      cx.f[t] = f;
      cx.delta[t] = pr_.update_residual(pr_.residual(f), t);
      const matrix phi_last = cx.gram(last.v, last.v);
      readout_phi.push_back(phi_last);
      for (std::size_t c = 0; c < cx.C; ++c)
        for (std::size_t mu = 0; mu < cx.P; ++mu)
          for (std::size_t nu = 0; nu < cx.P; ++nu) cx.ntk[t](c * cx.P + mu, c * cx.P + nu) += ro.kappa * phi_last(mu, nu);
      for (std::size_t i = 0; i < cx.S; ++i)
        for (std::size_t c = 0; c < cx.C; ++c)
          for (std::size_t mu = 0; mu < cx.P; ++mu) {
            adj_last.v(i, c * cx.P + mu) = wr(i, c);
            adj_last.lazy(i, c * cx.P + mu) = w0(i, c);
          }
      body::backward(cx, st, t, adj_last);
    }
    body::finish(cx, st);
    summarise(cx, readout_phi, out);
    return out;
  }

  /// One solve per seed on up to `threads` std::threads; each replica from its own seed on one thread.
  std::vector<solution> solve_replicas(const std::vector<std::uint64_t>& seeds, std::size_t threads = 2) {
    const std::size_t n = seeds.size(), workers = std::max<std::size_t>(1, std::min(threads, n));
    std::vector<solution> out(n);
    std::vector<std::exception_ptr> failed(n);
    auto work = [&](std::size_t k) {
      for (std::size_t r = k; r < n; r += workers) {
        try {
          out[r] = solve(seeds[r]);
        } catch (...) {
          failed[r] = std::current_exception();
        }
      }
    };
    std::vector<std::thread> pool;
    for (std::size_t k = 1; k < workers; ++k) pool.emplace_back(work, k);
    work(0);
    for (auto& th : pool) th.join();
    for (const auto& e : failed)
      if (e) std::rethrow_exception(e);
    return out;
  }

  /// The orthonormal design's particle count: twice the most innovation coordinates any population
  /// draws (checked by a dry count of the march's requests).
  static std::size_t design_particles(const problem& pr, const std::vector<ad::param_info>& info, std::size_t depth) {
    // every weight draws P per step in its output population and C·P per step in its input one; the
    // input weight P once, the readout C once, each bias one; a population holds at most all of them
    const std::size_t T1 = pr.steps + 1, P = pr.p_all(), B = P * pr.outputs();
    std::size_t total = pr.outputs();
    for (const auto& p : info) {
      if (p.kind == ad::param_kind::input) total += P;
      else if (p.kind == ad::param_kind::hidden) total += T1 * (P + B);
      else if (p.kind == ad::param_kind::bias) total += 1;
    }
    (void)depth;
    return 2 * total + 2;
  }

 private:
  void summarise(march_context& cx, const std::vector<matrix>& readout_phi, solution& out) const {
    const std::size_t T = cx.T, Pt = cx.Pt, P = cx.P, C = cx.C;
    out.f = cx.f;
    const std::size_t M = cx.weights.size();  // matrix weights below the readout
    // phi_tt[k]: the input kernel of matrix weight k + 1 (the readout last); g_tt[k]: the output kernel of weight k
    out.phi_tt.assign(M, {});
    out.g_tt.assign(M, {});
    for (std::size_t k = 0; k < M; ++k) {
      out.g_tt[k] = cx.weights[k].g_tt;
      out.phi_tt[k] = k + 1 < M ? cx.weights[k + 1].phi_tt : readout_phi;
    }
    for (std::size_t t = 0; t <= T; ++t) {
      out.train_loss.push_back(pr_.train_loss(cx.f[t]));
      out.test_loss.push_back(pr_.test_loss(cx.f[t]));
      matrix k({C * Pt, C * Pt});
      for (std::size_t a = 0; a < C; ++a)
        for (std::size_t b = 0; b < C; ++b)
          for (std::size_t mu = 0; mu < Pt; ++mu)
            for (std::size_t nu = 0; nu < Pt; ++nu) k(a * Pt + mu, b * Pt + nu) = cx.ntk[t](a * P + mu, b * P + nu);
      out.ntk_top.push_back(spectra::dense_top_eigenvalue(k));
      out.eos_ratio.push_back(pr_.eta / double(Pt) * out.ntk_top.back());
      out.ntk.push_back(std::move(k));
    }
    out.ntk_all = cx.ntk;
    if (cx.spikes)
      for (std::size_t k = 0; k < M; ++k) out.spikes.push_back(cx.weights[k].spikes);
    // the weights the kernels and spikes belong to, named as the finite-width model names them
    std::size_t matrix_index = 0;
    for (const auto& p : info_) {
      if (!p.is_matrix() || p.kind == ad::param_kind::readout) continue;
      if (matrix_index < M) {
        solution::weight_meta wm;
        wm.name = p.name;
        wm.input = p.kind == ad::param_kind::input;
        wm.square = cx.weights[matrix_index].square;
        wm.sigma = std::sqrt(co_.params[&p - info_.data()].v);
        out.weights.push_back(wm);
      }
      ++matrix_index;
    }
  }

  problem pr_;
  solver_options opt_;
  block_coefficients co_;
  std::vector<ad::param_info> info_;
  std::size_t depth_;
};

/// The lazy limit of a block declaration: the kernels at t = 0 from one march of zero steps, then
/// kernel regression f(t+1) = f(t) + (η/P) K Δ_eff(t) (exact for the linearised model).
template <class Decl>
solution block_lazy_solve(const problem& pr, const solver_options& opt, block_coefficients co, const std::vector<ad::param_info>& info,
                          std::size_t depth) {
  problem at0 = pr;
  at0.steps = 0;
  block_coefficients c0 = co;
  c0.lazy = false;
  c0.gamma = 1;
  c0.out_factor = 0;
  for (auto& p : c0.params) p.coef = 0;
  solver_options o = opt;
  o.spike_moments = false;
  block_solver<Decl> solver(at0, o, c0, info, depth);
  const solution s0 = solver.solve(opt.seed);
  const std::size_t p = pr.p_all(), c = pr.outputs(), pt = pr.p_train;
  const matrix& k = s0.ntk_all[0];
  matrix k_train({c * pt, c * pt});
  for (std::size_t a = 0; a < c; ++a)
    for (std::size_t b = 0; b < c; ++b)
      for (std::size_t mu = 0; mu < pt; ++mu)
        for (std::size_t nu = 0; nu < pt; ++nu) k_train(a * pt + mu, b * pt + nu) = k(a * p + mu, b * p + nu);
  std::vector<matrix> phi, g;
  for (const auto& v : s0.phi_tt) phi.push_back(v[0]);
  for (const auto& v : s0.g_tt) g.push_back(v[0]);
  solution out = kernel_regression(pr, k, k_train, phi, g);
  out.weights = s0.weights;
  out.min_conditional_eigenvalue = s0.min_conditional_eigenvalue;
  return out;
}

}  // namespace specdyn::dmft
