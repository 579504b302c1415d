// The coordinate check (the mup package's, Yang et al. 2022 §D): train the same declaration at
// several widths for a few steps and record, per field of the forward pass (each dense layer's
// pre-activations, layer-norm outputs, residual streams, the logits), the RMS of its coordinates and
// of their change from initialisation at every step; fit each against N (RMS ∝ N^k, with a 95 %
// interval) and judge the rule's promise: under a feature-learning rule (μP) nothing grows and the
// hidden fields move by O(1) (|k| ≤ tolerance), under a kernel rule nothing grows; a rule whose
// fields grow fails with the field and its exponent named. `specdyn coord-check` runs it.
//   specdyn::run::coord_options co;  co.widths = {128, 256, 512, 1024};
//   auto r = specdyn::run::run_coord_check(specdyn::models::mlp3_tanh, cfg, co);   // r.pass, r.record
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "specdyn/io/record.hpp"
#include "specdyn/io/resources.hpp"
#include "specdyn/io/signals.hpp"
#include "specdyn/run/experiment.hpp"
#include "specdyn/stats.hpp"

namespace specdyn::run {

struct coord_options {
  std::vector<std::size_t> widths{128, 256, 512, 1024, 2048, 4096};
  std::size_t seeds = 3;       // RMS averaged over this many initialisations per width
  double tolerance = 0.2;      // |k| allowed for a width-independent coordinate
  void validate() const {
    require(widths.size() >= 3, "--widths", widths.size(), "give at least three widths to fit N^k, e.g. 128,512,2048");
    for (auto n : widths) require(n >= 8, "--widths", n, "widths must be at least 8");
    for (std::size_t i = 1; i < widths.size(); ++i)
      require(widths[i] > widths[i - 1], "--widths", widths[i], "list the widths in increasing order without repeats");
    require(seeds >= 1 && seeds <= 100, "--seeds", seeds, "use 1 to 100");
    require(tolerance > 0 && tolerance < 2, "--tolerance", tolerance, "use a slope tolerance between 0 and 2, e.g. 0.2");
  }
};

/// One field of the forward pass, its RMS and RMS change per width and step, and the fits.
struct coord_field {
  std::string name;
  bool hidden = true;                            // a width-N field (the logits are not)
  std::vector<std::vector<double>> rms, change;  // [width][step]
  std::vector<stats::power_fit> rms_fit, change_fit;  // [step]
};

struct coord_result {
  std::filesystem::path record;
  std::string status = "completed", message;
  std::vector<coord_field> fields;
  bool pass = false;
  std::string verdict;  // one sentence
  std::size_t diverged_width = 0, diverged_step = 0;  // the first width whose loss became non-finite (0: none)
};

namespace detail {
/// Field names of the forward pass as the coord check reports them: h(W1), layer norm 2, stream 3, logits.
template <class Decl>
std::vector<std::pair<std::string, bool>> coord_field_names(const model<Decl>& net, const ad::workspace<Decl>& ws) {
  std::vector<std::pair<std::string, bool>> names;
  std::size_t norms = 0, streams = 0;
  ad::program<Decl>::visit(ws, [&](const char* what, std::size_t param, const matrix&) {
    const std::string w(what);
    if (w == "pre-activations") names.push_back({"h(" + net.parameter_name(param) + ")", true});
    else if (w == "layer norm") names.push_back({"layer norm " + std::to_string(++norms), true});
    else if (w == "residual stream") names.push_back({"stream " + std::to_string(++streams), true});
    else if (w == "outputs") names.push_back({"logits", false});
    else names.push_back({"", false});  // post-activations: φ of a pre-activation already reported
  });
  return names;
}
inline double rms_of(const matrix& m) {
  double s = 0;
  for (double v : m) s += v * v;
  return std::sqrt(s / double(std::max<std::size_t>(m.size(), 1)));
}
inline double rms_diff(const matrix& a, const matrix& b) {
  double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) s += (a.data()[k] - b.data()[k]) * (a.data()[k] - b.data()[k]);
  return std::sqrt(s / double(std::max<std::size_t>(a.size(), 1)));
}
}  // namespace detail

