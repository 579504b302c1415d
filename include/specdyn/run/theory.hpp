// `specdyn theory` as a library call: the infinite-width theory of a declared network for the
// same task, rule, loss, batch sequence and hyper-parameters as a finite-width run, solved by the
// exact linear closure (orthonormal design), the particle march (Monte Carlo, replicas for error
// bars) or the lazy kernel solver; then the two-level spectral theory predicts the outliers of
// every hidden weight (dmft/spectral.hpp) and the input weight's singular values. Everything is
// written as a run record with the same keys as `specdyn train` plus error bars, kernels and
// `spectra.<layer>.predicted`.
//   auto res = specdyn::run::run_theory(models::mlp3_tanh, cfg, {.particles = 8000});
#pragma once

#include "specdyn/core.hpp"

#include <algorithm>
#include <thread>

#include <chrono>
#include <optional>

#include "specdyn/data/batches.hpp"
#include "specdyn/dmft/blocks.hpp"
#include "specdyn/dmft/lazy.hpp"
#include "specdyn/dmft/printer.hpp"
#include "specdyn/dmft/spectral.hpp"
#include "specdyn/run/experiment.hpp"
#include "specdyn/run/mpi.hpp"
#include "specdyn/stats.hpp"

namespace specdyn::run {
using namespace specdyn::dmft;

struct theory_options {
  std::string solver = "auto";   // auto | exact | particles
  std::size_t particles = 8000;
  std::size_t replicas = 4;
  std::string scheme = "march";  // march | alternating
  double damping = 1.0;
  std::size_t max_iterations = 500;
  bool two_time = false;         // write Φ(t,s), G(t,s) to .npy
  std::optional<std::size_t> width;  // evaluate the rule's effective theory at this width (NTK: γ0/√N)
  std::size_t spectra_every = 10;    // steps between outlier predictions (0: none); the last step always
  double spectral_cut = -1;          // Gram eigenvalues kept above this fraction of the largest (−1: automatic)
  std::size_t threads = 0;           // replicas solved at once, one thread each (0: all cores); > 1: one BLAS thread each
  bool quiet = false;
  // under mpirun: replica r is solved by rank r mod K (one BLAS thread per replica, threads per rank
  // default to the cores divided by the ranks) and rank 0 gathers them; the other ranks write nothing
  bool spread_ranks = false;

