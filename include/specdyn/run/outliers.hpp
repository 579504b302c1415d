// `specdyn outliers`: how the outliers of the hidden weights move with the output scale γ0, the
// initial scale σ, training time and width, from the theory and from finite-width networks side
// by side. For every rule × γ0 × σ it solves the theory (once at N = ∞ for width-independent rules
// such as μP; at each width for NTK, whose effective richness γ0/√N depends on N), trains the same
// network at each width for each seed, and records the top singular values of every hidden weight
// at the prediction steps. It prints a table and writes one summary record (kind "outliers") that
// `specdyn plot` turns into the outlier-vs-γ0/σ/t figures and, with several rules, the μP-vs-NTK
// figure. Each theory solve also keeps its own theory record.
//   auto res = specdyn::run::run_outliers(models::mlp3_tanh, cfg, th, {.gamma0s = {0.5, 1, 2}, .widths = {1024}});
#pragma once

#include "specdyn/core.hpp"

#include <cstdio>
#include <functional>

#include "specdyn/run/theory.hpp"
#include "specdyn/spectra/singular.hpp"

namespace specdyn::run {

struct outliers_options {
  std::vector<std::string> params{"mup"};
  std::vector<double> gamma0s{1.0};
  std::vector<double> sigmas{1.0};
  std::vector<std::size_t> widths{1024};  // finite-width checks; none: theory only
  std::size_t seeds = 1;
  bool print = true;

