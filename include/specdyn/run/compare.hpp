// Theory vs finite width: solve the theory once, train the same network on the same data (same
// loss, same batch sequence) at each width for several weight seeds, and measure per width the
// relative L2 error of the loss curve, the cosine alignment Tr(AB)/(|A||B|) of Φ^ℓ and G^ℓ on
// the training points at the final step, the relative error of the NTK's top eigenvalue and, for
// every hidden weight, the relative error of its top singular value at the last step against the
// two-level prediction (the top outlier, or the bulk edge 2σ where none is predicted). Each error is
// fitted as error ∝ N^k with a confidence interval; the theory's own Monte Carlo error is the floor
// below which a finite width cannot be resolved. Finite-width weight seeds are seed + 1000 + k,
// k = 0..seeds−1 (recorded as "weight_seeds"); the data use the run's own seed.
//   auto res = specdyn::run::run_compare(models::mlp3_tanh, cfg, th, {.widths = {256, 512, 1024}, .seeds = 3});
#pragma once

#include "specdyn/core.hpp"

#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>

#include "specdyn/io/npy.hpp"
#include "specdyn/run/mpi.hpp"
#include "specdyn/run/theory.hpp"
#include "specdyn/spectra/ntk.hpp"
#include "specdyn/stats.hpp"

namespace specdyn::run {
using namespace specdyn::dmft;

struct compare_options {
  std::vector<std::size_t> widths{256, 512, 1024, 2048};
  std::size_t seeds = 3;
  bool print = true;
};

struct width_stats {
  std::size_t width = 0;
  std::vector<double> loss_error, ntk_error;           // per seed
  std::vector<std::vector<double>> phi_cos, g_cos;     // [layer][seed]
  std::vector<std::vector<double>> loss_curves;        // [seed][t]
  std::vector<std::vector<double>> outlier_error;      // [hidden weight][seed]: |s_top − predicted| / predicted at T
  std::vector<std::vector<std::vector<double>>> top_singular;  // [hidden weight][seed][prediction step]
};

struct fit_summary {
  stats::power_fit fit;
  std::string warning;  // fewer than 3 widths or seeds, or errors at the Monte Carlo floor
};

struct compare_result {
  std::filesystem::path record, theory_record;
  std::vector<width_stats> widths;
  fit_summary loss_fit, ntk_fit;
  std::vector<fit_summary> outlier_fits;  // per hidden weight
  double theory_mc_error = 0;             // relative L2 of the theory loss curve's standard error (NaN: exact)
  std::vector<double> outlier_mc_error;   // per hidden weight: relative standard error of the predicted top outlier at T
  std::vector<std::size_t> prediction_steps;
  std::size_t points_run = 0, points_skipped = 0;  // finite-width points, over all ranks
  std::string status = "completed", message;
  int signal = 0;
  bool summary_rank = true;  // false on MPI ranks other than 0: they write no record
};

// Each finite-width point (width, weight seed) keeps its own record in <compare record>_points/:
// the loss curve, the top singular values at the prediction steps, the NTK's top eigenvalue and the
// kernels Φ^ℓ, G^ℓ at the last step. A re-run skips points whose record is complete and describes
// the same run; the compare record is assembled from these files alone.
SPECDYN_CORE_FN std::filesystem::path compare_points_dir(const std::filesystem::path& record)
#if SPECDYN_CORE_BODIES
{
  return record.parent_path() / (record.stem().string() + "_points");
}
#else
;
#endif
SPECDYN_CORE_FN std::filesystem::path compare_point_path(const std::filesystem::path& dir, std::size_t width, std::uint64_t weight_seed)
#if SPECDYN_CORE_BODIES
{
  return dir / ("N" + std::to_string(width) + "_w" + std::to_string(weight_seed) + ".json");
}
#else
;
#endif
/// What a point's numbers depend on: the run (less where it is written) and the prediction steps.
SPECDYN_CORE_FN io::json point_config(const run_config& cfg, const theory_options& th)
#if SPECDYN_CORE_BODIES
{
  io::json c = cfg.to_json();
  for (const char* k : {"out", "command_line", "quiet", "force", "width"}) c.erase(k);
  c["prediction_every"] = th.spectra_every;
  return c;
}
#else
;
#endif
SPECDYN_CORE_FN io::json read_point_json(const std::filesystem::path& file)
#if SPECDYN_CORE_BODIES
{
  std::ifstream in(file);
  return in ? io::json::parse(in, nullptr, false) : io::json(io::json::value_t::discarded);
}
#else
;
#endif
SPECDYN_CORE_FN std::string compare_point_status(const std::filesystem::path& file)
#if SPECDYN_CORE_BODIES
{
  const auto j = read_point_json(file);
  return j.is_discarded() ? "missing" : j.value("status", "torn");
}
#else
;
#endif
SPECDYN_CORE_FN std::string compare_point_message(const std::filesystem::path& file)
#if SPECDYN_CORE_BODIES
{
  const auto j = read_point_json(file);
  return j.is_discarded() ? "" : j.value("message", "");
}
#else
;
#endif
/// Complete: status completed, the same run, and every side file present.
SPECDYN_CORE_FN bool compare_point_complete(const std::filesystem::path& file, const io::json& config)
#if SPECDYN_CORE_BODIES
{
  const auto j = read_point_json(file);
  if (j.is_discarded() || j.value("status", "") != "completed" || !j.contains("config")) return false;
  io::json c = j["config"];
  c.erase("width");
  c.erase("weight_seed");
  if (c != config) return false;
  for (const char* key : {"phi", "g"}) {
    if (!j.contains(key)) return false;
    for (const auto& [h, v] : j[key].items())
      if (v.is_object() && v.contains("npy") && !std::filesystem::exists(file.parent_path() / v["npy"].get<std::string>())) return false;
  }
  return true;
}
#else
;
#endif
/// A square matrix stored by io::record (inline nested lists or a side .npy).
SPECDYN_CORE_FN matrix compare_point_matrix(const io::json& v, const std::filesystem::path& file)
#if SPECDYN_CORE_BODIES
{
  if (v.is_object() && v.contains("npy")) {
    const auto a = io::load_npy(file.parent_path() / v["npy"].get<std::string>());
    matrix m = xt::zeros<double>({a.shape.at(0), a.shape.at(1)});
    std::copy(a.data.begin(), a.data.end(), m.begin());
    return m;
  }
  const std::size_t r = v.size(), c = r ? v[0].size() : 0;
  matrix m = xt::zeros<double>({r, c});
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t k = 0; k < c; ++k) m(i, k) = v[i][k].is_number() ? v[i][k].get<double>() : stats::nan;
  return m;
}
#else
;
#endif