  SPECDYN_CORE_FN void validate() const
#if SPECDYN_CORE_BODIES
  {
    if (solver != "auto" && solver != "exact" && solver != "particles")
      throw usage_error("--solver = " + solver + ": use auto, exact (linear activations) or particles");
    if (scheme != "march" && scheme != "alternating") throw usage_error("--scheme = " + scheme + ": use march or alternating");
    require(particles >= 64, "--particles", particles, "use at least 64 (Monte Carlo error ~ particles^{-1/2})");
    require(particles <= 100000000, "--particles", particles, "use at most 10^8");
    require(replicas >= 1 && replicas <= 10000, "--replicas", replicas, "use 1 to 10000 (2 or more for error bars)");
    require(damping > 0 && damping <= 1, "--damping", damping, "must be in (0, 1]");
    require(max_iterations >= 1, "--max-iterations", max_iterations, "must be at least 1");
    if (width) require(*width >= 1, "--width", *width, "must be a positive integer");
    require(threads <= 1024, "--threads", threads, "use 0 (all cores) to 1024");
  }
#else
  ;
#endif
  [[nodiscard]] SPECDYN_CORE_FN io::json to_json() const
#if SPECDYN_CORE_BODIES
  {
    return {{"solver", solver}, {"particles", particles}, {"replicas", replicas}, {"scheme", scheme}, {"damping", damping},
            {"max_iterations", max_iterations}, {"two_time", two_time}, {"width", width ? io::json(*width) : io::json(nullptr)},
            {"spectra_every", spectra_every}, {"spectral_cut", spectral_cut}};
  }
#else
  ;
#endif
};

/// Predicted spectra of one weight at the prediction steps.
struct layer_prediction {
  std::string name;                          // W0 (input), W1, ...
  std::size_t index = 0;                     // its position in the solution's spikes
  double sigma = 1;                          // the bulk's scale (bulk edge 2σ)
  std::vector<std::size_t> steps;
  std::vector<hidden_prediction> hidden;     // hidden weights
  std::vector<std::vector<double>> input;    // input weight: D singular values of W⁰(t)/√N
  std::vector<double> top_outlier_se;        // standard error of the top outlier over replicas (NaN: one replica)
};

/// Mean and standard error over replicas.
struct averaged {
  solution mean;
  std::vector<double> train_loss_se, test_loss_se, ntk_top_se, eos_se;  // NaN with one replica
  std::vector<matrix> f_se;
  std::string solver;  // "exact-linear", "particles", "lazy"
  std::size_t particles = 0, replicas = 1, threads = 1;  // threads: replicas solved at once
  std::string status = "completed", message;  // interrupted: the replicas finished before the signal
  int signal = 0;
  std::vector<layer_prediction> spectra;
  std::vector<std::vector<double>> update_top_sv_se;  // entrywise optimizers: standard errors of mean.update_top_sv
  double spectra_seconds = 0;  // time of the two-level spectral predictions
  double spectral_cut = 0;     // the Gram cut used
};

struct theory_result {
  bool summary_rank = true;  // false on MPI ranks other than 0 of a spread solve: they wrote nothing
  std::filesystem::path record;
  averaged sol;
  effective_rule rule;
  std::string status = "completed", message;
  int signal = 0;
};

using ad::all_linear;

/// The theory's optimizer from a config (dmft::update_rule; d = 1 − ηλ on every weight matrix).
SPECDYN_CORE_FN update_rule update_of(const run_config& cfg)
#if SPECDYN_CORE_BODIES
{
  const optimizer_options o = cfg.optim();
  update_rule u;
  switch (o.kind) {
    case optimizer_kind::sgd: u.how = update_rule::kind::gd; break;
    case optimizer_kind::momentum: u.how = update_rule::kind::momentum; break;
    case optimizer_kind::nesterov: u.how = update_rule::kind::nesterov; break;
    case optimizer_kind::sign: u.how = update_rule::kind::sign; break;
    case optimizer_kind::adam:
    case optimizer_kind::adamw: u.how = update_rule::kind::adam; break;
  }
  u.mu = o.momentum;
  u.beta1 = o.beta1;
  u.beta2 = o.beta2;
  u.eps = o.eps;
  u.decay = o.kind == optimizer_kind::adam ? 1.0 : 1.0 - cfg.lr * o.weight_decay;
  return u;
}
#else
;
#endif

/// The theory's problem for a config: the same data as `specdyn train` (same seed), test points
/// appended, the same loss and, for SGD, the same batch sequence.
SPECDYN_CORE_FN problem make_problem(const run_config& cfg, const task_data& data, const effective_rule& rule)
#if SPECDYN_CORE_BODIES
{
  problem pr;
  if (data.has_test()) {
    pr.x = xt::concatenate(xt::xtuple(data.x, data.x_test), 1);
    pr.y = xt::concatenate(xt::xtuple(data.y, data.y_test), 1);
  } else {
    pr.x = data.x;
    pr.y = data.y;
  }
  pr.p_train = data.samples();
  pr.sigma = cfg.sigma;
  pr.eta = cfg.lr;
  pr.steps = cfg.steps;
  pr.rule = rule;
  pr.loss = cfg.loss == "mse" ? ad::loss_kind::mse : ad::loss_kind::cross_entropy;
  if (cfg.batch > 0 && cfg.batch < data.samples()) pr.batches = batch_schedule::sequence(data.samples(), cfg.batch, cfg.seed, cfg.steps);
  pr.update = update_of(cfg);
  return pr;
}
#else
;
#endif

SPECDYN_CORE_FN void check_theory_config(const run_config& cfg, bool outliers)
#if SPECDYN_CORE_BODIES
{
  if (!cfg.centre) throw usage_error("--no-centre: the theory describes the centred network f − f(θ0); drop --no-centre");
  cfg.optim().validate();
  if (outliers && !cfg.plain_optimizer())
    throw usage_error("--optimizer = " + cfg.optimizer_tag() +
                      ": the outlier theory is derived for GD/SGD only (docs/optimizers.md §5); use --optimizer sgd, or `specdyn theory`/`compare` for the losses");
}
#else
;
#endif

/// Refuses, with one sentence, an optimizer whose theory is not derived for this declaration/rule
/// (docs/optimizers.md §5): weight decay and entrywise
/// optimizers in the lazy limit, entrywise optimizers under a rule with its own gradient exponents,
/// with the exact closure or the alternating scheme.
SPECDYN_CORE_FN void check_theory_optimizer(const run_config& cfg, bool lazy, bool own_gradient_exponents, const theory_options& th)
#if SPECDYN_CORE_BODIES
{
  const update_rule u = update_of(cfg);
  if (u.plain()) return;
  const std::string opt = "--optimizer = " + cfg.optimizer_tag() + ": ";
  if (lazy && (u.decay != 1.0 || u.entrywise()))
    throw usage_error(opt + "in the lazy limit (γ0_eff → 0, e.g. --param ntk without --width) only GD and momentum are derived; give --width N or use --optimizer momentum");
  if (!u.entrywise()) return;
  if (own_gradient_exponents)
    throw usage_error(opt + "the rule gives its own gradient exponents, so Adam's steps need not have an N-independent limit; use a rule without them");
  if (th.solver == "exact")
    throw usage_error(opt + "--solver = exact: an entrywise optimizer makes the closure non-Gaussian; use --solver particles (or auto)");
  if (th.scheme == "alternating")
    throw usage_error(opt + "--scheme = alternating: the pairwise state of an entrywise optimizer is solved by the causal march; use --scheme march");
}
#else
;
#endif

/// Steps at which spectra are predicted: every `every` steps and the last one.
SPECDYN_CORE_FN std::vector<std::size_t> prediction_steps(std::size_t steps, std::size_t every)
#if SPECDYN_CORE_BODIES
{
  std::vector<std::size_t> out;
  if (every == 0) return out;
  for (std::size_t t = 0; t <= steps; t += every) out.push_back(t);
  if (out.back() != steps) out.push_back(steps);
  return out;
}
#else
;
#endif

/// The weights a solution's spikes belong to: a block solution names them; a chain's are W0 … W(L−1).
SPECDYN_CORE_FN std::vector<solution::weight_meta> spike_weights(const solution& s, double sigma)
#if SPECDYN_CORE_BODIES
{
  if (!s.weights.empty()) return s.weights;
  std::vector<solution::weight_meta> w;
  for (std::size_t i = 0; i < s.spikes.size(); ++i) w.push_back({"W" + std::to_string(i), i == 0, i > 0, sigma});
  return w;
}
#else
;
#endif

/// Outlier predictions of every weight from spike Gram matrices: the input weight's singular values
/// and the two-level outliers of every N×N weight (rectangular hidden weights have no prediction).
SPECDYN_CORE_FN std::vector<layer_prediction> predict_spectra(const std::vector<spike_grams>& spikes, const std::vector<solution::weight_meta>& weights,
                                                     const problem& pr, const std::vector<std::size_t>& steps, const spectral_options& so)
#if SPECDYN_CORE_BODIES
{
  std::vector<layer_prediction> out;
  if (spikes.empty()) return out;
  const matrix x_train = xt::view(pr.x, xt::all(), xt::range(0, pr.p_train));
  for (std::size_t i = 0; i < spikes.size() && i < weights.size(); ++i) {
    if (!weights[i].input && !weights[i].square) continue;
    layer_prediction lp;
    lp.name = weights[i].name;
    lp.index = i;
    lp.sigma = weights[i].sigma;
    lp.steps = steps;
    for (std::size_t t : steps) {
      if (weights[i].input) lp.input.push_back(predict_input(spikes[i], t, weights[i].sigma, x_train));
      else lp.hidden.push_back(predict_hidden(spikes[i], t, weights[i].sigma, so));
    }
    out.push_back(std::move(lp));
  }
  return out;
}
#else
;
#endif

/// Gram cut of the particle theory (docs/spectra-theory.md §5): Monte Carlo noise in the kept
/// directions biases outliers upward (measured +0.7 % for mlp3_relu at 20 000 × 4 particles with a
/// cut of 3.5e-3), dropping weak directions biases them slightly down (≤ 0.2 % at 1e-1 on exact
/// Grams). At 1e-1 the tanh and ReLU predictions agree with N = 4096 networks to 0.02 % and 0.3 %.
inline constexpr double particle_spectral_cut = 1e-1;

/// Element-wise mean of the spike Gram matrices over replicas.
SPECDYN_CORE_FN std::vector<spike_grams> mean_spikes(const std::vector<solution>& reps)
#if SPECDYN_CORE_BODIES
{
  std::vector<spike_grams> m = reps[0].spikes;
  const double r = double(reps.size());
  for (std::size_t i = 0; i < m.size(); ++i) {
    auto avg = [&](matrix spike_grams::*field) {
      if ((m[i].*field).size() == 0) return;
      matrix acc = xt::zeros_like(m[i].*field);
      for (const auto& s : reps) acc += s.spikes[i].*field / r;
      m[i].*field = acc;
    };
    for (auto f : {&spike_grams::gg, &spike_grams::gy, &spike_grams::yy, &spike_grams::pp, &spike_grams::pz, &spike_grams::zz}) avg(f);
    for (std::size_t s = 0; s < m[i].response.size(); ++s) {
      matrix acc = xt::zeros_like(m[i].response[s]);
      for (const auto& rep : reps) acc += rep.spikes[i].response[s] / r;
      m[i].response[s] = acc;
    }
  }
  return m;
}
#else
;
#endif

/// Predictions from R replicas. The prediction from the pooled (mean) Gram matrices carries a Monte
/// Carlo bias ∝ 1/(S·R) (noise adds to S(s), docs/spectra-theory.md §5); with R ≥ 2 each outlier is
/// bias-corrected by the jackknife 2·pred(all) − mean(pred(half A), pred(half B)), the halves
/// having twice the bias, and roots the two halves do not both resolve are dropped (counted in
/// `unresolved`). The top outlier's standard error is the spread of the single replicas'
/// predictions / √R.
SPECDYN_CORE_FN std::vector<layer_prediction> predict_from_replicas(const std::vector<solution>& reps, const problem& pr,
                                                           const std::vector<std::size_t>& steps, const spectral_options& spo)
#if SPECDYN_CORE_BODIES
{
  const std::size_t R = reps.size();
  const auto weights = spike_weights(reps[0], pr.sigma);
  auto out = predict_spectra(mean_spikes(reps), weights, pr, steps, spo);
  if (R < 2) {
    for (auto& lp : out) lp.top_outlier_se.assign(steps.size(), stats::nan);
    return out;
  }
  const std::vector<solution> half_a(reps.begin(), reps.begin() + std::ptrdiff_t(R / 2)), half_b(reps.begin() + std::ptrdiff_t(R / 2), reps.end());
  const auto pa = predict_spectra(mean_spikes(half_a), weights, pr, steps, spo);
  const auto pb = predict_spectra(mean_spikes(half_b), weights, pr, steps, spo);
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto& lp = out[i];
    if (lp.hidden.empty()) continue;  // the input weight: no outliers to resolve
    for (std::size_t k = 0; k < steps.size(); ++k) {
      auto& o = lp.hidden[k].outliers;
      const auto& a = pa[i].hidden[k].outliers;
      const auto& b = pb[i].hidden[k].outliers;
      // keep a root only where both halves find it and agree on it to within half its distance
      // from the edge (weak roots near the edge are Monte Carlo noise); bias-correct the kept ones
      std::vector<double> kept;
      for (std::size_t q = 0; q < o.size() && q < a.size() && q < b.size(); ++q) {
        if (std::abs(a[q] - b[q]) > 0.5 * (o[q] - 2 * lp.sigma)) break;
        kept.push_back(2 * o[q] - 0.5 * (a[q] + b[q]));
      }
      lp.hidden[k].unresolved = o.size() - kept.size();
      o = kept;
      lp.hidden[k].overlap_spike_left.resize(kept.size());
      lp.hidden[k].overlap_spike_right.resize(kept.size());
      lp.hidden[k].overlap_initial.resize(kept.size());
      std::vector<double> tops;
      for (const auto& rep : reps) {
        const auto p = predict_hidden(rep.spikes[lp.index], steps[k], lp.sigma, spo);
        tops.push_back(p.outliers.empty() ? 2 * lp.sigma : p.outliers.front());
      }
      lp.top_outlier_se.push_back(stats::mean_se(tops).second);
    }
  }
  return out;
}
#else
;
#endif

