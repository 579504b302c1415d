// `specdyn sweep`: a grid over rules × widths × learning rates × seeds (× γ0), each point a
// finite-width run with its own record (`specdyn train` in a child process, one BLAS thread each,
// `--jobs` at a time), optionally with the infinite-width theory of each (rule, η) for the theory
// curve. Diverged points are recorded as diverged (exit code 3 of the child), not errors. Points
// whose record is complete (completed or diverged) are skipped, so re-running an interrupted sweep
// resumes it; torn, failed or interrupted records are redone. The summary (kind "sweep") lists,
// per rule and width, the final loss against η, the interpolated optimal η* and which points
// diverged, and fits η* ∝ N^k per rule; `specdyn plot` draws the learning-rate-transfer figure,
// η* against width and the dynamics (top outlier, (η/P)λ_max) across widths. Under mpirun the
// points are spread over the ranks (run/mpi.hpp: dynamic load balancing, `--jobs` per rank, default
// one), every rank writing its points' records into the shared --out directory; rank 0 writes the
// summary, identical to a one-rank run's.
//   specdyn::run::sweep_options o; o.widths = {256, 1024}; o.lrs = {0.1, 0.3, 1};
//   auto res = specdyn::run::run_sweep("/path/to/specdyn", base_config, o);
#pragma once

#include "specdyn/core.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <cstdio>
#include <thread>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "specdyn/io/npy.hpp"
#include "specdyn/io/progress.hpp"
#include "specdyn/io/record.hpp"
#include "specdyn/io/signals.hpp"
#include "specdyn/run/experiment.hpp"
#include "specdyn/run/mpi.hpp"
#include "specdyn/stats.hpp"

extern char** environ;

namespace specdyn::run {

struct sweep_options {
  std::vector<std::string> params{"mup", "ntk"};
  std::vector<std::size_t> widths{256, 512, 1024};
  std::vector<double> lrs{0.1, 0.2, 0.5, 1.0, 2.0};
  std::vector<double> gamma0s{1.0};
  std::vector<std::size_t> depths;  // depth-generic models: residual blocks per point (empty: the config's --depth)
  std::size_t seeds = 1;
  std::size_t jobs = 0;   // 0: all cores
  bool theory = false;    // also solve the theory of each (rule, γ0, η) for the theory curve
  std::size_t particles = 4000, replicas = 2;  // for nonlinear theories

