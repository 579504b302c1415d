// `specdyn proportional`: the proportional-limit theory of deep_linear2 or deep_linear3 (dmft/proportional.hpp)
// against trained networks at growing D with α = P/D, ν = N/D, γ̃0 = γ0√D and η̂ = η/P held fixed
// (the network at dimension D has P = αD samples, width N = νD, γ0 = γ̃0/√D and η = η̂P; online,
// a fresh batch of B = αD points per step). Prints per D the relative L2 error of the seed-averaged
// training and test loss curves against the theory (with a jackknife error bar over seeds; the test
// loss is each network's exact population loss, linear_population_loss), the
// typical single-network error beside it, the error of each weight's top singular value against
// the predicted outlier, and fitted exponents in D; writes one record (kind "proportional") with the
// theory and every network's curves. Also the theory-only learning-rate scan across width ratios.
//   auto res = specdyn::run::run_proportional(models::deep_linear2, problem, {.dims = {256, 512, 1024}, .seeds = 4}, "cmd");
#pragma once

#include "specdyn/core.hpp"

#include <cstdio>
#include <span>

#include "specdyn/dmft/proportional.hpp"
#include "specdyn/spectra/ntk.hpp"
#include "specdyn/spectra/singular.hpp"
#include "specdyn/run/experiment.hpp"
#include "specdyn/run/sweep.hpp"
#include "specdyn/stats.hpp"