inline double mean(const std::vector<double>& v) { return stats::mean_se(v).first; }
SPECDYN_CORE_FN double stdev(const std::vector<double>& v)
#if SPECDYN_CORE_BODIES
{
  const auto [m, se] = stats::mean_se(v);
  return std::isfinite(se) ? se * std::sqrt(double(v.size())) : stats::nan;
}
#else
;
#endif
/// Least-squares slope of log y against log x (NaN with fewer than two usable points).
inline double loglog_slope(const std::vector<double>& x, const std::vector<double>& y) { return stats::power_law_fit(x, y).slope; }
/// Tr(AB)/(|A||B|) for symmetric A, B.
SPECDYN_CORE_FN double cosine(const matrix& a, const matrix& b)
#if SPECDYN_CORE_BODIES
{
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += a.data()[i] * b.data()[i];
    aa += a.data()[i] * a.data()[i];
    bb += b.data()[i] * b.data()[i];
  }
  return ab / std::sqrt(aa * bb);
}
#else
;
#endif
inline matrix leading_block(const matrix& m, std::size_t n) { return xt::view(m, xt::range(0, n), xt::range(0, n)); }

/// Power-law fit of the per-width mean errors, with warnings a reader needs: too few widths or
/// seeds for an interval, and widths whose error is within twice the theory's Monte Carlo floor
/// (left out of the fit: there the finite-size error is not resolved).
SPECDYN_CORE_FN fit_summary fit_errors(const std::vector<std::size_t>& widths, const std::vector<double>& errors, std::size_t seeds,
                                       double floor)