  SPECDYN_CORE_FN void validate() const
#if SPECDYN_CORE_BODIES
  {
    require(!params.empty(), "--params", std::string("''"), "give at least one rule, e.g. mup,ntk");
    for (const auto& p : params) rule_from_name(p, 2);
    require(!widths.empty(), "--widths", std::string("''"), "give at least one width, e.g. 256,1024");
    require(!lrs.empty(), "--lrs", std::string("''"), "give at least one learning rate, e.g. 0.1,0.3,1");
    for (double e : lrs) require(e > 0 && std::isfinite(e), "--lrs", e, "learning rates must be positive numbers");
    require(!gamma0s.empty(), "--gamma0s", std::string("''"), "give at least one γ0");
    for (double g : gamma0s) require(g > 0 && std::isfinite(g), "--gamma0s", g, "values must be positive numbers");
    require(seeds >= 1 && seeds <= 1000, "--seeds", seeds, "use 1 to 1000");
    for (std::size_t d : depths) require(d >= 1 && d <= 4096, "--depths", d, "use depths from 1 to 4096");
    require(jobs <= 1024, "--jobs", jobs, "use 0 (all cores) to 1024");
  }
#else
  ;
#endif
};

/// One grid point: the finite-width run, or (width 0) a theory run.
struct sweep_point {
  run_config cfg;
  bool theory = false;
  std::string status;  // after the run: completed | diverged | interrupted | failed | missing
  std::vector<double> train_loss, test_loss, eos_ratio, top_outlier;  // per recorded step
  std::vector<std::size_t> ntk_steps, spectra_steps;
};

struct sweep_result {
  std::filesystem::path record;
  std::vector<sweep_point> points;
  std::size_t ran = 0, skipped = 0;  // over all ranks
  std::string status = "completed", message;
  int signal = 0;
  bool summary_rank = true;  // false on MPI ranks other than 0: they write no summary
};

/// The command-line flags that reproduce a run config (for a child `specdyn train` / `theory`).
SPECDYN_CORE_FN std::vector<std::string> run_args(const run_config& c, bool theory)
#if SPECDYN_CORE_BODIES
{
  auto num = [](double v) { return io::json(v).dump(); };
  std::vector<std::string> a{theory ? "theory" : "train", "--model", c.model, "--param", c.param, "--dim", std::to_string(c.dim),
                             "--samples", std::to_string(c.samples), "--outputs", std::to_string(c.outputs), "--test-samples",
                             std::to_string(c.test_samples), "--gamma0", num(c.gamma0), "--sigma", num(c.sigma), "--lr", num(c.lr),
                             "--steps", std::to_string(c.steps), "--batch", std::to_string(c.batch), "--seed", std::to_string(c.seed),
                             "--task", c.task, "--teacher", c.teacher, "--noise", num(c.noise), "--covariance-decay", num(c.covariance_decay),
                             "--loss", c.loss, "--out", c.out, "--quiet"};
  if (!c.x_npy.empty()) a.insert(a.end(), {"--x", c.x_npy, "--y", c.y_npy});
  if (c.task == "text") a.insert(a.end(), {"--vocab", std::to_string(c.vocab), "--context", std::to_string(c.context)});
  if (!c.data_dir.empty()) a.insert(a.end(), {"--data-dir", c.data_dir});
  if (c.depth != 0) a.insert(a.end(), {"--depth", std::to_string(c.depth)});
  if (c.branch != 1.0) a.insert(a.end(), {"--branch", num(c.branch)});
  if (c.sigma_bias != 1.0) a.insert(a.end(), {"--sigma-bias", num(c.sigma_bias)});
  if (!c.depth_alpha.empty()) a.insert(a.end(), {"--depth-alpha", c.depth_alpha});
  if (!c.plain_optimizer())
    a.insert(a.end(), {"--optimizer", c.optimizer, "--momentum", num(c.momentum), "--beta1", num(c.beta1), "--beta2", num(c.beta2),
                       "--eps", num(c.eps), "--weight-decay", num(c.weight_decay)});
  if (!theory)
    a.insert(a.end(), {"--width", std::to_string(c.width), "--spectra-every", std::to_string(c.spectra_every), "--ntk-every",
                       std::to_string(c.ntk_every), "--hessian-every", "0", "--top-k", "4"});
  return a;
}
#else
;
#endif

/// Status of a record on disk: completed/diverged are final; anything else is redone.
SPECDYN_CORE_FN std::string record_status(const std::filesystem::path& p)
#if SPECDYN_CORE_BODIES
{
  if (!std::filesystem::exists(p)) return "missing";
  std::ifstream in(p);
  const auto j = io::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("status")) return "torn";
  return j["status"].get<std::string>();
}
#else
;
#endif

namespace detail {
SPECDYN_CORE_FN std::vector<double> numbers_of(const io::json& v, const std::filesystem::path& dir)
#if SPECDYN_CORE_BODIES
{
  std::vector<double> out;
  if (v.is_object() && v.contains("npy")) {
    const auto a = io::load_npy(dir / v["npy"].get<std::string>());
    return a.data;
  }
  for (const auto& x : v) out.push_back(x.is_number() ? x.get<double>() : stats::nan);
  return out;
}
#else
;
#endif
/// Top singular value per snapshot from a spectra entry (inline ragged lists or a padded npy).
SPECDYN_CORE_FN std::vector<double> top_values(const io::json& sv, const std::filesystem::path& dir)
#if SPECDYN_CORE_BODIES
{
  std::vector<double> out;
  if (sv.is_object() && sv.contains("npy")) {
    const auto a = io::load_npy(dir / sv["npy"].get<std::string>());
    const std::size_t w = a.shape.size() == 2 ? a.shape[1] : 1;
    for (std::size_t i = 0; i < a.shape[0]; ++i) out.push_back(a.data[i * w]);
    return out;
  }
  for (const auto& row : sv) out.push_back(row.empty() || !row[0].is_number() ? stats::nan : row[0].get<double>());
  return out;
}
#else
;
#endif
}  // namespace detail