/// What the block closure needs beyond the problem (dmft/blocks.hpp): the rule's coefficients, the
/// parameter list at the run's depth, and that depth.
struct block_setup {
  block_coefficients coefficients;
  std::vector<ad::param_info> info;
  std::size_t depth = 1;
};

/// Whether a declaration's closure is exact with the orthonormal design (every activation linear,
/// no layer norm: all fields Gaussian).
template <class B> inline constexpr bool linear_block = false;
template <class A, std::intmax_t N, std::intmax_t D, bool Bi, bool H>
inline constexpr bool linear_block<dsl::dense_layer<A, N, D, Bi, H>> = dsl::is_identity_activation<A>;
template <class A> inline constexpr bool linear_block<dsl::activation_block<A>> = dsl::is_identity_activation<A>;
template <class... B> inline constexpr bool linear_block<dsl::residual_block<B...>> = (linear_block<B> && ...);
template <std::size_t K, class... B> inline constexpr bool linear_block<dsl::repeat_block<K, B...>> = (linear_block<B> && ...);
template <class Decl> inline constexpr bool linear_declaration = false;
template <class... B> inline constexpr bool linear_declaration<dsl::network_decl<B...>> = (linear_block<B> && ...);

/// The memory a theory solve plans to use (the guard applied before anything is written).
template <class Decl>
double estimate_theory_bytes(const problem& pr, const theory_options& th, const block_setup* bs = nullptr) {
  if constexpr (!Decl::is_chain) {
    // per dense weight: histories a(s), ĝ(s) and the innovations of u and r (S·(T+1)·(P + C·P) each),
    // two-time kernels and responses ((T+1)²/2 blocks of (P + C·P)² each); spikes: three [S, T·P] more
    const bool exact = th.solver == "exact" || (th.solver == "auto" && linear_declaration<Decl>);
    const std::size_t s = exact ? block_solver<Decl>::design_particles(pr, bs->info, bs->depth) : th.particles;
    const double p = double(pr.p_all()), b = double(pr.outputs() * pr.p_all()), t1 = double(pr.steps + 1), n = double(pr.steps * pr.p_train);
    double weights = 0;
    for (const auto& pi : bs->info) weights += pi.kind == ad::param_kind::input || pi.kind == ad::param_kind::hidden ? 1.0 : 0.0;
    const double per = 2.0 * double(s) * t1 * (p + b) + t1 * t1 * (p + b) * (p + b) + (th.spectra_every > 0 ? 3.0 * double(s) * n + 6.0 * n * n : 0.0);
    const double pairwise = pr.update.entrywise() ? 3.0 * double(s) * double(s) : 0.0;  // M, m, v [S, S] per weight
    return 8.0 * weights * (per + pairwise) * (exact ? 1.0 : double(std::min<std::size_t>(th.replicas, 2)));
  }
  constexpr std::size_t L = Decl::hidden_layers;
  const bool exact = th.solver == "exact" || (th.solver == "auto" && all_linear<Decl>());
  const std::size_t s = exact ? design_particles(L, pr.p_all(), pr.outputs(), pr.steps) : th.particles;
  double bytes = estimate_solver_bytes(L, pr.p_all(), pr.outputs(), pr.steps, s, th.scheme == "alternating", th.two_time);
  if (pr.update.entrywise())  // pairwise state M, m, v [S, S] per hidden weight, for each replica solved at once
    bytes += 8.0 * 3.0 * double(L - 1) * double(s) * double(s) * double(std::min<std::size_t>(th.replicas, 2));
  if (th.spectra_every > 0) {  // spike histories [S, T·P] (≤ 3 per layer) and 6 Gram matrices [T·P]² per weight, per replica
    const double n = double(pr.steps * pr.p_train);
    bytes += 8.0 * (3.0 * double(L) * double(s) * n + 6.0 * double(L) * n * n * double(exact ? 1 : th.replicas + 1));
  }
  return bytes;
}