#if SPECDYN_CORE_BODIES
{
  std::vector<double> x, y;
  std::size_t at_floor = 0;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    if (std::isfinite(floor) && errors[i] < 2 * floor) { ++at_floor; continue; }
    x.push_back(double(widths[i]));
    y.push_back(errors[i]);
  }
  fit_summary s{stats::power_law_fit(x, y), ""};
  if (widths.size() < 3) s.warning += "fewer than 3 widths: no confidence interval; ";
  if (seeds < 3) s.warning += "fewer than 3 seeds per width: per-width errors are noisy; ";
  if (at_floor) s.warning += std::to_string(at_floor) + " width(s) within 2x the theory's Monte Carlo error, left out of the fit; ";
  if (s.fit.points < 2) s.warning += "fewer than 2 widths to fit; ";
  if (!s.warning.empty()) s.warning.resize(s.warning.size() - 2);
  return s;
}
#else
;
#endif

SPECDYN_CORE_FN std::string describe_fit(const fit_summary& f)
#if SPECDYN_CORE_BODIES
{
  char buf[160];
  if (!std::isfinite(f.fit.slope)) std::snprintf(buf, sizeof buf, "k = n/a");
  else if (std::isfinite(f.fit.ci_low))
    std::snprintf(buf, sizeof buf, "k = %.2f [95%% CI %.2f, %.2f]", f.fit.slope, f.fit.ci_low, f.fit.ci_high);
  else std::snprintf(buf, sizeof buf, "k = %.2f (no CI)", f.fit.slope);
  return std::string(buf) + (f.warning.empty() ? "" : " — " + f.warning);
}
#else
;
#endif
SPECDYN_CORE_FN io::json fit_json(const fit_summary& f)
#if SPECDYN_CORE_BODIES
{
  return {{"exponent", io::number(f.fit.slope)}, {"stderr", io::number(f.fit.slope_se)}, {"ci95", {io::number(f.fit.ci_low), io::number(f.fit.ci_high)}},
          {"widths_fitted", f.fit.points}, {"warning", f.warning}};
}
#else
;
#endif

/// The declaration's two operations that `specdyn compare` needs: its theory, and one finite-width
/// point — train at width n from weight seed ws, record the top singular value of each hidden weight
/// at `steps`, the final NTK's kernels and the loss curve into `rec` (a diverged run: status
/// "failed", the record written, solver_error thrown). Returns the final training loss.
struct compare_ops {
  std::size_t hidden_layers = 0;  // matrix weights below the readout (a chain's L)
  std::function<double(const run_config&)> memory;  // estimate_train_bytes of one point
  std::function<theory_result(const run_config&, const theory_options&)> theory;
  std::function<double(const run_config& cfg, const task_data& data, std::size_t n, std::uint64_t ws, const std::vector<std::size_t>& steps,
                       io::record& rec, io::json& j)>
      point;
};

/// The command itself, compiled once in the core library (core.hpp); run_compare below binds a
/// declaration's operations.
SPECDYN_CORE_FN compare_result run_compare_with(const compare_ops& ops, const run_config& cfg_in, const theory_options& th,
                                                const compare_options& co)