/// Reads what the summary needs from a point's record.
SPECDYN_CORE_FN void read_point(sweep_point& pt)
#if SPECDYN_CORE_BODIES
{
  const std::filesystem::path path(pt.cfg.out);
  pt.status = record_status(path);
  if (pt.status == "missing" || pt.status == "torn") return;
  std::ifstream in(path);
  const auto j = io::json::parse(in);
  const auto dir = path.parent_path();
  pt.train_loss = detail::numbers_of(j.value("train_loss", io::json::array()), dir);
  pt.test_loss = detail::numbers_of(j.value("test_loss", io::json::array()), dir);
  if (j.contains("ntk")) {
    pt.eos_ratio = detail::numbers_of(j["ntk"].value("eos_ratio", io::json::array()), dir);
    pt.ntk_steps = j["ntk"].value("steps", std::vector<std::size_t>{});
  }
  if (j.contains("spectra") && j["spectra"].contains("W1")) {
    const auto& s = j["spectra"]["W1"];
    if (pt.theory && s.contains("predicted")) {
      pt.spectra_steps = s["predicted"].value("steps", std::vector<std::size_t>{});
      for (const auto& o : s["predicted"]["outliers"]) pt.top_outlier.push_back(o.empty() ? 2 * pt.cfg.sigma : o[0].get<double>());
    } else if (s.contains("singular_values")) {
      pt.spectra_steps = s.value("steps", std::vector<std::size_t>{});
      pt.top_outlier = detail::top_values(s["singular_values"], dir);
    }
  }
}
#else
;
#endif

/// The minimiser of loss(η) on a log grid: the vertex of the parabola (in log η, log loss) through
/// the best point and its two neighbours; the best grid point itself when a neighbour diverged (the
/// optimum then sits just below the divergence) or when it is an end of the grid (`at_edge`: the
/// grid does not bracket the optimum, so it is left out of fits).
struct optimum {
  double eta = stats::nan, loss = stats::nan;
  bool at_edge = false;
};
SPECDYN_CORE_FN optimum interpolate_optimum(const std::vector<double>& etas, const std::vector<double>& losses)
#if SPECDYN_CORE_BODIES
{
  optimum o;
  std::size_t best = etas.size();
  for (std::size_t i = 0; i < etas.size(); ++i)
    if (std::isfinite(losses[i]) && (best == etas.size() || losses[i] < losses[best])) best = i;
  if (best == etas.size()) return o;
  o.eta = etas[best];
  o.loss = losses[best];
  if (best == 0 || best + 1 >= etas.size()) {
    o.at_edge = true;
    return o;
  }
  if (!std::isfinite(losses[best - 1]) || !std::isfinite(losses[best + 1])) return o;
  const double x0 = std::log(etas[best - 1]), x1 = std::log(etas[best]), x2 = std::log(etas[best + 1]);
  const double y0 = std::log(losses[best - 1]), y1 = std::log(losses[best]), y2 = std::log(losses[best + 1]);
  const double d = (x0 - x1) * (x0 - x2) * (x1 - x2);
  const double a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / d;
  const double b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / d;
  if (a > 0) o.eta = std::exp(std::clamp(-b / (2 * a), x0, x2));
  return o;
}
#else
;
#endif