/// The verdict from the fits: what the rule promises, and the first coordinate that breaks it.
SPECDYN_CORE_FN void judge_coord_check(coord_result& r, dsl::verdict promise, double tol)
#if SPECDYN_CORE_BODIES
{
  double worst = -INFINITY;
  std::string worst_name;
  std::size_t worst_step = 0;
  bool frozen = false;
  std::string frozen_name;
  double frozen_k = 0;
  for (const auto& f : r.fields)
    for (std::size_t t = 1; t < f.change_fit.size(); ++t) {
      for (const auto* fit : {&f.change_fit[t], &f.rms_fit[t]})
        if (std::isfinite(fit->slope) && fit->slope > worst) {
          worst = fit->slope;
          worst_name = (fit == &f.change_fit[t] ? "the change of " : "") + f.name;
          worst_step = t;
        }
      if (f.hidden && std::isfinite(f.change_fit[t].slope) && f.change_fit[t].slope < -tol && !frozen) {
        frozen = true;
        frozen_name = f.name;
        frozen_k = f.change_fit[t].slope;
      }
    }
  char buf[400];
  if (r.diverged_width > 0) {
    r.pass = false;
    std::snprintf(buf, sizeof buf, "fail: the network at N = %zu diverges at step %zu (%s)%s", r.diverged_width, r.diverged_step,
                  r.message.c_str(), worst > tol ? ("; before that, " + worst_name + " grows like N^" + std::to_string(worst).substr(0, 4)).c_str() : "");
  } else if (worst > tol) {
    r.pass = false;
    std::snprintf(buf, sizeof buf, "fail: %s grows like N^%.2f at step %zu (tolerance %.2f): this parameterization blows up with width",
                  worst_name.c_str(), worst, worst_step, tol);
  } else if (promise == dsl::verdict::feature_learning && frozen) {
    r.pass = false;
    std::snprintf(buf, sizeof buf, "fail: the change of %s shrinks like N^%.2f, but the rule promises feature learning (|k| ≤ %.2f)",
                  frozen_name.c_str(), frozen_k, tol);
  } else {
    r.pass = true;
    std::snprintf(buf, sizeof buf, "pass: no coordinate grows with N (largest exponent %.2f ≤ %.2f)%s", worst, tol,
                  promise == dsl::verdict::feature_learning ? ", and every hidden field moves by O(1)" : "");
  }
  r.verdict = buf;
}
#else
;
#endif