#if SPECDYN_CORE_BODIES
{
  const std::size_t L = ops.hidden_layers;
  require(!co.widths.empty(), "--widths", std::string("''"), "give at least one width, e.g. 256,512,1024");
  for (auto n : co.widths) require(n >= 1, "--widths", n, "widths must be positive integers");
  require(co.seeds >= 1 && co.seeds <= 100000, "--seeds", co.seeds, "use 1 to 100000");
  require(cfg_in.steps >= 1, "--steps", cfg_in.steps, "compare needs at least one training step");
  run_config cfg = cfg_in;
  cfg.validate();
  for (auto n : co.widths) {
    run_config c = cfg;
    c.width = n;
    io::require_memory(ops.memory ? ops.memory(c) : estimate_train_bytes(c, L), "--widths contains " + std::to_string(n), "lower the largest width");
  }
  compare_result res;
  const std::filesystem::path path =
      std::filesystem::path(cfg.out).extension() == ".json" ? std::filesystem::path(cfg.out).parent_path() / (std::filesystem::path(cfg.out).stem().string() + "_compare.json")
                                                            : cfg.record_path("compare");
  run_config th_cfg = cfg;
  if (std::filesystem::path(cfg.out).extension() == ".json") th_cfg.out = path.parent_path().string();
  // everything that can refuse the input runs on every rank before any rank starts work
  th.validate();
  check_theory_config(cfg, false);
  std::optional<task_data> data = make_data(cfg);
  const std::size_t p = data->samples(), T = cfg.steps;
  data.reset();  // rebuilt below, after the theory (which builds its own), to keep one copy alive at a time
  res.prediction_steps = prediction_steps(T, th.spectra_every);
  theory_result theory;
  std::vector<std::uint64_t> weight_seeds;
  for (std::size_t k = 0; k < co.seeds; ++k) weight_seeds.push_back(cfg.seed + 1000 + k);
  const std::filesystem::path points_dir = compare_points_dir(path);
  const io::json pt_config = point_config(cfg, th);
  {
    std::error_code ec;
    std::filesystem::create_directories(points_dir, ec);
    if (ec) throw usage_error("--out = " + cfg.out + ": cannot create " + points_dir.string() + " (" + ec.message() + ")");
  }
  const std::size_t n_points = co.widths.size() * co.seeds;
  const bool summary = mpi::rank() == 0;
  std::size_t ran = 0, skipped = 0;
  int signal = 0;
  std::string failure;
  {
    io::interrupt_guard guard;
    io::progress bar("compare " + cfg.model, n_points, cfg.quiet || !summary);
    mpi::work_queue queue(n_points);
    // one finite-width point: train, measure, write its record (skipped when already complete)
    auto run_point = [&](std::size_t idx) {
      const std::size_t n = co.widths[idx / co.seeds];
      const std::uint64_t ws = weight_seeds[idx % co.seeds];
      const auto file = compare_point_path(points_dir, n, ws);
      if (compare_point_complete(file, pt_config)) {
        ++skipped;
        return;
      }
      ++ran;
      io::record rec(file);
      io::json config = pt_config;
      config["width"] = n;
      config["weight_seed"] = ws;
      auto& j = rec.begin("compare_point", config);
      const double last_loss = ops.point(cfg, *data, n, ws, res.prediction_steps, rec, j);
      rec.write();
      bar.update(summary ? queue.handed_out() : 0, last_loss);
    };
    try {
      if (summary) {  // rank 0 solves the theory while the other ranks start on the finite-width points
        theory = ops.theory(th_cfg, th);
        if (theory.status != "completed") queue.cancel();
      }
      if (theory.status == "completed" || !summary) {
        data = make_data(cfg);
        while (const auto idx = queue.next()) run_point(*idx);
      }
    } catch (const interrupted_error& e) {
      signal = e.signal;
      failure = e.what();
      queue.cancel();
    } catch (const usage_error&) {
      queue.cancel();
      queue.finish();
      throw;
    } catch (const std::exception& e) {
      failure = e.what();
      queue.cancel();
    }
    queue.finish();
    if (!signal && io::pending_interrupt()) signal = io::pending_interrupt();
    bar.finish();
  }
  ran = mpi::sum(ran);
  skipped = mpi::sum(skipped);
  signal = int(mpi::max(std::size_t(signal)));
  const bool any_failed = mpi::max(failure.empty() ? 0 : 1) > 0;
  res.points_run = ran;
  res.points_skipped = skipped;
  if (!summary) {
    res.summary_rank = false;
    res.status = signal ? "interrupted" : any_failed ? "failed" : "completed";
    res.message = failure;
    res.signal = signal;
    return res;
  }
  res.theory_record = theory.record;
  if (theory.status != "completed") {
    res.status = theory.status;
    res.message = "the theory did not complete: " + theory.message;
    res.signal = theory.signal;
    res.record = theory.record;
    return res;
  }
  // the theory's loss-curve Monte Carlo error and predicted top singular values (outlier or edge)
  const auto& th_sol = theory.sol.mean;
  {
    double num = 0, den = 0;
    for (std::size_t t = 0; t <= T; ++t) {
      num += theory.sol.train_loss_se[t] * theory.sol.train_loss_se[t];
      den += th_sol.train_loss[t] * th_sol.train_loss[t];
    }
    res.theory_mc_error = std::sqrt(num / den);
  }
  std::vector<std::vector<double>> predicted_top(L > 1 ? L - 1 : 0);
  // the prediction of hidden weight W<i> (none for a rectangular one: its outliers are not derived)
  auto prediction_of = [&](std::size_t i) -> const layer_prediction* {
    for (const auto& lp : theory.sol.spectra)
      if (lp.name == "W" + std::to_string(i)) return &lp;
    return nullptr;
  };
  for (std::size_t i = 1; i < L; ++i) {
    if (!prediction_of(i)) continue;
    const auto& lp = *prediction_of(i);
    for (std::size_t k = 0; k < lp.hidden.size(); ++k)
      predicted_top[i - 1].push_back(lp.hidden[k].outliers.empty() ? 2 * cfg.sigma : lp.hidden[k].outliers.front());
    if (predicted_top[i - 1].empty()) continue;
    const double se = lp.top_outlier_se.empty() ? stats::nan : lp.top_outlier_se.back();
    res.outlier_mc_error.push_back(se / predicted_top[i - 1].back());
  }
  // no predicted spectra (--spectra-every 0): compare the losses and kernels only
  if (std::any_of(predicted_top.begin(), predicted_top.end(), [](const auto& v) { return v.empty(); })) {
    predicted_top.clear();
    res.outlier_mc_error.clear();
  }
  // the errors of every width whose points all completed, read back from the point records (the
  // same numbers whichever rank computed them, and whether this run or an earlier one did)
  for (std::size_t wi = 0; wi < co.widths.size(); ++wi) {
    const std::size_t n = co.widths[wi];
    width_stats ws;
    ws.width = n;
    ws.phi_cos.assign(L, {});
    ws.g_cos.assign(L, {});
    ws.outlier_error.assign(predicted_top.size(), {});
    ws.top_singular.assign(predicted_top.size(), {});
    bool complete = true;
    for (std::size_t k = 0; k < co.seeds && complete; ++k) {
      const auto file = compare_point_path(points_dir, n, weight_seeds[k]);
      if (!compare_point_complete(file, pt_config)) {
        complete = false;
        if (failure.empty() && compare_point_status(file) == "failed") failure = compare_point_message(file);
        break;
      }
      std::ifstream in(file);
      const auto j = io::json::parse(in);
      const auto loss = j["train_loss"].get<std::vector<double>>();
      double num = 0, den = 0;
      for (std::size_t t = 0; t <= T; ++t) {
        num += (loss[t] - th_sol.train_loss[t]) * (loss[t] - th_sol.train_loss[t]);
        den += th_sol.train_loss[t] * th_sol.train_loss[t];
      }
      ws.loss_error.push_back(std::sqrt(num / den));
      ws.loss_curves.push_back(loss);
      for (std::size_t i = 0; i < predicted_top.size(); ++i) {
        const auto tops = j["top_singular"]["W" + std::to_string(i + 1)].get<std::vector<double>>();
        ws.outlier_error[i].push_back(std::abs(tops.back() - predicted_top[i].back()) / predicted_top[i].back());
        ws.top_singular[i].push_back(tops);
      }
      for (std::size_t l = 0; l < L; ++l) {
        const std::string h = "h" + std::to_string(l + 1);
        ws.phi_cos[l].push_back(cosine(compare_point_matrix(j["phi"][h], file), leading_block(th_sol.phi_tt[l][T], p)));
        ws.g_cos[l].push_back(cosine(compare_point_matrix(j["g"][h], file), leading_block(th_sol.g_tt[l][T], p)));
      }
      ws.ntk_error.push_back(std::abs(j["ntk_top"].get<double>() - th_sol.ntk_top[T]) / th_sol.ntk_top[T]);
    }
    if (complete) res.widths.push_back(std::move(ws));
    else break;  // widths are reported in order: the first incomplete one ends the table
  }
  if (signal) {
    res.status = "interrupted";
    res.signal = signal;
    res.message = (failure.empty() ? std::string("interrupted") : failure) + "; kept the " + std::to_string(res.widths.size()) +
                  " finished width(s), re-run to resume";
  } else if (any_failed || res.widths.size() < co.widths.size()) {
    res.status = "failed";
    res.message = failure.empty() ? "a finite-width point failed on another rank; see its record in " + points_dir.string() : failure;
  }
  std::vector<std::size_t> ns;
  std::vector<double> le, ne;
  for (const auto& w : res.widths) {
    ns.push_back(w.width);
    le.push_back(mean(w.loss_error));
    ne.push_back(mean(w.ntk_error));
  }
  res.loss_fit = fit_errors(ns, le, co.seeds, res.theory_mc_error);
  res.ntk_fit = fit_errors(ns, ne, co.seeds, stats::nan);
  for (std::size_t i = 0; i < predicted_top.size(); ++i) {
    std::vector<double> oe;
    for (const auto& w : res.widths) oe.push_back(mean(w.outlier_error[i]));
    res.outlier_fits.push_back(fit_errors(ns, oe, co.seeds, res.outlier_mc_error[i]));
  }

  if (co.print && !res.widths.empty()) {
    if (std::isfinite(res.theory_mc_error))
      std::printf("\n%s, %s, γ0 = %g, η = %g, P = %zu, T = %zu; theory: %s (%zu particles × %zu replicas)\n", cfg.model.c_str(),
                  cfg.param.c_str(), cfg.gamma0, cfg.lr, p, T, theory.sol.solver.c_str(), theory.sol.particles, theory.sol.replicas);
    else
      std::printf("\n%s, %s, γ0 = %g, η = %g, P = %zu, T = %zu; theory: %s\n", cfg.model.c_str(), cfg.param.c_str(), cfg.gamma0, cfg.lr, p, T,
                  theory.sol.solver.c_str());
    if (std::isfinite(res.theory_mc_error)) std::printf("theory Monte Carlo error (relative, loss curve): %.2e\n", res.theory_mc_error);
    else std::printf("theory: exact (no Monte Carlo error)\n");
    for (std::size_t i = 0; i < predicted_top.size(); ++i)
      std::printf("predicted top singular value of W%zu at T: %.4f%s\n", i + 1, predicted_top[i].back(),
                  prediction_of(i + 1)->hidden.back().outliers.empty() ? " (no outlier: bulk edge 2σ)" : " (outlier)");
    std::printf("%7s  %-19s", "N", "loss-curve error");
    for (std::size_t l = 0; l < L; ++l) std::printf("  1-cos Φ%-2zu  1-cos G%-2zu", l + 1, l + 1);
    std::printf("  NTK λmax err");
    for (std::size_t i = 0; i < predicted_top.size(); ++i) std::printf("  W%zu top err", i + 1);
    std::printf("\n");
    for (const auto& w : res.widths) {
      std::printf("%7zu  %.4f ± %.4f    ", w.width, mean(w.loss_error), stdev(w.loss_error));
      for (std::size_t l = 0; l < L; ++l) {
        std::vector<double> a, b;
        for (double x : w.phi_cos[l]) a.push_back(1 - x);
        for (double x : w.g_cos[l]) b.push_back(1 - x);
        std::printf("  %.2e   %.2e ", mean(a), mean(b));
      }
      std::printf("  %.4f      ", mean(w.ntk_error));
      for (std::size_t i = 0; i < predicted_top.size(); ++i) std::printf("  %.4f   ", mean(w.outlier_error[i]));
      std::printf("\n");
    }
    std::printf("fitted error ∝ N^k: loss curve %s\n", describe_fit(res.loss_fit).c_str());
    std::printf("                    NTK top eigenvalue %s\n", describe_fit(res.ntk_fit).c_str());
    for (std::size_t i = 0; i < predicted_top.size(); ++i)
      std::printf("                    W%zu top singular value %s\n", i + 1, describe_fit(res.outlier_fits[i]).c_str());
    std::printf("(finite-size theory: loss and kernels −0.5 or steeper, outliers −0.5, bulk edges −2/3)\n");
  }

  // record
  io::record rec(path);
  io::json config = cfg.to_json();
  config["theory"] = th.to_json();
  config["widths"] = co.widths;
  config["seeds"] = co.seeds;
  auto& j = rec.begin("compare", config);
  j["config"]["rule"] = rule_json(cfg.rule(L));
  j["config"]["weight_seeds"] = weight_seeds;
  j["status"] = res.status;
  j["message"] = res.message;
  j["theory_record"] = theory.record.filename().string();
  j["theory_train_loss"] = io::numbers(th_sol.train_loss);
  j["theory_mc_error"] = io::number(res.theory_mc_error);
  j["points_run"] = res.points_run;
  j["points_skipped"] = res.points_skipped;
  j["points_dir"] = points_dir.filename().string();
  j["loss_fit"] = fit_json(res.loss_fit);
  j["ntk_fit"] = fit_json(res.ntk_fit);
  j["prediction_steps"] = res.prediction_steps;
  j["outliers"] = io::json::object();
  for (std::size_t i = 0; i < predicted_top.size(); ++i) {
    const std::string name = "W" + std::to_string(i + 1);
    j["outliers"][name] = {{"predicted_top", io::numbers(predicted_top[i])},
                           {"predicted_mc_error", io::number(res.outlier_mc_error[i])},
                           {"fit", fit_json(res.outlier_fits[i])}};
  }
  j["widths"] = io::json::array();
  for (const auto& w : res.widths) {
    io::json e = {{"width", w.width}, {"loss_error", io::numbers(w.loss_error)}, {"ntk_top_error", io::numbers(w.ntk_error)}};
    for (std::size_t l = 0; l < L; ++l) {
      e["phi_cosine"]["h" + std::to_string(l + 1)] = io::numbers(w.phi_cos[l]);
      e["g_cosine"]["h" + std::to_string(l + 1)] = io::numbers(w.g_cos[l]);
    }
    for (std::size_t i = 0; i < predicted_top.size(); ++i) {
      const std::string name = "W" + std::to_string(i + 1);
      e["outlier_error"][name] = io::numbers(w.outlier_error[i]);
      io::json tops = io::json::array();
      for (const auto& v : w.top_singular[i]) tops.push_back(io::numbers(v));
      e["top_singular"][name] = tops;
    }
    io::json curves = io::json::array();
    for (const auto& c : w.loss_curves) curves.push_back(io::numbers(c));
    e["train_loss"] = curves;
    j["widths"].push_back(e);
  }
  rec.write();
  res.record = path;
  return res;
}
#else
;
#endif