/// Runs the grid (children of `exe`), then summarises. `base` carries the data flags and --out.
SPECDYN_CORE_FN sweep_result run_sweep(const std::string& exe, const run_config& base, const sweep_options& so)
#if SPECDYN_CORE_BODIES
{
  so.validate();
  base.validate();
  // files the points would read (npy, Fashion-MNIST, the text corpus): refuse bad ones here, once,
  // rather than let every point fail in its own process
  if (base.task == "npy" || base.task == "fashion-mnist" || base.task == "text") (void)make_data(base);
  const std::filesystem::path dir(base.out);
  std::error_code ec;
  std::filesystem::create_directories(dir / "points", ec);
  if (ec) throw usage_error("--out = " + base.out + ": cannot create directory (" + ec.message() + ")");
  sweep_result res;
  const std::vector<std::size_t> depths = so.depths.empty() ? std::vector<std::size_t>{base.depth} : so.depths;
  for (std::size_t depth : depths)
  for (const auto& param : so.params)
    for (double g : so.gamma0s)
      for (double eta : so.lrs) {
        for (std::size_t n : so.widths)
          for (std::size_t k = 0; k < so.seeds; ++k) {
            sweep_point pt;
            pt.cfg = base;
            pt.cfg.depth = depth;
            pt.cfg.param = param;
            pt.cfg.gamma0 = g;
            pt.cfg.lr = eta;
            pt.cfg.width = n;
            pt.cfg.seed = base.seed + k;
            pt.cfg.out = (dir / "points" / (pt.cfg.run_name("N" + std::to_string(n)) + ".json")).string();
            res.points.push_back(pt);
          }
        if (so.theory && param != "ntk" && param != "sp" && param != "sp_lr") {  // width-independent rules: one N = ∞ theory
          sweep_point pt;
          pt.cfg = base;
          pt.cfg.depth = depth;
          pt.cfg.param = param;
          pt.cfg.gamma0 = g;
          pt.cfg.lr = eta;
          pt.cfg.out = (dir / "points" / (pt.cfg.run_name("theory") + ".json")).string();
          pt.theory = true;
          res.points.push_back(pt);
        }
      }
  // one rank: all cores; under mpirun: one point per rank (start as many ranks as cores)
  const std::size_t jobs = so.jobs ? so.jobs : mpi::distributed() ? 1 : std::max<long>(1, ::sysconf(_SC_NPROCESSORS_ONLN));
  // environment of the children: one BLAS thread each (points run in parallel instead), and this
  // process's id so that a child stops (SIGTERM, record kept) if the sweep is killed outright
  std::vector<std::string> env_store;
  // (and not the launcher's variables: a child is a plain one-rank run)
  for (char** e = environ; *e; ++e) {
    const std::string v(*e);
    bool keep = true;
    for (const char* drop : {"OPENBLAS_NUM_THREADS=", "SPECDYN_PARENT_PID=", "OMPI_", "PMIX_", "PMI_"}) keep = keep && v.rfind(drop, 0) != 0;
    if (keep) env_store.push_back(v);
  }
  env_store.emplace_back("OPENBLAS_NUM_THREADS=1");
  env_store.emplace_back("SPECDYN_PARENT_PID=" + std::to_string(::getpid()));
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);

  res.summary_rank = mpi::rank() == 0;
  io::progress bar(mpi::distributed() ? "sweep (" + std::to_string(mpi::size()) + " ranks)" : "sweep", res.points.size(),
                   base.quiet || !res.summary_rank);
  std::map<pid_t, std::size_t> running;
  std::size_t done = 0;
  bool exhausted = false;
  mpi::work_queue queue(res.points.size());
  auto progress = [&]() { bar.update(mpi::distributed() && res.summary_rank ? queue.handed_out() - running.size() : done, 0.0); };
  io::interrupt_guard guard;
  auto wait_one = [&]() {  // polls, so that a signal to the sweep itself is seen within 50 ms
    int st = 0;
    const pid_t pid = ::waitpid(-1, &st, WNOHANG);
    if (pid <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      return;
    }
    running.erase(pid);
    ++done;
    progress();
  };
  while (!exhausted || !running.empty()) {
    if (io::pending_interrupt()) {  // stop launching; children got the signal from the terminal, or forward it
      queue.cancel();
      for (const auto& [pid, i] : running) ::kill(pid, io::pending_interrupt());
      while (!running.empty()) wait_one();
      res.signal = io::pending_interrupt();
      break;
    }
    if (!exhausted && running.size() < jobs) {
      const auto next = queue.next();
      if (!next) {
        exhausted = true;
        continue;
      }
      auto& pt = res.points[*next];
      const std::string st = record_status(pt.cfg.out);
      if (st == "completed" || st == "diverged") {
        ++res.skipped;
        ++done;
        progress();
        continue;
      }
      auto args = run_args(pt.cfg, pt.theory);
      if (pt.theory) args.insert(args.end(), {"--particles", std::to_string(so.particles), "--replicas", std::to_string(so.replicas),
                                              "--spectra-every", std::to_string(base.spectra_every), "--threads", "1"});
      args.push_back("--force");  // a torn or failed record of this same point is redone
      std::vector<char*> argv{const_cast<char*>(exe.c_str())};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
      const std::string log = pt.cfg.out + ".log";
      posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      pid_t pid = 0;
      const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data());
      posix_spawn_file_actions_destroy(&fa);
      if (rc != 0) throw std::runtime_error("cannot start " + exe + " for a sweep point (" + std::strerror(rc) + "; its log " + log + ")");
      running[pid] = *next;
      ++res.ran;
      continue;
    }
    wait_one();
  }
  queue.finish();
  // counts and the first signal over all ranks, for the summary
  res.ran = mpi::sum(res.ran);
  res.skipped = mpi::sum(res.skipped);
  res.signal = int(mpi::max(std::size_t(res.signal)));
  if (res.signal) {
    res.status = "interrupted";
    res.message = std::string("interrupted by ") + (res.signal == SIGTERM ? "SIGTERM" : "SIGINT") + "; finished points kept, re-run to resume";
  }
  if (!res.summary_rank) return res;
  bar.finish();
  std::size_t usable = 0;
  for (auto& pt : res.points) {
    read_point(pt);
    if (pt.status == "completed" || pt.status == "diverged") {
      std::filesystem::remove(pt.cfg.out + ".log", ec);
      ++usable;
    }
  }
  if (usable == 0 && res.status == "completed" && !res.points.empty()) {  // nothing to summarise: say why
    std::string first;
    std::ifstream log(res.points.front().cfg.out + ".log");
    std::getline(log, first);
    res.status = "failed";
    res.message = "every point failed; the first one's log (" + res.points.front().cfg.out + ".log) says: " + (first.empty() ? "nothing" : first);
  }
  return res;
}
#else
;
#endif