namespace detail {
/// A solution flattened into doubles (sizes and shapes first), to send a replica between MPI ranks.
struct packer {
  std::vector<double> b;
  void num(double v) { b.push_back(v); }
  void mat(const matrix& m) {
    num(double(m.shape(0)));
    num(double(m.shape(1)));
    b.insert(b.end(), m.begin(), m.end());
  }
  void nums(const std::vector<double>& v) {
    num(double(v.size()));
    b.insert(b.end(), v.begin(), v.end());
  }
  template <class T>
  void list(const std::vector<T>& v) {
    num(double(v.size()));
    for (const auto& x : v) put(x);
  }
  void put(const matrix& m) { mat(m); }
  template <class T>
  void put(const std::vector<T>& v) { list(v); }
  void put(const spike_grams& g) {
    for (const matrix* m : {&g.gg, &g.gy, &g.yy, &g.pp, &g.pz, &g.zz}) mat(*m);
    list(g.response);
    num(g.coef);
    num(double(g.p));
    num(double(g.steps));
  }
  SPECDYN_CORE_FN void put(const solution& s)
#if SPECDYN_CORE_BODIES
  {
    list(s.f);
    nums(s.train_loss);
    nums(s.test_loss);
    list(s.phi_tt);
    list(s.g_tt);
    list(s.ntk);
    nums(s.ntk_top);
    nums(s.eos_ratio);
    nums(s.residuals);
    num(double(s.iterations));
    num(s.min_conditional_eigenvalue);
    for (const auto* k : {&s.kernels.phi, &s.kernels.g, &s.kernels.r_phi, &s.kernels.r_g}) list(*k);
    list(s.kernels.delta);
    list(s.kernels.f);
    list(s.spikes);
  }
#else
  ;
#endif
};
struct unpacker {
  const std::vector<double>& b;
  std::size_t at = 0;
  double num() {
    if (at >= b.size()) throw std::runtime_error("a replica received from another MPI rank is truncated");
    return b[at++];
  }
  std::size_t count() { return std::size_t(num()); }
  matrix mat() {
    const std::size_t r = count(), c = count();
    if (at + r * c > b.size()) throw std::runtime_error("a replica received from another MPI rank is truncated");
    matrix m({r, c});
    std::copy(b.begin() + long(at), b.begin() + long(at + r * c), m.begin());
    at += r * c;
    return m;
  }
  std::vector<double> nums() {
    const std::size_t n = count();
    std::vector<double> v;
    for (std::size_t k = 0; k < n; ++k) v.push_back(num());
    return v;
  }
  void get(matrix& m) { m = mat(); }
  template <class T>
  void get(std::vector<T>& v) {
    v.resize(count());
    for (auto& x : v) get(x);
  }
  void get(spike_grams& g) {
    for (matrix* m : {&g.gg, &g.gy, &g.yy, &g.pp, &g.pz, &g.zz}) *m = mat();
    get(g.response);
    g.coef = num();
    g.p = count();
    g.steps = count();
  }
  SPECDYN_CORE_FN void get(solution& s)
#if SPECDYN_CORE_BODIES
  {
    get(s.f);
    s.train_loss = nums();
    s.test_loss = nums();
    get(s.phi_tt);
    get(s.g_tt);
    get(s.ntk);
    s.ntk_top = nums();
    s.eos_ratio = nums();
    s.residuals = nums();
    s.iterations = count();
    s.min_conditional_eigenvalue = num();
    for (auto* k : {&s.kernels.phi, &s.kernels.g, &s.kernels.r_phi, &s.kernels.r_g}) get(*k);
    get(s.kernels.delta);
    get(s.kernels.f);
    get(s.spikes);
  }
#else
  ;
#endif
};
}  // namespace detail