namespace specdyn::run {

struct proportional_options {
  std::vector<std::size_t> dims{256, 512, 1024};
  std::size_t seeds = 2;
  std::uint64_t seed = 0;
  std::size_t spectra_every = 5;  // top singular value of each weight every this many steps, against the theory's outliers (0: never)
  std::string out = "runs";
  bool quiet = false;
  bool ntk = true;  // λ_max(K) of each network at steps 0 and T (full batch, P ≤ 4096; the P×P kernel, then Lanczos)
};

struct proportional_result {
  std::filesystem::path record;
  dmft::proportional_solution theory;
  std::vector<std::vector<double>> train_error, test_error;  // [dim][seed]: each network's own curve error
  std::vector<double> mean_train_error, mean_test_error;     // [dim]: error of the seed-averaged curve
  std::vector<double> mean_train_se, mean_test_se;           // [dim]: jackknife over seeds (NaN with one seed)
  stats::power_fit train_fit, test_fit;
  // per weight (W0, then W1 … W_{L−1}): [dim][seed] relative error of the top singular value at the last step
  std::vector<std::vector<std::vector<double>>> top_error;
  std::vector<stats::power_fit> top_fit;
  // the leading NTK eigenvalue λ_max(K) of each network at steps 0 and T (full batch, P ≤ 4096):
  // [dim][seed] relative error of λ_max(K₀) against the theory's bulk edge, λ_max(K_T), and the
  // squared overlap ⟨y, x₁⟩²/|y|² of the labels with K_T's top eigenvector
  std::vector<std::vector<double>> ntk_init_error, ntk_final, ntk_final_weight;
  stats::power_fit ntk_init_fit;
  // the theory's top of K_T (Lanczos in the closure, dmft::ntk_ritz) against the networks: per [dim]
  // |mean λ_max(K_T) − theory|/theory, and its fit ∝ D^k
  std::vector<double> ntk_final_error;
  stats::power_fit ntk_final_fit;
  // escape of each weight's top outlier (W0, then W1 …): the theory's first recorded step with an
  // outlier at N = ∞ (NaN: none within T); per [dim] the time at which the predicted top value clears
  // the finite-size detection threshold, edge + the outlier margin 3·edge·min(rows, cols)^{-2/3} of
  // spectra/bulk.hpp; per [dim][seed] the time at which each network's measured top value first
  // clears it (NaN: not within T). Times interpolate linearly between the --spectra-every steps.
  std::vector<double> predicted_escape;
  std::vector<std::vector<double>> predicted_detection;
  std::vector<std::vector<std::vector<double>>> measured_escape;
  // singular vectors of each weight's top singular value at each recorded step, per [weight][dim][seed]:
  // squared overlaps with the top singular vectors of the network's own update M(t) − M(0), with the
  // readout (top weight only) and with the teacher (W0 only); NaN where a probe does not apply
  struct overlap_curves {
    std::vector<double> update_left, update_right, readout, teacher;
  };
  std::vector<std::vector<std::vector<overlap_curves>>> measured_overlaps;
  // at the last recorded step, per weight and overlap kind ("update_left", "update_right", "readout",
  // "teacher", the ones that apply): the theory's value for the top outlier (NaN without one) and per
  // [dim] the networks' mean and standard error, and |mean − theory| ∝ D^k
  struct overlap_summary {
    std::string weight, kind;
    double predicted = NAN;
    std::vector<double> mean, se;
    stats::power_fit fit;
  };
  std::vector<overlap_summary> overlaps;
  std::string status = "completed", message;
  int signal = 0;
};

/// The theory's NTK tops (dmft::ntk_ritz) as a record field: one object per step.
SPECDYN_CORE_FN io::json ntk_ritz_json(const std::vector<dmft::ntk_ritz>& rs)
#if SPECDYN_CORE_BODIES
{
  io::json a = io::json::array();
  for (const auto& r : rs)
    a.push_back({{"step", r.step}, {"top", io::number(r.top)}, {"second", io::number(r.second)}, {"label_weight", io::number(r.weight)},
                 {"residual", io::number(r.residual)}, {"iterations", r.iterations}, {"converged", r.converged}});
  return a;
}
#else
;
#endif

/// The end-to-end map of a deep linear network with one output, f(x) = β·x: the row
/// W_eff^L ⋯ W_eff^0 (length D), formed from the readout down (one matrix-vector product per weight).
SPECDYN_CORE_FN std::vector<double> end_to_end_row(std::span<const matrix> w, std::span<const double> scale)
#if SPECDYN_CORE_BODIES
{
  const std::size_t top = w.size() - 1;
  std::vector<double> r(w[top].shape(1)), next;
  for (std::size_t j = 0; j < r.size(); ++j) r[j] = scale[top] * w[top](0, j);
  for (std::size_t l = top; l-- > 0;) {  // r ← scale_l · W_lᵀ r
    next.resize(w[l].shape(1));
    blas::gemv(true, scale[l], w[l].data(), w[l].shape(0), w[l].shape(1), r.data(), 0.0, next.data());
    r.swap(next);
  }
  return r;
}
#else
;
#endif

/// The population loss of a centred deep linear network on the linear-teacher task, exactly:
/// f(x) − f0(x) = (β − β0)·x and y = β*·x/√D + ε with x ~ N(0, I_D), so the expected loss on a fresh
/// point is ½(|β − β0 − β*/√D|² + σ_ε²). (A held-out set of P points estimates it with relative
/// noise of order P^{-1/2}; this is the quantity the theory's test loss describes.)
SPECDYN_CORE_FN double linear_population_loss(const std::vector<double>& beta, const std::vector<double>& beta0, const matrix& teacher,
                                              double noise)
#if SPECDYN_CORE_BODIES
{
  const double inv = 1.0 / std::sqrt(double(beta.size()));
  double s = 0;
  for (std::size_t i = 0; i < beta.size(); ++i) {
    const double e = beta[i] - beta0[i] - teacher(0, i) * inv;
    s += e * e;
  }
  return 0.5 * (s + noise * noise);
}
#else
;
#endif

template <class Decl>
proportional_result run_proportional(Decl decl, const dmft::proportional_problem& pr_in, const proportional_options& po,
                                     const std::string& command_line) {
  static_assert(Decl::hidden_layers >= 1 && Decl::hidden_layers <= 8,
                "specdyn: the proportional-limit theory is derived for deep linear networks with 1 to 8 dense layers");
  static_assert(ad::all_linear<Decl>(), "specdyn: the proportional-limit theory is derived for deep linear networks: every dense layer must be `dense | linear`");
  auto pr = pr_in;
  pr.depth = Decl::hidden_layers;
  pr.spectra_every = po.spectra_every;
  const std::string model = "deep_linear" + std::to_string(pr.depth + 1);
  pr.validate();
  require(!po.dims.empty(), "--dims", std::string("''"), "give at least one input dimension, e.g. 256,512,1024");
  require(po.seeds >= 1 && po.seeds <= 1000, "--seeds", po.seeds, "use 1 to 1000");
  for (auto d : po.dims) {
    require(d >= 8, "--dims", d, "dimensions must be at least 8");
    run_config c;
    c.model = model;
    c.dim = d;
    c.width = std::max<std::size_t>(1, std::size_t(std::llround(pr.nu * double(d))));
    c.samples = std::max<std::size_t>(1, std::size_t(std::llround(pr.alpha * double(d)))) * (pr.online ? pr.steps : 1);
    io::require_memory(estimate_train_bytes(c, 1), "--dims contains " + std::to_string(d), "lower the largest dimension");
  }
  proportional_result res;
  res.theory = dmft::solve_proportional(pr);
  const auto& th = res.theory;
  const std::size_t n_layers = th.spectra.size();
  res.top_error.assign(n_layers, {});
  // the theory's top singular value at recorded step i (default: the last): its largest outlier, else the bulk edge
  auto predicted_top = [&](std::size_t l, std::size_t i = std::size_t(-1)) {
    const auto& sp = th.spectra[l];
    const auto& o = i < sp.outliers.size() ? sp.outliers[i] : sp.outliers.back();
    return o.empty() ? sp.edge : o.front();
  };
  std::vector<std::vector<std::vector<std::vector<double>>>> measured_top(n_layers, std::vector<std::vector<std::vector<double>>>(po.dims.size()));
  res.measured_overlaps.assign(n_layers, std::vector<std::vector<proportional_result::overlap_curves>>(po.dims.size()));
  auto curve_error = [](const std::vector<double>& a, const std::vector<double>& b) {
    double num = 0, den = 0;
    for (std::size_t t = 0; t < a.size() && t < b.size(); ++t) {
      num += (a[t] - b[t]) * (a[t] - b[t]);
      den += b[t] * b[t];
    }
    return std::sqrt(num / den);
  };
  std::vector<std::vector<std::vector<double>>> curves(po.dims.size()), test_curves(po.dims.size());
  {
    io::interrupt_guard guard;
    io::progress bar("proportional", po.dims.size() * po.seeds, po.quiet);
    std::size_t done = 0;
    try {
      for (std::size_t di = 0; di < po.dims.size(); ++di) {
        const std::size_t d = po.dims[di];
        // full batch: P = αD points for the whole run; online: a fresh batch of B = αD points per step
        // (P = T·B points, one epoch, each point used once) and the population loss in both columns
        const std::size_t p = std::max<std::size_t>(1, std::size_t(std::llround(pr.alpha * double(d))));
        const std::size_t n = std::max<std::size_t>(1, std::size_t(std::llround(pr.nu * double(d))));
        const double gamma0 = pr.gamma0_tilde / std::sqrt(double(d)), eta = pr.eta_hat * double(p);
        const std::size_t p_train = pr.online ? p * pr.steps : p;
        res.train_error.emplace_back();
        res.test_error.emplace_back();
        for (auto& te : res.top_error) te.emplace_back();
        res.ntk_init_error.emplace_back();
        res.ntk_final.emplace_back();
        res.ntk_final_weight.emplace_back();
        const bool measure_ntk = po.ntk && !pr.online && p <= 4096;  // the NTK is P×P, formed in full
        for (std::size_t k = 0; k < po.seeds; ++k) {
          // fresh data per seed: the theory averages over data, weights and teacher alike
          // no held-out points: the test loss is the exact population loss (linear_population_loss)
          const auto data = make_task({.kind = task_kind::linear_teacher, .label_noise = pr.noise}, d, 1, p_train, 0, po.seed + k);
          auto net = bind(decl, rule_from_name("mup", Decl::hidden_layers), {.D = d, .N = n, .C = 1},
                          {.gamma0 = gamma0, .sigma = pr.sigma, .eta = eta, .seed = po.seed + 1000 + k});
          trainer<Decl> tr(net, data, {.steps = pr.steps, .batch = pr.online ? p : 0, .centre = true, .seed = po.seed + 2000 + k});
          std::vector<double> test;
          std::vector<std::vector<double>> tops(n_layers);
          std::vector<proportional_result::overlap_curves> ov(n_layers);
          std::vector<matrix> initial(n_layers);
          std::vector<double> beta0;
          tr.run([&](std::size_t t, trainer<Decl>& self) {
            io::throw_if_interrupted("at D = " + std::to_string(d) + ", step " + std::to_string(t));
            const auto& par = self.net().params();
            auto beta = end_to_end_row(par.w, par.scale);
            if (t == 0) beta0 = beta;
            test.push_back(linear_population_loss(beta, beta0, data.teacher, pr.noise));
            if (measure_ntk && (t == 0 || t == pr.steps)) {
              const auto kn = spectra::empirical_ntk(self.net(), data.x, self.train_fields());
              const double top = kn.top_eigenvalue;
              if (t == 0) {
                res.ntk_init_error.back().push_back(std::abs(top - th.ntk_edge.front()) / th.ntk_edge.front());
              } else {
                res.ntk_final.back().push_back(top);
                // the labels' weight on the top eigenvector (y = Δ(0): the output is centred)
                const auto x1 = spectra::top_singular(kn.K, 1, true);
                double yx = 0, yy = 0;
                for (std::size_t i = 0; i < p; ++i) yx += data.y(0, i) * x1.left(i, 0), yy += data.y(0, i) * data.y(0, i);
                res.ntk_final_weight.back().push_back(yx * yx / yy);
              }
            }
            if (po.spectra_every && t % po.spectra_every == 0)
              for (std::size_t l = 0; l < n_layers; ++l) {
                // the theory normalises every weight by √rows = √N. The hidden weights' effective form
                // scale·W is W/√N already; the input weight's is W/√D (fan-in D), so W0 takes √(D/N)
                const double to_rows = l == 0 ? std::sqrt(double(d) / double(n)) : 1.0;
                const matrix m = (to_rows * self.net().scale(l)) * self.net().params().w[l];
                if (t == 0) initial[l] = m;
                const auto top = spectra::top_singular(m, 1, true);
                tops[l].push_back(top.values.front());
                // overlaps of the top pair (ũ, ṽ) with the update's top pair, the readout and the teacher
                auto sq_overlap = [](const matrix& a, std::size_t ca, const auto& b) {
                  double ab = 0, bb = 0;
                  for (std::size_t i = 0; i < a.shape(0); ++i) ab += a(i, ca) * b(i), bb += b(i) * b(i);
                  return bb > 0 ? ab * ab / bb : NAN;
                };
                if (t == 0) {  // no update yet
                  ov[l].update_left.push_back(NAN);
                  ov[l].update_right.push_back(NAN);
                } else {
                  const auto upd = spectra::top_singular(matrix(m - initial[l]), 1, true);
                  ov[l].update_left.push_back(sq_overlap(top.left, 0, xt::view(upd.left, xt::all(), 0)));
                  ov[l].update_right.push_back(sq_overlap(top.right, 0, xt::view(upd.right, xt::all(), 0)));
                }
                ov[l].readout.push_back(l + 1 == n_layers ? sq_overlap(top.left, 0, xt::view(self.net().params().w[n_layers], 0, xt::all())) : NAN);
                ov[l].teacher.push_back(l == 0 ? sq_overlap(top.right, 0, xt::view(data.teacher, 0, xt::all())) : NAN);
              }
          });
          for (std::size_t l = 0; l < n_layers; ++l) {
            if (tops[l].size() == th.spectra[l].steps.size())
              res.top_error[l].back().push_back(std::abs(tops[l].back() - predicted_top(l)) / predicted_top(l));
            measured_top[l][di].push_back(tops[l]);
            res.measured_overlaps[l][di].push_back(std::move(ov[l]));
          }
          // online, the loss on the current batch is a loss on fresh points: compare the population loss in both columns
          const auto& train_curve = pr.online ? test : tr.train_loss();
          res.train_error.back().push_back(curve_error(train_curve, th.train_loss));
          res.test_error.back().push_back(curve_error(test, th.test_loss));
          curves[di].push_back(train_curve);
          test_curves[di].push_back(test);
          bar.update(++done, tr.train_loss().back());
        }
      }
    } catch (const interrupted_error& e) {
      res.status = "interrupted";
      res.message = e.what();
      res.signal = e.signal;
    } catch (const divergence_error& e) {
      res.status = "diverged";
      res.message = e.what();
    }
  }
  // error of the seed-averaged curve and its jackknife error bar over seeds
  auto averaged_error = [&](const std::vector<std::vector<double>>& cs, const std::vector<double>& theory) {
    auto mean_of = [&](std::size_t skip) {
      std::vector<double> m(cs.front().size(), 0.0);
      double n = 0;
      for (std::size_t k = 0; k < cs.size(); ++k) {
        if (k == skip) continue;
        for (std::size_t t = 0; t < m.size() && t < cs[k].size(); ++t) m[t] += cs[k][t];
        n += 1;
      }
      for (auto& v : m) v /= n;
      return m;
    };
    const double full = curve_error(mean_of(cs.size()), theory);
    double se = NAN;
    if (cs.size() >= 2) {
      std::vector<double> loo;
      for (std::size_t k = 0; k < cs.size(); ++k) loo.push_back(curve_error(mean_of(k), theory));
      double m = 0, v = 0;
      for (double x : loo) m += x / double(loo.size());
      for (double x : loo) v += (x - m) * (x - m);
      se = std::sqrt(v * double(loo.size() - 1) / double(loo.size()));
    }
    return std::pair{full, se};
  };
  std::vector<double> xs, tr_e, te_e;
  for (std::size_t di = 0; di < res.train_error.size(); ++di) {
    if (res.train_error[di].empty()) continue;
    const auto [a, sa] = averaged_error(curves[di], th.train_loss);
    const auto [b, sb] = averaged_error(test_curves[di], th.test_loss);
    res.mean_train_error.push_back(a);
    res.mean_train_se.push_back(sa);
    res.mean_test_error.push_back(b);
    res.mean_test_se.push_back(sb);
    xs.push_back(double(po.dims[di]));
    tr_e.push_back(a);
    te_e.push_back(b);
  }
  for (std::size_t l = 0; l < n_layers; ++l) {
    std::vector<double> ys;
    for (std::size_t di = 0; di < xs.size(); ++di) ys.push_back(stats::mean_se(res.top_error[l][di]).first);
    res.top_fit.push_back(stats::power_law_fit(xs, ys));
  }
  // escape steps: at N = ∞, and as detected at each D (the same threshold for theory and networks)
  res.measured_escape.assign(n_layers, {});
  res.predicted_detection.assign(n_layers, {});
  for (std::size_t l = 0; l < n_layers; ++l) {
    const auto& sp = th.spectra[l];
    double esc = NAN;
    for (std::size_t i = 0; i < sp.steps.size(); ++i)
      if (!sp.outliers[i].empty()) { esc = double(sp.steps[i]); break; }
    res.predicted_escape.push_back(esc);
    std::vector<double> predicted_top_curve;
    for (std::size_t i = 0; i < sp.steps.size(); ++i) predicted_top_curve.push_back(predicted_top(l, i));
    for (std::size_t di = 0; di < measured_top[l].size(); ++di) {
      const std::size_t d = po.dims[di], n = std::max<std::size_t>(1, std::size_t(std::llround(pr.nu * double(d))));
      const double threshold = sp.edge + spectra::outlier_margin(sp.edge, n, l == 0 ? d : n);
      // the first upward crossing of the threshold, linearly interpolated between recorded steps
      auto crossing = [&](const std::vector<double>& v) {
        for (std::size_t i = 0; i < v.size() && i < sp.steps.size(); ++i)
          if (v[i] > threshold) {
            if (i == 0) return double(sp.steps[0]);
            const double f = (threshold - v[i - 1]) / (v[i] - v[i - 1]);
            return double(sp.steps[i - 1]) + f * double(sp.steps[i] - sp.steps[i - 1]);
          }
        return double(NAN);
      };
      res.predicted_detection[l].push_back(crossing(predicted_top_curve));
      res.measured_escape[l].emplace_back();
      for (const auto& tops : measured_top[l][di]) res.measured_escape[l].back().push_back(crossing(tops));
    }
  }
  // overlaps at the last recorded step: the theory's top outlier against the networks' top pair
  for (std::size_t l = 0; l < n_layers; ++l) {
    const auto& sp = th.spectra[l];
    if (sp.steps.empty()) continue;
    const std::size_t last = sp.steps.size() - 1;
    using oc = proportional_result::overlap_curves;
    const std::vector<std::pair<const char*, std::pair<const std::vector<std::vector<double>>*, std::vector<double> oc::*>>> kinds = {
        {"update_left", {&sp.overlap_update_left, &oc::update_left}},
        {"update_right", {&sp.overlap_update_right, &oc::update_right}},
        {"readout", {&sp.overlap_readout, &oc::readout}},
        {"teacher", {&sp.overlap_teacher, &oc::teacher}}};
    for (const auto& [kind, src] : kinds) {
      const bool applies = std::string(kind).rfind("update", 0) == 0 || (std::string(kind) == "readout" ? l + 1 == n_layers : l == 0);
      if (!applies) continue;
      proportional_result::overlap_summary os;
      os.weight = sp.name;
      os.kind = kind;
      const auto& pred = (*src.first)[last];
      os.predicted = pred.empty() ? NAN : pred.front();
      std::vector<double> errs;
      for (std::size_t di = 0; di < res.measured_overlaps[l].size() && di < xs.size(); ++di) {
        std::vector<double> vals;
        for (const auto& c : res.measured_overlaps[l][di])
          if ((c.*src.second).size() == sp.steps.size()) vals.push_back((c.*src.second)[last]);
        const auto [m, se] = stats::mean_se(vals);
        os.mean.push_back(m);
        os.se.push_back(se);
        errs.push_back(std::abs(m - os.predicted));
      }
      os.fit = stats::power_law_fit(xs, errs);
      res.overlaps.push_back(std::move(os));
    }
  }
  {
    std::vector<double> xn, yn;
    for (std::size_t di = 0; di < xs.size(); ++di)
      if (!res.ntk_init_error[di].empty()) xn.push_back(xs[di]), yn.push_back(stats::mean_se(res.ntk_init_error[di]).first);
    res.ntk_init_fit = stats::power_law_fit(xn, yn);
    xn.clear();
    yn.clear();
    const double th_top = th.ntk.empty() ? NAN : th.ntk.back().top;
    for (std::size_t di = 0; di < xs.size(); ++di) {
      res.ntk_final_error.push_back(res.ntk_final[di].empty() ? NAN : std::abs(stats::mean_se(res.ntk_final[di]).first - th_top) / th_top);
      if (std::isfinite(res.ntk_final_error.back())) xn.push_back(xs[di]), yn.push_back(res.ntk_final_error.back());
    }
    res.ntk_final_fit = stats::power_law_fit(xn, yn);
  }
  res.train_fit = stats::power_law_fit(xs, tr_e);
  res.test_fit = stats::power_law_fit(xs, te_e);
  if (!po.quiet) {
    if (pr.online) std::printf("\nonline SGD: a fresh batch of B = αD points per step (α = B/D, η/P means η/B); train = population loss");
    std::printf("\n%s, proportional limit: α = P/D = %g, ν = N/D = %g, γ̃0 = γ0√D = %g, η/P = %g, σ = %g, σ_ε = %g, T = %zu\n", model.c_str(),
                pr.alpha, pr.nu, pr.gamma0_tilde, pr.eta_hat, pr.sigma, pr.noise, pr.steps);
    std::printf("theory: train loss %.4g → %.4g, test loss %.4g → %.4g\n", th.train_loss.front(), th.train_loss.back(), th.test_loss.front(),
                th.test_loss.back());
    std::printf("relative L2 error of the loss curve averaged over %zu seed(s) (± jackknife), and of a single network (mean over seeds)\n",
                po.seeds);
    std::printf("%7s %7s %7s  %-22s %-22s %-10s %-10s\n", "D", "P", "N", "train (averaged)", "test (averaged)", "train (1)", "test (1)");
    auto pm = [](double v, double se) {
      char b[64];
      if (std::isfinite(se)) std::snprintf(b, sizeof b, "%.4f ± %.4f", v, se);
      else std::snprintf(b, sizeof b, "%.4f (1 seed)", v);
      return std::string(b);
    };
    for (std::size_t di = 0; di < xs.size(); ++di) {
      const std::size_t d = po.dims[di];
      std::printf("%7zu %7zu %7zu  %-22s %-22s %-10.4f %-10.4f\n", d, std::size_t(std::llround(pr.alpha * double(d))),
                  std::size_t(std::llround(pr.nu * double(d))), pm(res.mean_train_error[di], res.mean_train_se[di]).c_str(),
                  pm(res.mean_test_error[di], res.mean_test_se[di]).c_str(), stats::mean_se(res.train_error[di]).first,
                  stats::mean_se(res.test_error[di]).first);
    }
    for (std::size_t l = 0; l < n_layers; ++l) {
      const auto& sp = th.spectra[l];
      std::printf("%s (normalised by √N, bulk edge %.4f): predicted top singular value at step %zu: %.4f%s\n", sp.name.c_str(), sp.edge,
                  sp.steps.back(), predicted_top(l), sp.outliers.back().empty() ? " (no outlier: the edge)" : " (outlier)");
      for (std::size_t di = 0; di < xs.size(); ++di) {
        const auto [m, se] = stats::mean_se(res.top_error[l][di]);
        std::printf("  D = %5zu: relative error of the measured top singular value %.4f", po.dims[di], m);
        if (std::isfinite(se)) std::printf(" ± %.4f", se);
        std::printf("\n");
      }
      std::printf("  fitted error ∝ D^k: k = %.2f", res.top_fit[l].slope);
      if (std::isfinite(res.top_fit[l].ci_low)) std::printf(" [95%% CI %.2f, %.2f]", res.top_fit[l].ci_low, res.top_fit[l].ci_high);
      std::printf(" (outliers fluctuate like D^-1/2, edges like D^-2/3)\n");
      if (std::isfinite(res.predicted_escape[l]))
        std::printf("  escape: the theory's outlier leaves the edge at step %g (N = ∞%s); detected (edge + 3·edge·n^-2/3, linear between recorded steps):",
                    res.predicted_escape[l],
                    po.spectra_every > 1 ? (", the first recorded step with one: escape within the last " + std::to_string(po.spectra_every) + " steps").c_str() : "");
      else
        std::printf("  escape: no outlier within %zu steps in the theory; detected (edge + 3·edge·n^-2/3):", pr.steps);
      for (std::size_t di = 0; di < res.measured_escape[l].size(); ++di) {
        const auto& me = res.measured_escape[l][di];
        std::size_t found = 0;
        double sum = 0;
        for (double v : me)
          if (std::isfinite(v)) { ++found; sum += v; }
        std::printf(" D = %zu predicted step %.2f, networks ", po.dims[di], res.predicted_detection[l][di]);
        if (found) std::printf("%zu/%zu at mean step %.2f", found, me.size(), sum / double(found));
        else std::printf("none of %zu", me.size());
        std::printf(di + 1 < res.measured_escape[l].size() ? ";" : "\n");
      }
    }
    if (!res.overlaps.empty() && !th.spectra.empty() && !th.spectra.front().steps.empty()) {
      std::printf("squared overlaps of the top singular vectors at step %zu (theory: the top outlier at N = ∞; networks: mean ± se):\n",
                  th.spectra.front().steps.back());
      for (const auto& os : res.overlaps) {
        const char* what = os.kind == "update_left" ? "left vector · update's top left vector"
                           : os.kind == "update_right" ? "right vector · update's top right vector"
                           : os.kind == "readout"      ? "left vector · readout w"
                                                       : "right vector · teacher β*";
        std::printf("  %-3s %-42s theory %s", os.weight.c_str(), what, std::isfinite(os.predicted) ? "" : "(no outlier)");
        if (std::isfinite(os.predicted)) std::printf("%.4f", os.predicted);
        for (std::size_t di = 0; di < os.mean.size(); ++di) {
          std::printf("%s D = %zu: %.4f", di == 0 ? " |" : ",", po.dims[di], os.mean[di]);
          if (std::isfinite(os.se[di])) std::printf(" ± %.4f", os.se[di]);
        }
        if (std::isfinite(os.fit.slope)) std::printf("; |error| ∝ D^%.2f", os.fit.slope);
        std::printf("\n");
      }
    }
    std::printf("NTK (units f ← f + (η/P)KΔ): predicted bulk edge %.4f at step 0 ((η/P)·edge = %.3f), %.4f at step %zu ((η/P)·edge = %.3f)\n",
                th.ntk_edge.front(), pr.eta_hat * th.ntk_edge.front(), th.ntk_edge.back(), pr.steps, pr.eta_hat * th.ntk_edge.back());
    if (!th.ntk.empty()) {
      const auto& r = th.ntk.back();
      std::printf("  theory λ_max(K) at step %zu (Lanczos in the closure, %zu iterations, residual %.1e): %.4f ((η/P)λ_max = %.3f), %s; "
                  "labels' weight on its eigenvector %.4f\n",
                  r.step, r.iterations, r.residual, r.top, pr.eta_hat * r.top,
                  r.converged && r.top > 1.001 * th.ntk_edge.back() ? "an outlier above the bulk edge" : "the bulk edge (no outlier)", r.weight);
    }
    for (std::size_t di = 0; di < xs.size(); ++di) {
      if (res.ntk_init_error[di].empty()) continue;
      const auto [m, se] = stats::mean_se(res.ntk_init_error[di]);
      std::printf("  D = %5zu: λ_max(K) at step 0 vs the edge: relative error %.4f", po.dims[di], m);
      if (std::isfinite(se)) std::printf(" ± %.4f", se);
      if (!res.ntk_final[di].empty()) {
        const auto [f, fse] = stats::mean_se(res.ntk_final[di]);
        const auto [w, wse] = stats::mean_se(res.ntk_final_weight[di]);
        std::printf("; at step %zu λ_max(K) = %.4g", pr.steps, f);
        if (std::isfinite(fse)) std::printf(" ± %.2g", fse);
        std::printf(" ((η/P)λ_max = %.3f", pr.eta_hat * f);
        if (std::isfinite(res.ntk_final_error[di])) std::printf(", %.4f from the theory", res.ntk_final_error[di]);
        std::printf("), labels' weight %.4f", w);
        if (std::isfinite(wse)) std::printf(" ± %.4f", wse);
      }
      std::printf("\n");
    }
    if (std::isfinite(res.ntk_final_fit.slope)) std::printf("  fitted step-%zu λ_max error ∝ D^k: k = %.2f\n", pr.steps, res.ntk_final_fit.slope);
    if (std::isfinite(res.ntk_init_fit.slope)) std::printf("  fitted step-0 error ∝ D^k: k = %.2f (edges fluctuate like D^-2/3)\n", res.ntk_init_fit.slope);
    std::printf("fitted error ∝ D^k: train k = %.2f", res.train_fit.slope);
    if (std::isfinite(res.train_fit.ci_low)) std::printf(" [95%% CI %.2f, %.2f]", res.train_fit.ci_low, res.train_fit.ci_high);
    std::printf(", test k = %.2f", res.test_fit.slope);
    if (std::isfinite(res.test_fit.ci_low)) std::printf(" [95%% CI %.2f, %.2f]", res.test_fit.ci_low, res.test_fit.ci_high);
    std::printf("\n");
  }
  std::filesystem::path dir(po.out);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  char name[160];
  std::snprintf(name, sizeof name, "%s_proportional%s_a%g_nu%g_g%g_eh%g_T%zu_s%llu.json", model.c_str(), pr.online ? "_online" : "", pr.alpha, pr.nu, pr.gamma0_tilde, pr.eta_hat,
                pr.steps, static_cast<unsigned long long>(po.seed));
  res.record = dir / name;
  io::record rec(res.record);
  auto& j = rec.begin("proportional", {{"model", model}, {"online", pr.online}, {"alpha", pr.alpha}, {"nu", pr.nu}, {"gamma0_tilde", pr.gamma0_tilde},
                                       {"eta_over_p", pr.eta_hat}, {"sigma", pr.sigma}, {"noise", pr.noise}, {"steps", pr.steps},
                                       {"dims", po.dims}, {"seeds", po.seeds}, {"seed", po.seed}, {"command_line", command_line},
                                       {"weight_seeds", "seed + 1000 + k"}, {"data_seeds", "seed + k (fresh data per seed)"}});
  j["status"] = res.status;
  j["message"] = res.message;
  j["theory"] = {{"train_loss", io::numbers(th.train_loss)}, {"test_loss", io::numbers(th.test_loss)},
                 {"teacher_overlap", io::numbers(th.teacher_overlap)}, {"readout_norm", io::numbers(th.readout_norm)},
                 {"ntk_edge", io::numbers(th.ntk_edge)}, {"ntk_top", ntk_ritz_json(th.ntk)}};
  j["spectra"] = io::json::object();
  for (std::size_t l = 0; l < n_layers; ++l) {
    const auto& sp = th.spectra[l];
    io::json per_dim = io::json::array();
    for (std::size_t di = 0; di < measured_top[l].size() && di < res.top_error[l].size(); ++di)
    {
      io::json ov = io::json::array();
      for (const auto& c : res.measured_overlaps[l][di])
        ov.push_back({{"update_left", io::numbers(c.update_left)}, {"update_right", io::numbers(c.update_right)},
                      {"readout", io::numbers(c.readout)}, {"teacher", io::numbers(c.teacher)}});
      per_dim.push_back({{"dim", po.dims[di]}, {"measured_top", measured_top[l][di]}, {"top_error", io::numbers(res.top_error[l][di])},
                         {"predicted_detection_step", io::number(res.predicted_detection[l][di])},
                         {"measured_escape_step", io::numbers(res.measured_escape[l][di])}, {"measured_overlaps", ov}});
    }
    j["spectra"][sp.name] = {{"steps", sp.steps},
                             {"edge", sp.edge},
                             {"predicted_outliers", sp.outliers},
                             {"identity_residual", io::numbers(sp.identity_residual)},
                             {"two_level_top", io::numbers(sp.two_level_top)},
                             {"lanczos_residual", io::numbers(sp.lanczos_residual)},
                             {"top_error_exponent", io::number(res.top_fit[l].slope)},
                             {"predicted_escape_step", io::number(res.predicted_escape[l])},
                             {"predicted_overlap_update_left", sp.overlap_update_left},
                             {"predicted_overlap_update_right", sp.overlap_update_right},
                             {"predicted_overlap_readout", sp.overlap_readout},
                             {"predicted_overlap_teacher", sp.overlap_teacher},
                             {"networks", per_dim}};
  }
  j["overlaps"] = io::json::array();
  for (const auto& os : res.overlaps)
    j["overlaps"].push_back({{"weight", os.weight}, {"kind", os.kind}, {"predicted", io::number(os.predicted)}, {"dims", po.dims},
                             {"mean", io::numbers(os.mean)}, {"se", io::numbers(os.se)}, {"error_exponent", io::number(os.fit.slope)}});
  j["fits"] = {{"train_exponent", io::number(res.train_fit.slope)}, {"train_ci95", {io::number(res.train_fit.ci_low), io::number(res.train_fit.ci_high)}},
               {"test_exponent", io::number(res.test_fit.slope)}, {"test_ci95", {io::number(res.test_fit.ci_low), io::number(res.test_fit.ci_high)}}};
  j["fits"]["ntk_final_exponent"] = io::number(res.ntk_final_fit.slope);
  j["dims"] = io::json::array();
  for (std::size_t di = 0; di < res.train_error.size(); ++di) {
    io::json tr = io::json::array(), te = io::json::array();
    for (const auto& c : curves[di]) tr.push_back(io::numbers(c));
    for (const auto& c : test_curves[di]) te.push_back(io::numbers(c));
    io::json row = {{"dim", po.dims[di]}, {"train_error", io::numbers(res.train_error[di])}, {"test_error", io::numbers(res.test_error[di])},
                    {"train_loss", tr}, {"test_loss", te}};
    if (di < res.ntk_init_error.size() && !res.ntk_init_error[di].empty())
      row["ntk"] = {{"init_error", io::numbers(res.ntk_init_error[di])}, {"final_top", io::numbers(res.ntk_final[di])},
                    {"final_label_weight", io::numbers(res.ntk_final_weight[di])}, {"final_top_error", io::number(res.ntk_final_error[di])}, {"final_step", pr.steps}};
    if (di < res.mean_train_error.size()) {
      row["averaged_train_error"] = io::number(res.mean_train_error[di]);
      row["averaged_train_error_se"] = io::number(res.mean_train_se[di]);
      row["averaged_test_error"] = io::number(res.mean_test_error[di]);
      row["averaged_test_error_se"] = io::number(res.mean_test_se[di]);
    }
    j["dims"].push_back(row);
  }
  rec.write();
  return res;
}

/// Learning-rate transfer across widths from the theory alone. At a fixed input dimension D the
/// networks of width N = νD under a rule with output scale γ0 are the proportional theory at
/// γ̃0 = γ0_eff·√D: μP keeps γ0_eff = γ0 (γ̃0 the same at every ν), NTK parameterization has
/// γ0_eff = γ0/√N (γ̃0 = γ0/√ν). For each rule and ν: the training loss after T steps against η/P,
/// the interpolated optimum, and η* ∝ ν^k fitted over the widths where the grid brackets it.
struct proportional_scan_options {
  std::vector<std::string> params{"mup", "ntk"};
  std::vector<double> nus{0.5, 1, 2, 4, 8};
  std::vector<double> eta_hats;
  double gamma0 = 1.0;
  std::size_t dim = 256;
  std::string out = "runs";
  bool quiet = false;
};

struct proportional_scan_curve {
  std::string param;
  double nu = 0, gamma0_tilde = 0;
  std::vector<double> final_train, final_test;  // +∞ where the theory diverged
  std::vector<double> top_w0;                     // predicted top singular value of W0/√N at T (NaN where diverged)
  std::vector<double> ntk_edge_final;             // the NTK's bulk edge at T (NaN where diverged)
  std::vector<double> ntk_top_final;              // the NTK's top eigenvalue at T (Lanczos in the closure; NaN where diverged)
  double ntk_edge_init = 0;                       // the NTK's bulk edge at t = 0 (the same for every η)
  optimum best;
};

SPECDYN_CORE_FN std::filesystem::path run_proportional_scan(const dmft::proportional_problem& base, const proportional_scan_options& so,
                                                            const std::string& command_line)
#if SPECDYN_CORE_BODIES
{
  require(!so.nus.empty(), "--scan-nus", std::string("''"), "give widths as ratios ν = N/D, e.g. 0.5,1,2,4,8");
  require(so.eta_hats.size() >= 3, "--scan-lrs-over-p", so.eta_hats.size(), "give at least 3 values of η/P to bracket an optimum");
  for (double e : so.eta_hats) require(e > 0 && std::isfinite(e), "--scan-lrs-over-p", e, "values must be positive");
  for (double v : so.nus) require(v > 0 && std::isfinite(v), "--scan-nus", v, "values must be positive");
  require(so.gamma0 > 0 && std::isfinite(so.gamma0), "--gamma0", so.gamma0, "must be a positive number");
  require(so.dim >= 8, "--scan-dim", so.dim, "use at least 8");
  for (const auto& p : so.params)
    require(p == "mup" || p == "ntk", "--params", p, "the proportional scan knows mup and ntk");
  std::vector<double> etas = so.eta_hats;
  std::sort(etas.begin(), etas.end());
  std::vector<proportional_scan_curve> curves;
  for (const auto& param : so.params)
    for (double nu : so.nus) {
      proportional_scan_curve c;
      c.param = param;
      c.nu = nu;
      const double n = nu * double(so.dim);
      c.gamma0_tilde = (param == "mup" ? so.gamma0 : so.gamma0 / std::sqrt(n)) * std::sqrt(double(so.dim));
      for (double e : etas) {
        auto pr = base;
        pr.nu = nu;
        pr.gamma0_tilde = c.gamma0_tilde;
        pr.eta_hat = e;
        pr.spectra_every = pr.steps;  // t = 0 and t = T
        try {
          const auto sol = dmft::solve_proportional(pr);
          c.final_train.push_back(sol.train_loss.back());
          c.final_test.push_back(sol.test_loss.back());
          const auto& sp = sol.spectra.front();
          c.top_w0.push_back(sp.outliers.back().empty() ? sp.edge : sp.outliers.back().front());
          c.ntk_edge_init = sol.ntk_edge.front();
          c.ntk_edge_final.push_back(sol.ntk_edge.back());
          c.ntk_top_final.push_back(sol.ntk.empty() ? NAN : sol.ntk.back().top);
        } catch (const divergence_error&) {
          c.final_train.push_back(INFINITY);
          c.final_test.push_back(INFINITY);
          c.top_w0.push_back(NAN);
          c.ntk_edge_final.push_back(NAN);
          c.ntk_top_final.push_back(NAN);
        }
      }
      c.best = interpolate_optimum(etas, c.final_train);
      curves.push_back(c);
    }
  std::filesystem::path dir(so.out);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  char name[160];
  const std::string model = "deep_linear" + std::to_string(base.depth + 1);
  std::snprintf(name, sizeof name, "%s_proportional_scan_a%g_g%g_D%zu_T%zu.json", model.c_str(), base.alpha, so.gamma0, so.dim, base.steps);
  io::record rec(dir / name);
  auto& j = rec.begin("proportional_scan", {{"model", model}, {"alpha", base.alpha}, {"gamma0", so.gamma0}, {"dim", so.dim},
                                            {"sigma", base.sigma}, {"noise", base.noise}, {"steps", base.steps}, {"nus", so.nus},
                                            {"eta_over_p", etas}, {"params", so.params}, {"command_line", command_line}});
  j["status"] = "completed";
  j["message"] = "";
  j["curves"] = io::json::array();
  if (!so.quiet) {
    std::printf("%s proportional theory at D = %zu, α = %g, γ0 = %g, T = %zu: training loss after T steps ('div' = diverged)\n", model.c_str(), so.dim,
                base.alpha, so.gamma0, base.steps);
    std::printf("%-5s %6s %7s", "rule", "ν", "γ̃0");
    for (double e : etas) std::printf(" %9.3g", e);
    std::printf("   η*/P\n");
  }
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> star;
  for (const auto& c : curves) {
    if (!so.quiet) {
      std::printf("%-5s %6.3g %7.3g", c.param.c_str(), c.nu, c.gamma0_tilde);
      for (double v : c.final_train) {
        if (std::isfinite(v)) std::printf(" %9.3e", v);
        else std::printf(" %9s", "div");
      }
      std::printf("   %.4g%s\n", c.best.eta, c.best.at_edge ? " (grid edge)" : "");
    }
    if (!c.best.at_edge && std::isfinite(c.best.eta)) {
      star[c.param].first.push_back(c.nu);
      star[c.param].second.push_back(c.best.eta);
    }
    j["curves"].push_back({{"param", c.param}, {"nu", c.nu}, {"gamma0_tilde", c.gamma0_tilde}, {"final_train_loss", io::numbers(c.final_train)},
                           {"top_singular_W0", io::numbers(c.top_w0)}, {"ntk_edge_init", io::number(c.ntk_edge_init)},
                           {"ntk_edge_final", io::numbers(c.ntk_edge_final)}, {"ntk_top_final", io::numbers(c.ntk_top_final)},
                           {"final_test_loss", io::numbers(c.final_test)}, {"eta_star_over_p", io::number(c.best.eta)},
                           {"eta_star_at_grid_edge", c.best.at_edge}});
  }
  j["eta_star_fits"] = io::json::object();
  for (const auto& [param, xy] : star) {
    const auto fit = stats::power_law_fit(xy.first, xy.second);
    if (!so.quiet) {
      std::printf("η* ∝ ν^k for %s: k = %.3f", param.c_str(), fit.slope);
      if (std::isfinite(fit.ci_low)) std::printf(" [95%% CI %.3f, %.3f]", fit.ci_low, fit.ci_high);
      std::printf(" (%zu widths)\n", fit.points);
    }
    j["eta_star_fits"][param] = {{"exponent", io::number(fit.slope)}, {"ci95", {io::number(fit.ci_low), io::number(fit.ci_high)}},
                                 {"nus", xy.first}, {"eta_star_over_p", xy.second}};
  }
  if (!so.quiet) {  // the input weight's top singular value at T across widths, at one η per rule (its median η*)
    std::printf("predicted top singular value of W0/√N at T across widths (bulk edge σ(1 + 1/√ν)), at one η per rule:\n");
    for (const auto& param : so.params) {
      std::vector<double> stars;
      for (const auto& c : curves)
        if (c.param == param && std::isfinite(c.best.eta)) stars.push_back(c.best.eta);
      if (stars.empty()) continue;
      std::sort(stars.begin(), stars.end());
      const double target = stars[stars.size() / 2];
      std::size_t best = 0;
      for (std::size_t i = 0; i < etas.size(); ++i)
        if (std::abs(std::log(etas[i] / target)) < std::abs(std::log(etas[best] / target))) best = i;
      std::printf("  %-4s η/P = %-8.4g", param.c_str(), etas[best]);
      for (const auto& c : curves)
        if (c.param == param) std::printf("  ν=%g: %.4f (edge %.3f)", c.nu, c.top_w0[best], base.sigma * (1 + 1 / std::sqrt(c.nu)));
      std::printf("\n");
    }
    std::printf("the NTK's bulk edge at step 0 across widths, as (η*/P)·edge (η* of each rule and width; the bulk alone, not the learned outliers):\n");
    for (const auto& param : so.params) {
      std::printf("  %-4s", param.c_str());
      for (const auto& c : curves)
        if (c.param == param) std::printf("  ν=%g: edge %.3f, %.3f", c.nu, c.ntk_edge_init, c.best.eta * c.ntk_edge_init);
      std::printf("\n");
    }
    std::printf("the NTK's top eigenvalue at T (outliers included), as (η/P)·λ_max at the grid η nearest each η*:\n");
    for (const auto& param : so.params) {
      std::printf("  %-4s", param.c_str());
      for (const auto& c : curves) {
        if (c.param != param || !std::isfinite(c.best.eta)) continue;
        std::size_t b = 0;
        for (std::size_t i = 0; i < etas.size(); ++i)
          if (std::abs(std::log(etas[i] / c.best.eta)) < std::abs(std::log(etas[b] / c.best.eta))) b = i;
        std::printf("  ν=%g: %.3f (bulk %.3f)", c.nu, etas[b] * c.ntk_top_final[b], etas[b] * c.ntk_edge_final[b]);
      }
      std::printf("\n");
    }
  }
  rec.write();
  return dir / name;
}
#else
;
#endif

}  // namespace specdyn::run