/// Per rule, γ0 and width: final training loss against η (mean over seeds; diverged → +∞) and η*.
struct transfer_curve {
  std::string param;
  double gamma0 = 1;
  std::size_t depth = 0;  // the points' --depth (0: not a depth sweep)
  std::size_t width = 0;  // 0: theory (N = ∞)
  std::vector<double> etas, final_loss;
  std::vector<std::size_t> diverged;  // per η: how many seeds diverged
  optimum best;
};

SPECDYN_CORE_FN std::vector<transfer_curve> transfer_curves(const sweep_result& r, const sweep_options& so)
#if SPECDYN_CORE_BODIES
{
  std::vector<transfer_curve> out;
  std::vector<std::size_t> depths = so.depths;
  if (depths.empty()) depths.push_back(r.points.empty() ? 0 : r.points.front().cfg.depth);
  for (std::size_t depth : depths)
  for (const auto& param : so.params)
    for (double g : so.gamma0s) {
      std::vector<std::size_t> ws = so.widths;
      if (so.theory) ws.push_back(0);
      for (std::size_t n : ws) {
        transfer_curve c;
        c.param = param;
        c.gamma0 = g;
        c.width = n;
        c.depth = so.depths.empty() ? 0 : depth;
        for (double eta : so.lrs) {
          std::vector<double> fl;
          std::size_t div = 0, found = 0;
          for (const auto& pt : r.points) {
            if (pt.cfg.param != param || pt.cfg.gamma0 != g || pt.cfg.lr != eta || (n == 0) != pt.theory || (n && pt.cfg.width != n) ||
                pt.cfg.depth != depth)
              continue;
            ++found;
            if (pt.status == "diverged") ++div;
            else if (pt.status == "completed" && !pt.train_loss.empty()) fl.push_back(pt.train_loss.back());
          }
          if (!found) continue;
          c.etas.push_back(eta);
          c.diverged.push_back(div);
          c.final_loss.push_back(div ? INFINITY : (fl.empty() ? stats::nan : stats::mean_se(fl).first));
        }
        if (c.etas.empty()) continue;
        c.best = interpolate_optimum(c.etas, c.final_loss);
        out.push_back(c);
      }
    }
  return out;
}
#else
;
#endif