/// Solves the theory of a declaration: chains by their particle solver (dmft/particles.hpp) or the
/// exact linear closure, block declarations by the block closure (dmft/blocks.hpp; `bs` required).
template <class Decl>
averaged solve_theory(const problem& pr, const theory_options& th, std::uint64_t seed, const block_setup* bs = nullptr) {
  constexpr bool chain = Decl::is_chain;
  constexpr bool linear = chain ? all_linear<Decl>() : linear_declaration<Decl>;
  const auto pred_steps = prediction_steps(pr.steps, th.spectra_every);
  averaged out;
  const bool lazy = chain ? pr.rule.lazy : bs->coefficients.lazy;
  if (lazy) {  // kernel regime: hidden weights do not move at N = ∞, no outliers
    if constexpr (chain) {
      out.mean = lazy_solve<Decl>(pr);
    } else {
      solver_options so;
      so.kind = linear ? innovations::design : innovations::gaussian;
      so.particles = linear ? block_solver<Decl>::design_particles(pr, bs->info, bs->depth) : th.particles;
      so.seed = seed;
      out.mean = block_lazy_solve<Decl>(pr, so, bs->coefficients, bs->info, bs->depth);
    }
    out.solver = "lazy";
    const std::size_t T = pr.steps + 1;
    for (auto* v : {&out.train_loss_se, &out.test_loss_se, &out.ntk_top_se, &out.eos_se}) v->assign(T, 0.0);
    for (const auto& f : out.mean.f) out.f_se.push_back(xt::zeros_like(f));
    return out;
  }
  const bool exact = th.solver == "exact" || (th.solver == "auto" && linear && !pr.update.entrywise());
  if (exact && !linear)
    throw usage_error("--solver = exact: the exact closure needs linear activations and no layer norm (" + Decl::describe() + "); use --solver particles");
  solver_options so;
  so.kind = exact ? innovations::design : innovations::gaussian;
  if constexpr (chain) so.particles = exact ? design_particles(Decl::hidden_layers, pr.p_all(), pr.outputs(), pr.steps) : th.particles;
  else so.particles = exact ? block_solver<Decl>::design_particles(pr, bs->info, bs->depth) : th.particles;
  so.replicas = exact ? 1 : th.replicas;
  so.how = th.scheme == "march" ? scheme::march : scheme::alternating;
  so.damping = th.damping;
  so.max_iterations = th.max_iterations;
  so.keep_two_time = th.two_time;
  so.spike_moments = !pred_steps.empty() && pr.update.plain();  // the outlier theory is GD/SGD's
  out.solver = exact ? "exact-linear" : pr.update.entrywise() ? "particles-pairwise" : "particles";
  out.particles = so.particles;
  // under mpirun (spread_ranks): replica r on rank r mod K, gathered on rank 0 in replica order. A
  // single replica (the exact closure, or --replicas 1) is solved on rank 0 alone, with no gather.
  if (th.spread_ranks && mpi::distributed() && so.replicas == 1 && mpi::rank() != 0) {
    out.replicas = 0;
    return out;
  }
  const bool spread = th.spread_ranks && mpi::distributed() && so.replicas > 1;
  const std::size_t ranks = spread ? std::size_t(mpi::size()) : 1, me = spread ? std::size_t(mpi::rank()) : 0;
  std::vector<std::size_t> mine;
  for (std::size_t r = me; r < so.replicas; r += ranks) mine.push_back(r);
  auto solver = [&] {
    if constexpr (chain) return particle_solver<Decl>(pr, so);
    else return block_solver<Decl>(pr, so, bs->coefficients, bs->info, bs->depth);
  }();
  std::vector<solution> reps;
  io::progress bar("theory " + std::string(exact ? "(exact)" : "(particles)"), so.replicas, th.quiet || me != 0);
  // replicas in batches of `threads`, each replica on one thread from its own seed: the same
  // numbers for any thread count above one (one BLAS thread each then), and for any number of ranks
  const std::size_t cores = std::max<std::size_t>(1, std::thread::hardware_concurrency() / ranks);
  const std::size_t threads = std::min(std::max<std::size_t>(1, mine.size()), std::max<std::size_t>(1, th.threads ? th.threads : cores));
  // several replicas at once: one BLAS thread each (measured, mlp3_tanh S = 20000 × 4 replicas on
  // 2 cores: 4.9 s with 2 BLAS threads per replica in turn, 2.8 s with 2 replicas at a time)
  std::optional<blas::thread_scope> one_blas_thread;
  if (threads > 1 || spread) one_blas_thread.emplace(1);
  out.threads = threads;
  std::string failure;  // spread: a rank's failure travels to rank 0 with its replicas
  for (std::size_t k0 = 0; k0 < mine.size(); k0 += threads) {
    std::vector<std::uint64_t> seeds;
    for (std::size_t k = k0; k < std::min(mine.size(), k0 + threads); ++k) seeds.push_back(seed * 7919 + mine[k]);
    try {
      for (auto& s : solver.solve_replicas(seeds, threads)) reps.push_back(std::move(s));
    } catch (const interrupted_error& e) {
      if (reps.empty() && !spread) throw;
      out.status = "interrupted";
      out.signal = e.signal;
      out.message = std::string(e.what()) + "; kept " + std::to_string(reps.size()) + " finished replica(s)";
      break;
    } catch (const std::exception& e) {
      if (!spread) throw;
      failure = e.what();
      break;
    }
    if (!reps.empty()) bar.update(reps.size() * ranks, reps.back().train_loss.back());
  }
  if (spread) {
    // [status (0 ok, 1 interrupted, 2 failed), signal, message length, message bytes, count, (index, replica)…]
    detail::packer pk;
    const std::string msg = failure.empty() ? out.message : failure;
    pk.num(!failure.empty() ? 2 : out.status == "interrupted" ? 1 : 0);
    pk.num(out.signal);
    pk.num(double(msg.size()));
    for (unsigned char ch : msg) pk.num(ch);
    // rank 0 keeps its own replicas where they are (packing them would copy them twice)
    const std::size_t sent = me == 0 ? 0 : reps.size();
    pk.num(double(sent));
    for (std::size_t k = 0; k < sent; ++k) {
      pk.num(double(mine[k]));
      pk.put(reps[k]);
    }
    auto all = mpi::gather_to_root(std::move(pk.b));
    if (me != 0) {
      out.replicas = 0;
      return out;
    }
    std::vector<std::pair<std::size_t, solution>> got;
    for (std::size_t k = 0; k < reps.size(); ++k) got.emplace_back(mine[k], std::move(reps[k]));
    reps.clear();
    for (std::size_t r = 0; r < all.size(); ++r) {
      detail::unpacker up{all[r]};
      const int code = int(up.num());
      const int sig = int(up.num());
      std::string m(up.count(), ' ');
      for (auto& ch : m) ch = char(up.num());
      if (code == 2 && failure.empty()) failure = "rank " + std::to_string(r) + ": " + m;
      if (code == 1 && out.status != "interrupted") {
        out.status = "interrupted";
        out.signal = sig;
      }
      const std::size_t n = up.count();
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t idx = up.count();
        solution s;
        up.get(s);
        got.emplace_back(idx, std::move(s));
      }
      all[r].clear();
    }
    std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& g : got) reps.push_back(std::move(g.second));
    if (!failure.empty()) throw solver_error(failure);
    if (out.status == "interrupted") {
      if (reps.empty()) throw interrupted_error(out.signal, "before any replica finished on " + std::to_string(ranks) + " ranks");
      out.message = "interrupted; kept " + std::to_string(reps.size()) + " finished replica(s) over " + std::to_string(ranks) + " ranks";
    }
    if (!reps.empty()) bar.update(reps.size(), reps.back().train_loss.back());
  }
  bar.finish();
  out.replicas = reps.size();
  // mean and standard error over replicas (NaN with one replica: no error bar)
  const double R = double(reps.size());
  out.mean = reps[0];
  auto mean_se = [&](auto get, std::vector<double>& mean, std::vector<double>& se) {
    const std::size_t n = get(reps[0]).size();
    mean.assign(n, 0.0);
    se.assign(n, 0.0);
    for (std::size_t t = 0; t < n; ++t) {
      std::vector<double> v;
      for (const auto& s : reps) v.push_back(get(s)[t]);
      std::tie(mean[t], se[t]) = stats::mean_se(v);
    }
  };
  mean_se([](const solution& s) -> const std::vector<double>& { return s.train_loss; }, out.mean.train_loss, out.train_loss_se);
  mean_se([](const solution& s) -> const std::vector<double>& { return s.test_loss; }, out.mean.test_loss, out.test_loss_se);
  std::vector<double> unused;
  mean_se([](const solution& s) -> const std::vector<double>& { return s.ntk_top; }, unused, out.ntk_top_se);
  mean_se([](const solution& s) -> const std::vector<double>& { return s.eos_ratio; }, unused, out.eos_se);
  for (std::size_t t = 0; t < out.mean.f.size(); ++t) {
    matrix m = xt::zeros_like(reps[0].f[t]), v = xt::zeros_like(m);
    for (const auto& s : reps) m += s.f[t] / R;
    for (const auto& s : reps) v += (s.f[t] - m) * (s.f[t] - m);
    out.mean.f[t] = m;
    out.f_se.push_back(R > 1 ? matrix(xt::sqrt(v / ((R - 1) * R))) : matrix(xt::zeros_like(m) * stats::nan));
    // the NTK's top eigenvalue is that of the mean kernel (the mean of replica maxima is biased up);
    // its error bar is the replicas' spread
    matrix km = xt::zeros_like(reps[0].ntk[t]);
    for (const auto& s : reps) km += s.ntk[t] / R;
    out.mean.ntk[t] = km;
    out.mean.ntk_top[t] = spectra::eigenvalues_desc(km).front();
    out.mean.eos_ratio[t] = pr.eta / double(pr.p_train) * out.mean.ntk_top[t];
    for (std::size_t l = 0; l < reps[0].phi_tt.size(); ++l) {
      matrix pm = xt::zeros_like(reps[0].phi_tt[l][t]), gm = xt::zeros_like(reps[0].g_tt[l][t]);
      for (const auto& s : reps) { pm += s.phi_tt[l][t] / R; gm += s.g_tt[l][t] / R; }
      out.mean.phi_tt[l][t] = pm;
      out.mean.g_tt[l][t] = gm;
    }
  }
  const bool same_update_sv = !reps.empty() && std::all_of(reps.begin(), reps.end(), [&](const solution& s) {
    if (s.update_top_sv.size() != reps[0].update_top_sv.size()) return false;  // (not carried between MPI ranks)
    for (std::size_t w = 0; w < s.update_top_sv.size(); ++w)
      if (s.update_top_sv[w].size() != reps[0].update_top_sv[w].size()) return false;
    return true;
  });
  if (same_update_sv && !reps[0].update_top_sv.empty()) {  // entrywise: the update's singular values, mean ± se over replicas
    const double R = double(reps.size());
    out.mean.update_top_sv = reps[0].update_top_sv;
    out.update_top_sv_se = reps[0].update_top_sv;
    for (std::size_t w = 0; w < out.mean.update_top_sv.size(); ++w)
      for (std::size_t k = 0; k < out.mean.update_top_sv[w].size(); ++k) {
        double m = 0, v = 0;
        for (const auto& s : reps) m += s.update_top_sv[w][k] / R;
        for (const auto& s : reps) v += (s.update_top_sv[w][k] - m) * (s.update_top_sv[w][k] - m);
        out.mean.update_top_sv[w][k] = m;
        out.update_top_sv_se[w][k] = R > 1 ? std::sqrt(v / (R - 1) / R) : stats::nan;
      }
  }
  out.mean.min_conditional_eigenvalue = INFINITY;
  for (const auto& s : reps) out.mean.min_conditional_eigenvalue = std::min(out.mean.min_conditional_eigenvalue, s.min_conditional_eigenvalue);
  if (so.spike_moments && out.status == "completed") {  // an interrupted run keeps its losses, not predictions
    const auto t_spec = std::chrono::steady_clock::now();
    out.mean.spikes = mean_spikes(reps);
    spectral_options spo;
    spo.cut = th.spectral_cut > 0 ? th.spectral_cut : (exact ? dmft::spectral_options{}.cut : particle_spectral_cut);
    spo.edge_resolution = exact ? 1e-9 : 1e-2;
    out.spectral_cut = spo.cut;
    out.spectra = predict_from_replicas(reps, pr, pred_steps, spo);
    out.spectra_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_spec).count();
  }
  return out;
}