template <class Decl>
coord_result run_coord_check(Decl, const run_config& cfg_in, const coord_options& co) {
  constexpr std::size_t L = Decl::hidden_layers;
  co.validate();
  cfg_in.validate();
  run_config cfg = with_depth<Decl>(cfg_in);
  require(cfg.steps >= 1 && cfg.steps <= 1000, "--steps", cfg.steps, "the coord check takes 1 to 1000 steps (5 is usual)");
  for (auto n : co.widths) {
    run_config c = cfg;
    c.width = n;
    io::require_memory(estimate_train_bytes_of<Decl>(c) * (entrywise(cfg.optim().kind) ? 1.5 : 1.0),
                       "--widths contains " + std::to_string(n), "lower the largest width");
  }
  const rule_info rule = cfg.rule(L);
  coord_result res;
  std::filesystem::path path(cfg.out);
  if (path.extension() != ".json") path = path / (cfg.run_name("coord") + ".json");
  std::error_code ec;
  if (!path.parent_path().empty()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) throw usage_error("--out = " + cfg.out + ": cannot create directory (" + ec.message() + ")");
  res.record = path;
  const std::size_t T = cfg.steps, W = co.widths.size();
  const auto data = make_data(cfg);
  io::interrupt_guard guard;
  io::progress bar("coord check " + cfg.model + " " + cfg.param + " " + cfg.optimizer, W * co.seeds, cfg.quiet);
  try {
    for (std::size_t wi = 0; wi < W; ++wi) {
      run_config c = cfg;
      c.width = co.widths[wi];
      for (std::size_t s = 0; s < co.seeds; ++s) {
        auto net = bind(Decl{}, rule, c.model_shape(), c.model_hyper(c.seed + 1000 * s));
        // only a non-finite loss stops a width: a coordinate that grows with N is what is measured
        trainer<Decl> tr(net, data, {.steps = T, .batch = c.batch, .centre = c.centre, .loss = c.loss == "xent" ? ad::loss_kind::cross_entropy : ad::loss_kind::mse,
                                     .seed = c.seed + s, .divergence_factor = 0, .optimizer = c.optim()});
        std::vector<matrix> init;
        std::vector<std::pair<std::string, bool>> names;
        std::size_t reached = 0;
        try {
        tr.run([&](std::size_t t, trainer<Decl>& trr) {
          reached = t;
          io::throw_if_interrupted("at width " + std::to_string(c.width) + ", step " + std::to_string(t));
          trr.evaluate_train();
          const auto& ws = trr.train_fields();
          if (t == 0) {
            names = detail::coord_field_names(net, ws);
            if (res.fields.empty())
              for (const auto& [n, hidden] : names)
                if (!n.empty()) {
                  coord_field f;
                  f.name = n;
                  f.hidden = hidden;
                  f.rms.assign(W, std::vector<double>(T + 1, 0.0));
                  f.change.assign(W, std::vector<double>(T + 1, 0.0));
                  res.fields.push_back(std::move(f));
                }
          }
          std::size_t k = 0, fi = 0;
          ad::program<Decl>::visit(ws, [&](const char*, std::size_t, const matrix& m) {
            const bool keep = !names[k++].first.empty();
            if (!keep) return;
            matrix out = m;
            if (t == 0) init.push_back(out);
            auto& f = res.fields[fi];
            f.rms[wi][t] += detail::rms_of(out) / double(co.seeds);
            f.change[wi][t] += detail::rms_diff(out, init[fi]) / double(co.seeds);
            ++fi;
          });
        });
        } catch (const divergence_error& e) {  // this width blew up: its later steps are +∞, the fits leave them out
          if (res.diverged_width == 0) {
            res.diverged_width = c.width;
            res.diverged_step = reached + 1;
            res.message = e.what();
          }
          for (auto& f : res.fields)
            for (std::size_t t = reached + 1; t <= T; ++t) f.rms[wi][t] = f.change[wi][t] = INFINITY;
        }
        bar.update(wi * co.seeds + s + 1, tr.last_train_loss());
      }
    }
  } catch (const interrupted_error& e) {
    res.status = "interrupted";
    res.message = e.what();
  }
  bar.finish();
  std::vector<double> ns(co.widths.begin(), co.widths.end());
  for (auto& f : res.fields) {
    f.rms_fit.resize(T + 1);
    f.change_fit.resize(T + 1);
    for (std::size_t t = 0; t <= T; ++t) {
      std::vector<double> a, b;
      for (std::size_t wi = 0; wi < W; ++wi) {
        a.push_back(f.rms[wi][t]);
        b.push_back(f.change[wi][t]);
      }
      f.rms_fit[t] = stats::power_law_fit(ns, a);
      if (t > 0) f.change_fit[t] = stats::power_law_fit(ns, b);
    }
  }
  if (res.status == "completed") judge_coord_check(res, rule.verdict, co.tolerance);
  else res.verdict = res.status + ": " + res.message;

  io::record rec(path);
  io::json config = cfg.to_json();
  config["widths"] = co.widths;
  config["seeds"] = co.seeds;
  config["tolerance"] = co.tolerance;
  config["rule"] = rule_json(rule);
  auto& j = rec.begin("coord_check", config);
  j["status"] = res.status;
  if (!res.message.empty()) j["message"] = res.message;
  j["verdict"] = res.verdict;
  if (res.diverged_width) j["diverged"] = {{"width", res.diverged_width}, {"step", res.diverged_step}};
  j["pass"] = res.pass;
  j["widths"] = co.widths;
  io::json fields = io::json::array();
  for (const auto& f : res.fields) {
    io::json fj = {{"name", f.name}, {"hidden", f.hidden}};
    io::json rms = io::json::array(), ch = io::json::array(), kr = io::json::array(), kc = io::json::array();
    for (std::size_t wi = 0; wi < W; ++wi) {
      rms.push_back(io::numbers(f.rms[wi]));
      ch.push_back(io::numbers(f.change[wi]));
    }
    for (std::size_t t = 0; t <= T; ++t) {
      kr.push_back({{"k", io::number(f.rms_fit[t].slope)}, {"ci95", {io::number(f.rms_fit[t].ci_low), io::number(f.rms_fit[t].ci_high)}}});
      kc.push_back({{"k", io::number(f.change_fit[t].slope)}, {"ci95", {io::number(f.change_fit[t].ci_low), io::number(f.change_fit[t].ci_high)}}});
    }
    fj["rms"] = rms;
    fj["change"] = ch;
    fj["rms_exponent"] = kr;
    fj["change_exponent"] = kc;
    fields.push_back(fj);
  }
  j["fields"] = fields;
  rec.write();
  return res;
}

}  // namespace specdyn::run