/// Writes the summary record and prints the table; returns the fitted η* exponents per rule.
SPECDYN_CORE_FN void write_sweep_summary(sweep_result& r, const run_config& base, const sweep_options& so)
#if SPECDYN_CORE_BODIES
{
  const auto curves = transfer_curves(r, so);
  r.record = std::filesystem::path(base.out) / (base.model + "_sweep_" + base.task + "_P" + std::to_string(base.samples) + "_T" +
                                                std::to_string(base.steps) + (so.depths.empty() ? "" : "_depths") + "_s" + std::to_string(base.seed) + ".json");
  io::record rec(r.record);
  io::json config = base.to_json();
  config["params"] = so.params;
  config["widths"] = so.widths;
  config["lrs"] = so.lrs;
  config["gamma0s"] = so.gamma0s;
  config["seeds"] = so.seeds;
  config["theory"] = so.theory;
  if (!so.depths.empty()) config["depths"] = so.depths;
  auto& j = rec.begin("sweep", config);
  j["status"] = r.status;
  j["message"] = r.message;
  j["points_run"] = r.ran;
  j["points_skipped"] = r.skipped;
  j["curves"] = io::json::array();
  std::printf("\n%s sweep: final training loss after %zu steps (mean over %zu seed(s); 'div' = diverged)%s\n", base.model.c_str(), base.steps,
              so.seeds, base.depth_alpha.empty() ? "" : (", depth exponent α_L = " + base.depth_alpha + " for every rule").c_str());
  const bool by_depth = !so.depths.empty();
  int rw = 6;  // rule column: as wide as the longest rule name
  for (const auto& p : so.params) rw = std::max(rw, int(p.size()));
  std::printf("%-*s %6s %7s", rw, "rule", "γ0", "N");
  if (by_depth) std::printf(" %5s", "L");
  for (double e : so.lrs) std::printf(" %9.3g", e);
  std::printf("   η*  (largest η with no diverged seed)\n");
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> star;  // rule (/depth) → (N, η*)
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> star_depth;  // rule/width → (L, η*)
  for (const auto& c : curves) {
    std::printf("%-*s %6.3g %7s", rw, c.param.c_str(), c.gamma0, c.width ? std::to_string(c.width).c_str() : "∞");
    if (by_depth) std::printf(" %5zu", c.depth);
    for (std::size_t i = 0, k = 0; i < so.lrs.size(); ++i) {
      if (k < c.etas.size() && c.etas[k] == so.lrs[i]) {
        if (c.diverged[k]) std::printf(" %9s", "div");
        else std::printf(" %9.3e", c.final_loss[k]);
        ++k;
      } else {
        std::printf(" %9s", "-");
      }
    }
    double stable = std::numeric_limits<double>::quiet_NaN();  // the largest η below which no seed diverged
    for (std::size_t k = 0; k < c.etas.size() && !c.diverged[k]; ++k) stable = c.etas[k];
    std::printf("   %.3g%s  (%s)\n", c.best.eta, c.best.at_edge ? " (grid edge)" : "", std::isfinite(stable) ? io::json(stable).dump().c_str() : "none");
    if (c.width && !c.best.at_edge && std::isfinite(c.best.eta)) {
      const std::string key = c.param + "/" + io::json(c.gamma0).dump() + (by_depth ? "/L" + std::to_string(c.depth) : "");
      star[key].first.push_back(double(c.width));
      star[key].second.push_back(c.best.eta);
      if (by_depth) {
        const std::string dk = c.param + "/" + io::json(c.gamma0).dump() + "/N" + std::to_string(c.width);
        star_depth[dk].first.push_back(double(c.depth));
        star_depth[dk].second.push_back(c.best.eta);
      }
    }
    io::json e = {{"param", c.param}, {"gamma0", c.gamma0}, {"width", c.width ? io::json(c.width) : io::json("infinite")},
                  {"lrs", c.etas}, {"final_train_loss", io::numbers(c.final_loss)}, {"diverged_seeds", c.diverged},
                  {"eta_star", io::number(c.best.eta)}, {"eta_star_at_grid_edge", c.best.at_edge}};
    if (by_depth) e["depth"] = c.depth;
    e["eta_max_stable"] = io::number(stable);
    j["curves"].push_back(e);
  }
  const auto print_fit = [](const char* axis, const std::string& key, const stats::power_fit& fit, const char* what) {
    if (fit.points < 2) {
      std::printf("η* ∝ %s^k for %s: not fitted (%zu %s with η* inside the grid; widen --lrs)\n", axis, key.c_str(), fit.points, what);
      return;
    }
    std::printf("η* ∝ %s^k for %s: k = %.3f", axis, key.c_str(), fit.slope);
    if (std::isfinite(fit.ci_low)) std::printf(" [95%% CI %.3f, %.3f]", fit.ci_low, fit.ci_high);
    std::printf(" (%zu %s)\n", fit.points, what);
  };
  j["eta_star_fits"] = io::json::object();
  for (const auto& [key, xy] : star) {
    const auto fit = stats::power_law_fit(xy.first, xy.second);
    if (so.widths.size() > 1) print_fit("N", key, fit, "widths");  // a one-width sweep has no width exponent to report
    j["eta_star_fits"][key] = {{"exponent", io::number(fit.slope)}, {"ci95", {io::number(fit.ci_low), io::number(fit.ci_high)}},
                               {"widths", xy.first}, {"eta_star", xy.second}};
  }
  if (by_depth) {  // depth transfer: η* ∝ L^k per rule, γ0 and width
    j["eta_star_depth_fits"] = io::json::object();
    for (const auto& [key, xy] : star_depth) {
      const auto fit = stats::power_law_fit(xy.first, xy.second);
      if (so.depths.size() > 1) print_fit("L", key, fit, "depths");
      j["eta_star_depth_fits"][key] = {{"exponent", io::number(fit.slope)}, {"ci95", {io::number(fit.ci_low), io::number(fit.ci_high)}},
                                       {"depths", xy.first}, {"eta_star", xy.second}};
    }
  }
  j["points"] = io::json::array();
  for (const auto& pt : r.points) {
    j["points"].push_back({{"param", pt.cfg.param}, {"gamma0", pt.cfg.gamma0}, {"lr", pt.cfg.lr},
                           {"width", pt.theory ? io::json("infinite") : io::json(pt.cfg.width)}, {"seed", pt.cfg.seed},
                           {"status", pt.status}, {"record", std::filesystem::path(pt.cfg.out).filename().string()},
                           {"train_loss", io::numbers(pt.train_loss)}, {"ntk_steps", pt.ntk_steps}, {"eos_ratio", io::numbers(pt.eos_ratio)},
                           {"spectra_steps", pt.spectra_steps}, {"top_singular_W1", io::numbers(pt.top_outlier)}});
    if (by_depth) j["points"].back()["depth"] = pt.cfg.depth;
  }
  rec.write();
}
#else
;
#endif

}  // namespace specdyn::run