/// Writes the predicted spectra into a record (`spectra.<layer>.predicted`).
SPECDYN_CORE_FN void put_predictions(io::record& rec, io::json& j, const std::vector<layer_prediction>& spectra)
#if SPECDYN_CORE_BODIES
{
  for (const auto& lp : spectra) {
    auto& s = j["spectra"][lp.name]["predicted"];
    s["steps"] = lp.steps;
    rec.set_prefix("spectra." + lp.name + ".predicted");
    if (!lp.input.empty()) {
      s["units"] = "singular values of W0(t)/sqrt(N) at N = infinity (D of them; the tracker's W_eff = W0/sqrt(D) is sqrt(N/D) times these)";
      rec.put_rows(s, "singular_values", lp.input);
      continue;
    }
    s["units"] = "singular values of W(t)/sqrt(N) at N = infinity; bulk edge 2 sigma";
    s["bulk_edge"] = 2 * lp.sigma;
    std::vector<std::vector<double>> out, naive, theta, ol, orr, oi;
    std::optional<std::size_t> escape;
    for (std::size_t k = 0; k < lp.hidden.size(); ++k) {
      const auto& h = lp.hidden[k];
      out.push_back(h.outliers);
      naive.push_back(h.naive);
      theta.push_back(h.update_singular);
      ol.push_back(h.overlap_spike_left);
      orr.push_back(h.overlap_spike_right);
      oi.push_back(h.overlap_initial);
      if (!escape && !h.outliers.empty()) escape = lp.steps[k];
    }
    rec.put_rows(s, "outliers", out);
    rec.put_rows(s, "naive_bbp", naive);
    rec.put_rows(s, "update_singular_values", theta);
    s["overlaps"] = io::json::object();
    rec.put_rows(s["overlaps"], "spike_left", ol);
    rec.put_rows(s["overlaps"], "spike_right", orr);
    rec.put_rows(s["overlaps"], "initial_top", oi);
    s["overlaps"]["meaning"] = "spike_left/right: |<outlier singular vector, top singular vector of the update>|^2; "
                               "initial_top: with the top singular vectors of W(0), 0 at N = infinity";
    s["stderr"] = io::numbers(lp.top_outlier_se);
    s["escape_step"] = escape ? io::json(*escape) : io::json(nullptr);
    std::vector<std::size_t> rr, rc, un;
    for (const auto& h : lp.hidden) { rr.push_back(h.rank_row); rc.push_back(h.rank_col); un.push_back(h.unresolved); }
    s["basis_sizes"] = {{"row", rr}, {"column", rc}};
    s["unresolved_roots"] = un;
    s["escape_resolution"] = "first prediction step with an outlier (predictions every spectra_every steps)";
  }
  rec.set_prefix("");
}
#else
;
#endif

/// The block closure's setup for a config (its rule's coefficients at N = ∞ or at `width`), and the
/// effective rule the problem carries (γ0_eff, κ per parameter, the mapping's description).
template <class Decl>
std::pair<block_setup, effective_rule> make_block_setup(const run_config& cfg, const rule_info& rule, std::optional<std::size_t> width,
                                                       std::size_t p_train) {
  block_setup bs;
  bs.depth = Decl::depth_generic ? cfg.depth : 1;
  const ad::dims d{cfg.dim, cfg.width, cfg.outputs, bs.depth};
  bs.info = ad::program<Decl>::info(d);
  const std::size_t blocks = ad::program<Decl>::residual_blocks(d);
  if (rule.verdict == dsl::verdict::unstable)
    throw usage_error("--param = " + rule.name + ": this rule is unstable as N → ∞ (TP4 verdict), so it has no infinite-width theory; use mup, depth_mup, mf or ntk, or sp_lr");
  bs.coefficients = derive_coefficients(bs.info, rule.table, cfg.sigma, cfg.sigma_bias, cfg.gamma0, cfg.lr, cfg.branch, blocks, p_train,
                                        cfg.dim, width);
  bs.coefficients.depth = bs.depth;
  effective_rule eff;
  eff.gamma0_eff = bs.coefficients.gamma;
  eff.lazy = bs.coefficients.lazy;
  eff.description = bs.coefficients.description;
  for (const auto& pc : bs.coefficients.params) eff.kappa.push_back(pc.kappa);
  return {std::move(bs), std::move(eff)};
}