/// `specdyn compare`: the theory against networks at several widths and seeds; one record per
/// point and a summary (run_compare_with).
template <class Decl>
compare_result run_compare(Decl decl, const run_config& cfg_in, const theory_options& th, const compare_options& co) {
  cfg_in.validate();
  const run_config cfg = with_depth<Decl>(cfg_in);
  // the matrix weights below the readout (chains: L = W0 … W(L−1)); their kernels and top singular values are compared
  std::size_t L = Decl::hidden_layers;
  if constexpr (!Decl::is_chain) {
    L = 0;
    for (const auto& p : ad::program<Decl>::info({cfg.dim, cfg.width, cfg.outputs, std::max<std::size_t>(cfg.depth, 1)}))
      L += p.is_matrix() && p.kind != ad::param_kind::readout;
  }
  // an optimizer whose theory is not derived for this declaration is refused before anything is written
  {
    const rule_info r = cfg.rule(Decl::hidden_layers);
    bool lazy = false;
    if constexpr (Decl::is_chain) lazy = map_rule(r, Decl::hidden_layers, cfg.gamma0, th.width).lazy;
    else lazy = make_block_setup<Decl>(cfg, r, th.width, cfg.samples).first.coefficients.lazy;
    check_theory_optimizer(cfg, lazy, r.table.entrywise_given, th);
  }
  compare_ops ops;
  ops.hidden_layers = L;
  if constexpr (!Decl::is_chain) ops.memory = [](const run_config& c) { return estimate_train_bytes_of<Decl>(c); };
  ops.theory = [decl](const run_config& c, const theory_options& t) { return run_theory(decl, c, t); };
  ops.point = [decl, L](const run_config& cfg, const task_data& data, std::size_t n, std::uint64_t ws, const std::vector<std::size_t>& steps,
                        io::record& rec, io::json& j) {
    const ad::loss_kind kind = cfg.loss == "mse" ? ad::loss_kind::mse : ad::loss_kind::cross_entropy;
    run_config at = cfg;
    at.width = n;
    auto net = bind(decl, cfg.rule(Decl::hidden_layers), at.model_shape(), cfg.model_hyper(ws));
    trainer<Decl> tr(net, data, {.steps = cfg.steps, .batch = cfg.batch, .centre = true, .loss = kind, .seed = cfg.seed, .optimizer = cfg.optim()});
    std::vector<std::size_t> matrices;  // parameter index of matrix weight W<i>
    for (std::size_t k = 0; k < net.parameter_count(); ++k)
      if (net.parameter_info()[k].is_matrix()) matrices.push_back(k);
    std::vector<std::vector<double>> tops(L > 1 ? L - 1 : 0);
    try {
      tr.run([&](std::size_t t, trainer<Decl>& self) {
        io::throw_if_interrupted("at N = " + std::to_string(n) + ", seed " + std::to_string(ws) + ", step " + std::to_string(t));
        if (std::find(steps.begin(), steps.end(), t) == steps.end()) return;
        for (std::size_t i = 1; i < L; ++i) {
          const std::size_t k = matrices[i];
          const matrix m = self.net().scale(k) * self.net().params().w[k];
          tops[i - 1].push_back(n > 64 ? spectra::top_singular(m, 1).values.front() : spectra::all_singular(m).values.front());
        }
      });
    } catch (const divergence_error& e) {
      j["status"] = "failed";
      j["message"] = "finite-width run at N = " + std::to_string(n) + " diverged (" + std::string(e.what()) + "); lower --lr";
      rec.write();
      throw solver_error(j["message"].get<std::string>());
    }
    j["status"] = "completed";
    j["train_loss"] = io::numbers(tr.train_loss());
    for (std::size_t i = 0; i < tops.size(); ++i) j["top_singular"]["W" + std::to_string(i + 1)] = io::numbers(tops[i]);
    tr.evaluate_train();
    const auto ntk = spectra::empirical_ntk(net, data.x, tr.train_fields());
    j["ntk_top"] = ntk.top_eigenvalue;
    for (std::size_t l = 0; l < L; ++l) {
      const std::string h = "h" + std::to_string(l + 1);
      rec.set_prefix("phi");
      rec.put_array(j["phi"], h, {ntk.phi[l + 1].begin(), ntk.phi[l + 1].end()}, {ntk.phi[l + 1].shape(0), ntk.phi[l + 1].shape(1)});
      rec.set_prefix("g");
      rec.put_array(j["g"], h, {ntk.g[l].begin(), ntk.g[l].end()}, {ntk.g[l].shape(0), ntk.g[l].shape(1)});
    }
    return tr.train_loss().back();
  };
  return run_compare_with(ops, cfg, th, co);
}

}  // namespace specdyn::run