  SPECDYN_CORE_FN void validate() const
#if SPECDYN_CORE_BODIES
  {
    require(!params.empty(), "--params", std::string("''"), "give at least one rule, e.g. mup,ntk");
    require(!gamma0s.empty(), "--gamma0s", std::string("''"), "give at least one value, e.g. 0.5,1,2");
    require(!sigmas.empty(), "--sigmas", std::string("''"), "give at least one value, e.g. 1");
    for (double g : gamma0s) require(g > 0 && std::isfinite(g), "--gamma0s", g, "values must be positive numbers");
    for (double s : sigmas) require(s > 0 && std::isfinite(s), "--sigmas", s, "values must be positive numbers");
    for (auto n : widths) require(n >= 2, "--widths", n, "widths must be integers ≥ 2");
    require(seeds >= 1 && seeds <= 1000, "--seeds", seeds, "use 1 to 1000");
  }
#else
  ;
#endif
};

/// One rule × γ0 × σ × width (width 0: the N = ∞ theory of a width-independent rule).
struct outlier_point {
  std::string param;
  double gamma0 = 1, sigma = 1;
  std::size_t width = 0;
  std::vector<std::size_t> steps;
  std::vector<std::vector<double>> predicted;  // [hidden weight][step]: predicted top (2σ: no outlier)
  std::vector<std::vector<double>> naive;      // [hidden weight][step]: naive BBP top
  std::vector<std::vector<double>> predicted_se;
  std::vector<std::optional<std::size_t>> escape;  // [hidden weight]
  std::vector<std::vector<std::vector<double>>> measured;  // [hidden weight][seed][step] (empty: theory only)
  std::string theory_record;
};

struct outliers_result {
  std::filesystem::path record;
  std::vector<outlier_point> points;
  std::string status = "completed", message;
  int signal = 0;
};

/// Whether a rule's effective theory depends on the width (γ0_eff or κ with a power of N).
SPECDYN_CORE_FN bool width_dependent(const std::string& param, std::size_t hidden_layers)
#if SPECDYN_CORE_BODIES
{
  const auto r = rule_from_name(param, hidden_layers);
  const auto at = [&](std::size_t n) { return map_rule(r, hidden_layers, 1.0, n); };
  const auto a = at(256), b = at(1024);
  return a.gamma0_eff != b.gamma0_eff || a.kappa != b.kappa;
}
#else
;
#endif

/// The declaration's two operations that `specdyn outliers` needs: its theory at one configuration,
/// and one trained network's top singular value of each hidden weight (W1 … W_{L−1}) at `steps`.
struct outlier_ops {
  std::size_t hidden_layers = 0;  // matrix weights below the readout (a chain's L)
  std::function<double(const run_config&)> memory;  // estimate_train_bytes of one network
  std::function<theory_result(const run_config&, const theory_options&)> theory;
  std::function<std::vector<std::vector<double>>(const run_config& c, const task_data& data, std::size_t width, std::size_t seed_index,
                                                 const std::vector<std::size_t>& steps)>
      measure;
};

/// The command itself, compiled once in the core library (core.hpp); run_outliers below binds a
/// declaration's operations.
SPECDYN_CORE_FN outliers_result run_outliers_with(const outlier_ops& ops, const run_config& cfg_in, const theory_options& th_in,
                                                  const outliers_options& oo)
#if SPECDYN_CORE_BODIES
{
  const std::size_t L = ops.hidden_layers;
  oo.validate();
  run_config cfg = cfg_in;
  cfg.validate();
  check_theory_config(cfg, true);
  for (const auto& p : oo.params) {
    const auto r = rule_from_name(p, L);
    if (!width_dependent(p, L)) map_rule(r, L, 1.0, std::nullopt);  // refuses rules without a limit
    else if (oo.widths.empty()) throw usage_error("--params = " + p + ": its theory depends on the width; give --widths");
  }
  for (auto n : oo.widths) {
    run_config c = cfg;
    c.width = n;
    io::require_memory(ops.memory ? ops.memory(c) : estimate_train_bytes(c, L), "--widths contains " + std::to_string(n), "lower the largest width");
  }
  require(cfg.steps >= 1, "--steps", cfg.steps, "the outlier scan needs at least one training step");
  theory_options th = th_in;
  if (th.spectra_every == 0) th.spectra_every = 10;
  const auto steps = prediction_steps(cfg.steps, th.spectra_every);
  const std::filesystem::path dir = std::filesystem::path(cfg.out).extension() == ".json" ? std::filesystem::path(cfg.out).parent_path()
                                                                                           : std::filesystem::path(cfg.out);
  outliers_result res;
  res.record = dir / (cfg.model + "_outliers_" + cfg.task + "_P" + std::to_string(cfg.samples) + "_T" + std::to_string(cfg.steps) + "_lr" +
                      io::json(cfg.lr).dump() + "_s" + std::to_string(cfg.seed) + ".json");
  const std::size_t total = oo.params.size() * oo.gamma0s.size() * oo.sigmas.size() * std::max<std::size_t>(1, oo.widths.size());
  io::progress bar("outliers " + cfg.model, total, cfg.quiet);
  std::size_t done = 0;
  {
    io::interrupt_guard guard;
    try {
      for (const auto& param : oo.params)
        for (double g : oo.gamma0s)
          for (double sig : oo.sigmas) {
            run_config c = cfg;
            c.param = param;
            c.gamma0 = g;
            c.sigma = sig;
            c.out = (dir / "outliers_theory").string();
            c.quiet = true;
            const bool per_width = width_dependent(param, L);
            const std::vector<std::size_t> theory_widths = per_width ? oo.widths : std::vector<std::size_t>{0};
            for (std::size_t tw : theory_widths) {
              theory_options t = th;
              t.quiet = true;
              if (tw) t.width = tw;
              const theory_result theory = ops.theory(c, t);
              if (theory.status != "completed") throw solver_error("theory for " + param + ", γ0 = " + std::to_string(g) + ": " + theory.message);
              // the finite widths this theory is compared with
              const std::vector<std::size_t> ws = per_width ? std::vector<std::size_t>{tw} : oo.widths;
              for (std::size_t wi = 0; wi < std::max<std::size_t>(1, ws.size()); ++wi) {
                outlier_point pt;
                pt.param = param;
                pt.gamma0 = g;
                pt.sigma = sig;
                pt.width = ws.empty() ? 0 : ws[wi];
                pt.steps = steps;
                pt.theory_record = theory.record.filename().string();
                for (std::size_t i = 1; i < L; ++i) {
                  std::vector<double> top, nv, se;
                  std::optional<std::size_t> esc;
                  const auto& lp = theory.sol.spectra[i];
                  for (std::size_t k = 0; k < lp.hidden.size(); ++k) {
                    const auto& h = lp.hidden[k];
                    top.push_back(h.outliers.empty() ? 2 * sig : h.outliers.front());
                    nv.push_back(h.naive.empty() ? 2 * sig : h.naive.front());
                    se.push_back(k < lp.top_outlier_se.size() ? lp.top_outlier_se[k] : stats::nan);
                    if (!esc && !h.outliers.empty()) esc = steps[k];
                  }
                  pt.predicted.push_back(top);
                  pt.naive.push_back(nv);
                  pt.predicted_se.push_back(se);
                  pt.escape.push_back(esc);
                }
                pt.measured.assign(L - 1, {});
                if (!ws.empty()) {
                  const std::size_t n = ws[wi];
                  const auto data = make_data(c);
                  for (std::size_t k = 0; k < oo.seeds; ++k) {
                    const auto tops = ops.measure(c, data, n, k, steps);
                    for (std::size_t i = 0; i + 1 < L; ++i) pt.measured[i].push_back(tops[i]);
                  }
                }
                res.points.push_back(std::move(pt));
                bar.update(++done, 0.0);
              }
            }
          }
    } catch (const interrupted_error& e) {
      res.status = "interrupted";
      res.message = std::string(e.what()) + "; kept " + std::to_string(res.points.size()) + " finished point(s)";
      res.signal = e.signal;
    } catch (const usage_error&) {
      throw;
    } catch (const std::exception& e) {
      res.status = "failed";
      res.message = e.what();
    }
  }
  bar.finish();

  if (oo.print && !res.points.empty()) {
    std::printf("\n%s, T = %zu, η = %g, P = %zu: top singular value of each hidden weight at T (bulk edge 2σ)\n", cfg.model.c_str(),
                cfg.steps, cfg.lr, cfg.samples);
    std::printf("%-6s %7s %6s %7s  %-6s %-9s %-9s %-9s %-18s %s\n", "rule", "γ0", "σ", "N", "layer", "escape", "theory", "naive", "measured (mean±se)", "error");
    for (const auto& pt : res.points)
      for (std::size_t i = 0; i + 1 < L; ++i) {
        char esc[16], meas[40], err[16];
        std::snprintf(esc, sizeof esc, "%s", pt.escape[i] ? std::to_string(*pt.escape[i]).c_str() : "never");
        std::string w = pt.width ? std::to_string(pt.width) : "∞";
        if (!pt.measured[i].empty()) {
          std::vector<double> last;
          for (const auto& s : pt.measured[i]) last.push_back(s.back());
          const auto [m, se] = stats::mean_se(last);
          std::snprintf(meas, sizeof meas, std::isfinite(se) ? "%.4f ± %.4f" : "%.4f", m, se);
          std::snprintf(err, sizeof err, "%+.2f%%", 100 * (m - pt.predicted[i].back()) / pt.predicted[i].back());
        } else {
          std::snprintf(meas, sizeof meas, "-");
          std::snprintf(err, sizeof err, "-");
        }
        std::printf("%-6s %7.3g %6.3g %7s  W%-5zu %-9s %-9.4f %-9.4f %-18s %s\n", pt.param.c_str(), pt.gamma0, pt.sigma, w.c_str(), i + 1, esc,
                    pt.predicted[i].back(), pt.naive[i].back(), meas, err);
      }
  }

  io::record rec(res.record);
  io::json config = cfg.to_json();
  config["theory"] = th.to_json();
  config["params"] = oo.params;
  config["gamma0s"] = oo.gamma0s;
  config["sigmas"] = oo.sigmas;
  config["widths"] = oo.widths;
  config["seeds"] = oo.seeds;
  auto& j = rec.begin("outliers", config);
  j["status"] = res.status;
  j["message"] = res.message;
  j["steps"] = steps;
  j["weight_seeds"] = "seed + 1000 + k, k = 0..seeds−1";
  j["points"] = io::json::array();
  for (const auto& pt : res.points) {
    io::json e = {{"param", pt.param}, {"gamma0", pt.gamma0}, {"sigma", pt.sigma}, {"width", pt.width ? io::json(pt.width) : io::json("infinite")},
                  {"theory_record", pt.theory_record}};
    for (std::size_t i = 0; i + 1 < L; ++i) {
      io::json meas = io::json::array();
      for (const auto& s : pt.measured[i]) meas.push_back(io::numbers(s));
      e["layers"]["W" + std::to_string(i + 1)] = {{"predicted_top", io::numbers(pt.predicted[i])}, {"naive_bbp_top", io::numbers(pt.naive[i])},
                                                  {"predicted_stderr", io::numbers(pt.predicted_se[i])},
                                                  {"escape_step", pt.escape[i] ? io::json(*pt.escape[i]) : io::json(nullptr)},
                                                  {"measured_top", meas}};
    }
    j["points"].push_back(e);
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  rec.write();
  return res;
}
#else
;
#endif

/// `specdyn outliers`: predicted (two-level theory) against measured top singular values of each
/// hidden weight, over rules × γ0 × σ × widths × seeds; one record.
template <class Decl>
outliers_result run_outliers(Decl decl, const run_config& cfg_in, const theory_options& th, const outliers_options& oo) {
  static_assert(Decl::hidden_layers >= 2, "specdyn: outliers needs a network with at least two dense layers (a hidden N×N weight)");
  cfg_in.validate();
  const run_config cfg = with_depth<Decl>(cfg_in);
  // the matrix weights below the readout; every one after the input weight must be N×N (outliers derived)
  std::size_t L = Decl::hidden_layers;
  if constexpr (!Decl::is_chain) {
    L = 0;
    for (const auto& p : ad::program<Decl>::info({cfg.dim, 64, cfg.outputs, std::max<std::size_t>(cfg.depth, 1)})) {
      if (!p.is_matrix() || p.kind == ad::param_kind::readout) continue;
      if (p.kind == ad::param_kind::hidden && (p.fan_in_ratio != 1.0 || p.fan_out_ratio != 1.0))
        throw usage_error("--model = " + cfg.model + ": its weight " + p.name +
                          " is not N×N (a width multiplier), and the two-level outlier theory is derived for N×N weights; use `specdyn compare`");
      ++L;
    }
  }
  outlier_ops ops;
  ops.hidden_layers = L;
  if constexpr (!Decl::is_chain) ops.memory = [](const run_config& c) { return estimate_train_bytes_of<Decl>(c); };
  ops.theory = [decl](const run_config& c, const theory_options& t) { return run_theory(decl, c, t); };
  ops.measure = [decl, L](const run_config& c, const task_data& data, std::size_t n, std::size_t k, const std::vector<std::size_t>& steps) {
    const ad::loss_kind kind = c.loss == "mse" ? ad::loss_kind::mse : ad::loss_kind::cross_entropy;
    run_config at = c;
    at.width = n;
    auto net = bind(decl, c.rule(Decl::hidden_layers), at.model_shape(), c.model_hyper(c.seed + 1000 + k));
    trainer<Decl> tr(net, data, {.steps = c.steps, .batch = c.batch, .centre = true, .loss = kind, .seed = c.seed});
    std::vector<std::size_t> matrices;  // parameter index of matrix weight W<i>
    for (std::size_t q = 0; q < net.parameter_count(); ++q)
      if (net.parameter_info()[q].is_matrix()) matrices.push_back(q);
    std::vector<std::vector<double>> tops(L - 1);
    tr.run([&](std::size_t t, trainer<Decl>& self) {
      io::throw_if_interrupted("at " + c.param + ", γ0 = " + io::json(c.gamma0).dump() + ", N = " + std::to_string(n) + ", step " + std::to_string(t));
      if (std::find(steps.begin(), steps.end(), t) == steps.end()) return;
      for (std::size_t i = 1; i < L; ++i) {
        const matrix m = self.net().scale(matrices[i]) * self.net().params().w[matrices[i]];
        tops[i - 1].push_back(spectra::top_singular(m, 1).values.front());
      }
    });
    return tops;
  };
  return run_outliers_with(ops, cfg, th, oo);
}

}  // namespace specdyn::run