/// `specdyn equations`: the closure of a declaration under the config's rule, Markdown + LaTeX.
template <class Decl>
std::string equations_of(const std::string& name, const run_config& cfg_in, std::optional<std::size_t> width) {
  const run_config cfg = with_depth<Decl>(cfg_in);
  const rule_info rule = cfg.rule(Decl::hidden_layers);
  if constexpr (Decl::is_chain) {
    return dmft::print_equations<Decl>(name, rule, map_rule(rule, Decl::hidden_layers, cfg.gamma0, width));
  } else {
    const auto [bs, eff] = make_block_setup<Decl>(cfg, rule, width, cfg.samples);
    return dmft::print_block_equations<Decl>(name, rule, bs.coefficients, bs.info) +
           "\nCoefficients at η = " + io::json(cfg.lr).dump() + ", P = " + std::to_string(cfg.samples) + ", σ = " + io::json(cfg.sigma).dump() +
           ", γ0 = " + io::json(cfg.gamma0).dump() + (Decl::depth_generic ? ", depth " + std::to_string(cfg.depth) : std::string()) + ".\n";
  }
}

template <class Decl>
theory_result run_theory(Decl, const run_config& cfg_in, const theory_options& th) {
  constexpr std::size_t L = Decl::hidden_layers;
  constexpr bool chain = Decl::is_chain;
  cfg_in.validate();
  run_config cfg = with_depth<Decl>(cfg_in);
  th.validate();
  check_theory_config(cfg, false);
  constexpr bool linear = chain ? all_linear<Decl>() : linear_declaration<Decl>;
  if (th.solver == "exact" && !linear)
    throw usage_error("--solver = exact: the exact closure needs linear activations and no layer norm (" + Decl::describe() + "); use --solver particles");
  if constexpr (!chain)
    if (th.two_time) throw usage_error("--two-time: the two-time kernels are recorded for chains of dense layers only; leave it out for " + cfg.model);
  const rule_info rule = cfg.rule(L);
  std::optional<block_setup> bs;
  effective_rule eff;
  if constexpr (chain) eff = map_rule(rule, L, cfg.gamma0, th.width);
  const auto data = make_data(cfg);
  if constexpr (!chain) {
    auto [b, e] = make_block_setup<Decl>(cfg, rule, th.width, data.samples());
    bs = std::move(b);
    eff = std::move(e);
  }
  check_theory_optimizer(cfg, chain ? eff.lazy : bs->coefficients.lazy, rule.table.entrywise_given, th);
  const problem pr = make_problem(cfg, data, eff);
  io::require_memory(estimate_theory_bytes<Decl>(pr, th, bs ? &*bs : nullptr), "--particles = " + std::to_string(th.particles),
                     "lower --particles, --steps, --samples, --test-samples or --depth");
  std::filesystem::path path(cfg.out);
  if (path.extension() != ".json")
    path = cfg.record_path(th.width ? "theoryN" + std::to_string(*th.width) : "theory");
  std::error_code ec;
  if (!path.parent_path().empty()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) throw usage_error("--out = " + cfg.out + ": cannot create directory (" + ec.message() + ")");
  io::json config = cfg.to_json();
  config["theory"] = th.to_json();
  {
    io::json check = config;
    check.erase("width");  // the record says "infinite" (or its --width): not a finite-width run's width
    check_overwrite(path, check, cfg.force);
  }

  theory_result res;
  res.rule = eff;
  const auto t0 = std::chrono::steady_clock::now();
  {
    io::interrupt_guard guard;
    try {
      res.sol = solve_theory<Decl>(pr, th, cfg.seed, bs ? &*bs : nullptr);
      if (th.spread_ranks && mpi::rank() != 0) {  // a worker of a spread solve: rank 0 writes the record
        res.summary_rank = false;
        return res;
      }
      res.status = res.sol.status;
      res.message = res.sol.message;
      res.signal = res.sol.signal;
    } catch (const interrupted_error& e) {
      res.status = "interrupted";
      res.message = std::string(e.what()) + " before the first replica finished";
      res.signal = e.signal;
    } catch (const usage_error&) {
      throw;
    } catch (const divergence_error& e) {  // data, like a network that diverges (exit code 3; a sweep records it so)
      res.status = "diverged";
      res.message = e.what();
    } catch (const std::exception& e) {
      res.status = "failed";
      res.message = e.what();
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  io::record rec(path);
  auto& j = rec.begin("theory", config);
  j["config"]["width"] = th.width ? io::json(*th.width) : io::json("infinite");
  j["config"]["declaration"] = Decl::describe();
  j["config"]["hidden_layers"] = L;
  j["config"]["rule"] = rule_json(rule);
  j["config"]["gamma0_eff"] = eff.gamma0_eff;
  j["config"]["kappa"] = eff.kappa;
  if (bs) {
    j["config"]["residual_blocks"] = ad::program<Decl>::residual_blocks({cfg.dim, cfg.width, cfg.outputs, bs->depth});
    j["config"]["branch_multiplier"] = bs->coefficients.branch;
    io::json ps = io::json::array();
    for (std::size_t i = 0; i < bs->info.size(); ++i) {
      const auto& pi = bs->info[i];
      const auto& pc = bs->coefficients.params[i];
      ps.push_back({{"name", pi.name}, {"kind", ad::to_string(pi.kind)}, {"in_branch", pi.in_branch}, {"source_variance", pc.v},
                    {"coupling", pc.coef}, {"width_ratio", pc.rho}, {"ntk_weight", pc.kappa}});
    }
    j["config"]["closure"] = ps;
  }
  j["status"] = res.status;
  j["message"] = res.message;
  j["wall_seconds"] = wall;
  res.record = path;
  const auto& sol = res.sol;
  if (sol.mean.train_loss.empty()) {  // nothing finished: the record says why
    rec.write();
    return res;
  }
  if (!sol.mean.update_top_sv.empty()) {
    io::json u = io::json::object();
    for (std::size_t w = 0; w < sol.mean.update_top_sv.size(); ++w)
      u["W" + std::to_string(w + 1)] = {{"top_singular_values", io::numbers(sol.mean.update_top_sv[w])},
                                        {"stderr", io::numbers(sol.update_top_sv_se[w])}};
    u["meaning"] = "top singular values of the hidden weight's update W_eff(T) − W_eff(0) at N = ∞ (the pairwise state (ηγ0κ/S) M); "
                   "W_eff's initial bulk edge is 2σ (docs/optimizers.md §7)";
    j["update_spectra"] = u;
  }
  if (!pr.update.plain()) {
    j["optimizer_theory"] = pr.update.entrywise()
        ? "entrywise: the pairwise closure (docs/optimizers.md §5), O(S²) per step per hidden weight; no outlier predictions"
        : "linear: the GD closure with its update terms re-weighted by c(t, s) and W(0)'s parts by d^t (docs/optimizers.md §5); no outlier predictions";
  }
  j["solver"] = {{"kind", sol.solver}, {"particles", sol.particles}, {"replicas", sol.replicas}, {"replica_threads", sol.threads},
                 {"iterations", sol.mean.iterations}, {"residuals", io::numbers(sol.mean.residuals)},
                 {"min_conditional_eigenvalue", io::number(sol.mean.min_conditional_eigenvalue)},
                 {"mapping", eff.description}, {"spectra_seconds", sol.spectra_seconds}, {"spectral_cut", sol.spectral_cut},
                 {"error_bars", sol.replicas > 1 ? "standard error over replicas (Student-t with replicas − 1 dof for intervals)"
                                                 : "none: one replica (exact closure or --replicas 1)"}};
  std::vector<std::size_t> steps(cfg.steps + 1);
  std::iota(steps.begin(), steps.end(), std::size_t{0});
  j["steps"] = steps;
  j["train_loss"] = io::numbers(sol.mean.train_loss);
  j["train_loss_stderr"] = io::numbers(sol.train_loss_se);
  j["test_loss"] = io::numbers(sol.mean.test_loss);
  j["test_loss_stderr"] = io::numbers(sol.test_loss_se);
  const std::size_t c = pr.outputs(), p = pr.p_all();
  std::vector<double> fv, fs;
  for (std::size_t t = 0; t <= cfg.steps; ++t) {
    fv.insert(fv.end(), sol.mean.f[t].begin(), sol.mean.f[t].end());
    fs.insert(fs.end(), sol.f_se[t].begin(), sol.f_se[t].end());
  }
  j["f"] = {{"steps", steps}, {"shape_per_step", {c, p}}, {"points", "training points first, then test points"}};
  rec.put_array(j["f"], "values", fv, {steps.size(), c, p});
  rec.put_array(j["f"], "stderr", fs, {steps.size(), c, p});
  j["ntk"] = {{"steps", steps}, {"top_eigenvalue", io::numbers(sol.mean.ntk_top)}, {"top_eigenvalue_stderr", io::numbers(sol.ntk_top_se)},
              {"eos_ratio", io::numbers(sol.mean.eos_ratio)}, {"eos_ratio_stderr", io::numbers(sol.eos_se)},
              {"top_eigenvalue_of", "the replica-mean kernel; stderr from the spread of the replicas' own top eigenvalues"}};
  {  // K(t) on the training points, [T+1, C·P, C·P]
    const std::size_t kp = sol.mean.ntk.empty() ? 0 : sol.mean.ntk[0].shape(0);
    std::vector<double> kv;
    for (const auto& k : sol.mean.ntk) kv.insert(kv.end(), k.begin(), k.end());
    rec.set_prefix("ntk");
    rec.put_array(j["ntk"], "kernel", kv, {sol.mean.ntk.size(), kp, kp});
    rec.set_prefix("");
  }
  j["kernels"] = io::json::object();
  if (!chain) {  // per weight: the kernel of its input (phi_tt) and of its output's adjoint (g_tt)
    const auto& ws = sol.mean.weights;
    for (std::size_t k = 0; k < sol.mean.g_tt.size(); ++k) {
      const std::string name = k < ws.size() ? ws[k].name : "W" + std::to_string(k);
      std::vector<double> gg, ph;
      for (std::size_t t = 0; t <= cfg.steps; ++t) gg.insert(gg.end(), sol.mean.g_tt[k][t].begin(), sol.mean.g_tt[k][t].end());
      rec.set_prefix("kernels." + name);
      j["kernels"][name] = io::json::object();
      rec.put_array(j["kernels"][name], "g_tt", gg, {steps.size(), c * p, c * p});
      if (k > 0) {  // the input weight's input is the data: K^x
        for (std::size_t t = 0; t <= cfg.steps; ++t) ph.insert(ph.end(), sol.mean.phi_tt[k - 1][t].begin(), sol.mean.phi_tt[k - 1][t].end());
        rec.put_array(j["kernels"][name], "phi_tt", ph, {steps.size(), p, p});
      }
    }
    if (!sol.mean.phi_tt.empty()) {
      std::vector<double> ph;
      for (std::size_t t = 0; t <= cfg.steps; ++t) ph.insert(ph.end(), sol.mean.phi_tt.back()[t].begin(), sol.mean.phi_tt.back()[t].end());
      rec.set_prefix("kernels.readout");
      j["kernels"]["readout"] = io::json::object();
      rec.put_array(j["kernels"]["readout"], "phi_tt", ph, {steps.size(), p, p});
    }
  }
  for (std::size_t l = 0; chain && l < L; ++l) {
    const std::string name = "h" + std::to_string(l + 1);
    std::vector<double> ph, gg;
    for (std::size_t t = 0; t <= cfg.steps; ++t) {
      ph.insert(ph.end(), sol.mean.phi_tt[l][t].begin(), sol.mean.phi_tt[l][t].end());
      gg.insert(gg.end(), sol.mean.g_tt[l][t].begin(), sol.mean.g_tt[l][t].end());
    }
    rec.set_prefix("kernels." + name);
    j["kernels"][name] = io::json::object();
    rec.put_array(j["kernels"][name], "phi_tt", ph, {steps.size(), p, p});
    rec.put_array(j["kernels"][name], "g_tt", gg, {steps.size(), c * p, c * p});
    if (th.two_time && !sol.mean.kernels.phi.empty()) {
      const std::size_t T1 = cfg.steps + 1, bp = c * p;
      std::vector<double> full_phi(T1 * T1 * p * p), full_g(T1 * T1 * bp * bp);
      for (std::size_t t = 0; t < T1; ++t)
        for (std::size_t s = 0; s <= t; ++s) {
          const matrix& a = sol.mean.kernels.phi[l][t][s];
          const matrix& b = sol.mean.kernels.g[l][t][s];
          for (std::size_t i = 0; i < p; ++i)
            for (std::size_t k = 0; k < p; ++k) {
              full_phi[((t * T1 + s) * p + i) * p + k] = a(i, k);
              full_phi[((s * T1 + t) * p + k) * p + i] = a(i, k);
            }
          for (std::size_t i = 0; i < bp; ++i)
            for (std::size_t k = 0; k < bp; ++k) {
              full_g[((t * T1 + s) * bp + i) * bp + k] = b(i, k);
              full_g[((s * T1 + t) * bp + k) * bp + i] = b(i, k);
            }
        }
      rec.put_npy(j["kernels"][name], "phi_two_time", full_phi, {T1, T1, p, p});
      rec.put_npy(j["kernels"][name], "g_two_time", full_g, {T1, T1, bp, bp});
    }
  }
  rec.set_prefix("");
  j["spectra"] = io::json::object();
  put_predictions(rec, j, sol.spectra);
  rec.write();
  return res;
}

}  // namespace specdyn::run
