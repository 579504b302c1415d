// The specdyn command line: list the built-in models, train one with spectra/NTK/sharpness
// tracking into a run record, plot records, and run the demo. Exit codes: 0 success, 2 bad
// input (one line naming the flag, nothing written), 3 training diverged (record kept),
// 130 interrupted (record kept), 1 any other failure.
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>

#include "registry.hpp"
#include "specdyn/run/many_outputs.hpp"
#include "specdyn/run/mpi.hpp"
#include "specdyn/run/sweep.hpp"
#include "specdyn/run/proportional.hpp"
#include "deep_linear2.hpp"
#include "deep_linear3.hpp"
#include "deep_linear4.hpp"

using namespace specdyn;
namespace fs = std::filesystem;

namespace {

/// Flags that define the network, the data and the training run: shared by train, theory and compare.
void add_run_flags(CLI::App* cmd, run_config& c, bool with_width = true) {
  cmd->add_option("--model", c.model, "Built-in model (see `specdyn list`)")->required();
  cmd->add_option("--param", c.param, "Scaling rule: mup, mup_tp4, ntk, mf, sp, sp_lr, depth_mup")->capture_default_str();
  if (with_width) cmd->add_option("--width", c.width, "Width N of the hidden layers")->capture_default_str();
  cmd->add_option("--dim", c.dim, "Input dimension D (fashion-mnist and text: set from the data)")->capture_default_str();
  cmd->add_option("--samples,--train-samples", c.samples, "Training samples P (--train-samples is the same flag)")->capture_default_str();
  cmd->add_option("--outputs", c.outputs, "Outputs C (fashion-mnist and text: set from the data)")->capture_default_str();
  cmd->add_option("--test-samples", c.test_samples, "Held-out points for teacher and real-data tasks (fashion-mnist and text: 1000 unless given)")
      ->capture_default_str();
  cmd->add_option("--gamma0", c.gamma0, "Output scale γ0 (richness)")->capture_default_str();
  cmd->add_option("--sigma", c.sigma, "Initial weight standard deviation σ")->capture_default_str();
  cmd->add_option("--lr", c.lr, "Learning rate η in function-space units")->capture_default_str();
  cmd->add_option("--steps", c.steps, "Training steps T")->capture_default_str();
  cmd->add_option("--batch", c.batch, "Mini-batch size (0 = full-batch GD)")->capture_default_str();
  cmd->add_option("--optimizer", c.optimizer, "sgd, momentum, nesterov, adam, adamw or sign (per-tensor rates from --param: docs/optimizers.md)")
      ->capture_default_str();
  cmd->add_option("--momentum", c.momentum, "Momentum μ of momentum and nesterov")->capture_default_str();
  cmd->add_option("--beta1", c.beta1, "Adam's first-moment decay β1")->capture_default_str();
  cmd->add_option("--beta2", c.beta2, "Adam's second-moment decay β2")->capture_default_str();
  cmd->add_option("--eps", c.eps, "Adam's ε, in units of each tensor's gradient scale (docs/optimizers.md §1)")->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay, "Decoupled weight decay λ: w ← (1 − ηλ) w each step (not for adam: use adamw)")
      ->capture_default_str();
  cmd->add_option("--depth", c.depth, "Depth-generic models (repeat<any_depth>): residual blocks L (default 4)");
  cmd->add_option("--branch", c.branch, "Residual branch prefactor β: m_L = β L^{-α_L}")->capture_default_str();
  cmd->add_option("--depth-alpha", c.depth_alpha, "Override the rule's depth exponent α_L (0, 1/2, 1, …)");
  cmd->add_option("--sigma-bias", c.sigma_bias, "Initial standard deviation of biases")->capture_default_str();
  cmd->add_option("--seed", c.seed, "Seed of weights, data and batches")->capture_default_str();
  cmd->add_option("--task", c.task, "single-index, linear, random, npy, fashion-mnist or text (real data: docs/data.md)")->capture_default_str();
  cmd->add_option("--teacher", c.teacher, "Single-index link φ*: linear, tanh, relu, he2")->capture_default_str();
  cmd->add_option("--noise", c.noise, "Label noise std for teacher tasks")->capture_default_str();
  cmd->add_option("--covariance-decay", c.covariance_decay, "Input covariance eigenvalues ∝ k^-a, mean 1 (0: isotropic)")->capture_default_str();
  cmd->add_option("--x", c.x_npy, "Inputs [P, D] as .npy (with --task npy)");
  cmd->add_option("--y", c.y_npy, "Targets [P] or [P, C] as .npy (with --task npy)");
  cmd->add_option("--vocab", c.vocab, "--task text: classes C, the C-1 most frequent words and <unk>")->capture_default_str();
  cmd->add_option("--context", c.context, "--task text: previous words k the network sees (D = k·C)")->capture_default_str();
  cmd->add_option("--data-dir", c.data_dir, "--task fashion-mnist or text: directory of the data files (default: the Debian package's)");
  cmd->add_option("--loss", c.loss, "mse or xent (softmax cross-entropy, C > 1)")->capture_default_str();
  cmd->add_option("--out", c.out, "Directory for the record, or a .json path")->capture_default_str();
  cmd->add_flag("--force", c.force, "Overwrite a record of a different run at the same path");
  cmd->add_flag("--quiet", c.quiet, "No progress bar");
}

/// Real-data tasks set D and C from the data and hold out 1000 points, unless the flags are given
/// (run_config::validate refuses a --dim or --outputs that contradicts the data).
void fit_real_data(const CLI::App* cmd, run_config& c) {
  if (!c.real_data()) return;
  const auto [d, k] = c.task_shape();
  if (cmd->count("--dim") == 0) c.dim = d;
  if (cmd->count("--outputs") == 0) c.outputs = k;
  if (cmd->count("--test-samples") == 0) c.test_samples = 1000;
}

/// Flags of finite-width measurements (train only).
void add_measure_flags(CLI::App* cmd, run_config& c) {
  cmd->add_flag("--centre,!--no-centre", c.centre,
                "Centre the network, f(θ) − f(θ0) (on unless --no-centre; the theory describes the centred network)");
  cmd->add_option("--spectra-every", c.spectra_every, "Steps between spectra snapshots (0: never)")->capture_default_str();
  cmd->add_option("--top-k", c.top_k, "Top singular values/vectors tracked per layer")->capture_default_str();
  cmd->add_option("--spectra-method", c.spectra_method, "auto, full (LAPACK) or krylov (top-k)")->capture_default_str();
  cmd->add_option("--ntk-every", c.ntk_every, "Steps between NTK measurements (-1: with spectra, 0: never)")->capture_default_str();
  cmd->add_option("--hessian-every", c.hessian_every,
                  "Steps between loss-Hessian top eigenvalues (0: never). Each costs ~40 Hessian-vector products, "
                  "about 100 training steps' worth")->capture_default_str();
  cmd->add_option("--eval-every", c.eval_every, "Steps between test-loss, accuracy and output records (with --batch also the full training loss, a pass over all P points)")->capture_default_str();
  cmd->add_flag("--save-weights", c.save_weights, "Write every weight (as the spectra see it) at t = 0 and at the last step to .npy");
}

void add_theory_flags(CLI::App* cmd, run::theory_options& t, std::size_t& width) {
  cmd->add_option("--solver", t.solver, "auto (exact for linear nets, else particles), exact, particles")->capture_default_str();
  cmd->add_option("--particles", t.particles, "Particles per replica (quasi-random innovations; Monte Carlo error vs S: docs/dmft.md §8)")->capture_default_str();
  cmd->add_option("--replicas", t.replicas, "Independent replicas for error bars")->capture_default_str();
  cmd->add_option("--threads", t.threads, "Replicas solved at once, one thread each (0: all cores; with more than one, each uses one BLAS thread, which moves results in the last digits: fix --threads for bitwise reproducibility)")
      ->capture_default_str();
  cmd->add_option("--scheme", t.scheme, "march (one causal pass) or alternating (classic fixed-point iteration)")->capture_default_str();
  cmd->add_option("--damping", t.damping, "Alternating scheme: mixing of new kernels")->capture_default_str();
  cmd->add_option("--max-iterations", t.max_iterations, "Alternating scheme: iteration limit")->capture_default_str();
  cmd->add_flag("--two-time", t.two_time, "Also write the two-time kernels Φ(t,s), G(t,s) to .npy");
  cmd->add_option("--width", width, "Evaluate the rule's effective theory at this width (NTK: γ0/√N); default N = ∞");
  cmd->add_option("--spectra-every", t.spectra_every,
                  "Steps between predictions of the hidden weights' outliers and the input weight's singular values (0: none)")
      ->capture_default_str();
  cmd->add_option("--spectral-cut", t.spectral_cut,
                  "Spike Gram eigenvalues below this fraction of the largest are dropped (−1: 1e-10 exact, 0.1 Monte Carlo)")
      ->capture_default_str();
}

/// One line on stderr for a record that did not complete; the exit code for its status.
int finish(const std::string& cmd, const std::string& status, const std::string& message, int signal,
           const std::filesystem::path& record) {
  run_result r;
  r.status = status;
  r.signal = signal;
  if (status != "completed")
    std::fprintf(stderr, "%s: %s: %s; record with everything up to then kept in %s\n", cmd.c_str(), status.c_str(), message.c_str(),
                 record.c_str());
  return exit_code(r);
}

std::string plus_minus(double v, double se, std::size_t replicas) {
  char buf[96];
  if (std::isfinite(se) && replicas > 1)
    std::snprintf(buf, sizeof buf, "%.4g ± %.2g (95%%: ± %.2g, %zu replicas)", v, se, stats::interval_half_width(se, replicas), replicas);
  else std::snprintf(buf, sizeof buf, "%.4g (no error bar: %s)", v, replicas > 1 ? "exact" : "1 replica");
  return buf;
}

run_result train_one(const run_config& c) {
  const auto& entry = models::find_model(c.model);
  c.validate();
  return entry.train(c);
}

void report(const run_result& r, bool quiet) {
  if (r.status == "completed") {
    if (!quiet) std::printf("wrote %s (final training loss %.4g)\n", r.record.c_str(), r.final_train_loss);
  } else {
    std::fprintf(stderr, "specdyn train: %s; record with everything up to then kept in %s\n", r.message.c_str(), r.record.c_str());
  }
}

/// A comma-separated list of positive integers, or usage_error naming the flag.
std::vector<std::size_t> parse_sizes(const std::string& flag, const std::string& text, bool allow_empty = false) {
  std::vector<std::size_t> out;
  std::stringstream ss(text);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(tok.c_str(), &end, 10);
    const char* example = flag == "--depths" ? "2,4,8,16" : "256,512,1024";
    if (tok.empty() || *end != '\0' || v < 1 || errno == ERANGE)
      throw usage_error(flag + " = " + text + ": use positive integers separated by commas, e.g. " + example);
    out.push_back(std::size_t(v));
  }
  if (out.empty() && !allow_empty)
    throw usage_error(flag + " = '': give at least one value, e.g. " + std::string(flag == "--depths" ? "2,4,8,16" : "256,512,1024"));
  return out;
}
/// A comma-separated list of positive finite numbers.
std::vector<double> parse_numbers(const std::string& flag, const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    char* end = nullptr;
    const double v = std::strtod(tok.c_str(), &end);
    if (tok.empty() || *end != '\0' || !(v > 0) || !std::isfinite(v))
      throw usage_error(flag + " = " + text + ": use positive numbers separated by commas, e.g. 0.5,1,2");
    out.push_back(v);
  }
  if (out.empty()) throw usage_error(flag + " = '': give at least one value, e.g. 0.5,1,2");
  return out;
}
std::vector<std::string> parse_words(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string tok;
  while (std::getline(ss, tok, ',')) out.push_back(tok);
  return out;
}

std::string command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    if (i) line += ' ';
    line += argv[i];
  }
  return line;
}

std::string python() {
  if (const char* p = std::getenv("SPECDYN_PYTHON")) return p;
  return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

/// Every numeric flag refuses what CLI11 would otherwise convert silently: an empty value, a
/// negative count (it would wrap around to a huge one), a number too large for its type, and for
/// real numbers NaN and ±Inf. Applied to every option of every command.
void add_numeric_checks(CLI::App* app) {
  for (auto* opt : app->get_options()) {
    const std::string type = opt->get_type_name();
    if (type == "UINT" || type == "INT") {
      const bool is_unsigned = type == "UINT";
      opt->check(CLI::Validator(
          [is_unsigned](std::string& v) -> std::string {
            const std::string digits = (!is_unsigned && !v.empty() && v[0] == '-') ? v.substr(1) : v;
            if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
              return "'" + v + "' is not " + (is_unsigned ? "a non-negative integer" : "an integer");
            errno = 0;
            (void)std::strtoull(digits.c_str(), nullptr, 10);
            if (errno == ERANGE || digits.size() > 18) return "'" + v + "' is too large";
            return "";
          },
          "", "integer"));
    } else if (type == "FLOAT") {
      opt->check(CLI::Validator(
          [](std::string& v) -> std::string {
            char* end = nullptr;
            const double x = std::strtod(v.c_str(), &end);
            if (v.empty() || end != v.c_str() + v.size()) return "'" + v + "' is not a number";
            if (!std::isfinite(x)) return "'" + v + "' is not a finite number";
            return "";
          },
          "", "number"));
    }
  }
  for (auto* sub : app->get_subcommands({})) add_numeric_checks(sub);
}

int plot(const std::vector<std::string>& records, const std::string& out) {
  for (const auto& r : records) {
    if (!fs::exists(r)) throw usage_error("RECORD = " + r + ": no such file");
    std::ifstream in(r);
    const auto j = io::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("schema"))
      throw usage_error("RECORD = " + r + ": not a specdyn run record (not JSON, or no \"schema\" key)");
  }
  std::string cmd = python() + " " + shell_quote(std::string(models::scripts_dir()) + "/plot.py") + " --out " + shell_quote(out);
  for (const auto& r : records) cmd += " " + shell_quote(r);
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::fprintf(stderr, "specdyn plot: the plotting script failed (is python3-matplotlib installed? run scripts/setup.sh)\n");
    return 1;
  }
  return 0;
}

}  // namespace


/// `specdyn many-outputs`: the extensive-output toy model grid (run/many_outputs.hpp).
struct many_options {
  std::vector<double> kappas{0, 0.25, 1};
  std::vector<std::size_t> widths{256, 512, 1024};
  std::vector<double> gamma0_tildes{16};  // γ0 = γ̃0/√D (the proportional limit's μP, docs/proportional.md)
  double lr_over_p = 0.003;               // η = η̂·P (κ = 1 diverges at 0.005 by the edge of stability)
  double dim_per_width = 1, samples_per_width = 1;
  std::string layer = "W1";
};

int run_many_outputs(run_config base, const many_options& mo) {
  const auto& entry = models::find_model(base.model);
  require(mo.dim_per_width > 0 && std::isfinite(mo.dim_per_width), "--dim-per-width", mo.dim_per_width, "must be a positive number (D = νN)");
  require(mo.samples_per_width > 0 && std::isfinite(mo.samples_per_width), "--samples-per-width", mo.samples_per_width,
          "must be a positive number (P = αN)");
  if (mo.layer.size() < 2 || mo.layer[0] != 'W' || mo.layer.find_first_not_of("0123456789", 1) != std::string::npos ||
      std::stoul(mo.layer.substr(1)) >= entry.hidden_layers)
    throw usage_error("--layer = " + mo.layer + ": " + base.model + " has weights W0 … W" + std::to_string(entry.hidden_layers - 1) +
                      " (W0 is the input layer; the hidden N×N ones are W1 and up)");
  if (base.task != "linear" && base.task != "random")
    throw usage_error("--task = " + base.task + ": the toy model uses a linear teacher with C outputs (linear) or random labels (random)");
  // every point's configuration, validated before anything runs
  struct point {
    run_config cfg;
    double kappa, gamma0_tilde;
  };
  std::vector<point> points;
  const fs::path dir(base.out);
  require(mo.lr_over_p > 0 && std::isfinite(mo.lr_over_p), "--lr-over-p", mo.lr_over_p, "must be a positive number (η = η̂·P)");
  for (double g : mo.gamma0_tildes)
    for (double k : mo.kappas)
      for (std::size_t n : mo.widths) {
        run_config c = base;
        c.width = n;
        c.dim = std::max<std::size_t>(1, std::size_t(std::lround(mo.dim_per_width * double(n))));
        c.samples = std::max<std::size_t>(1, std::size_t(std::lround(mo.samples_per_width * double(n))));
        c.gamma0 = g / std::sqrt(double(c.dim));
        c.lr = mo.lr_over_p * double(c.samples);
        c.outputs = std::max<std::size_t>(1, std::size_t(std::lround(k * double(n))));
        c.save_weights = true;
        c.spectra_every = base.steps;
        c.ntk_every = 0;
        c.hessian_every = 0;
        c.top_k = 4;
        c.quiet = true;
        c.force = true;
        c.validate();
        io::require_memory(entry.memory(c), "--widths contains " + std::to_string(n), "lower the largest width");
        c.out = (dir / "points" / (c.run_name("N" + std::to_string(n)) + "_C" + std::to_string(c.outputs) + "_D" + std::to_string(c.dim) + ".json")).string();
        points.push_back({c, k, g});
      }
  std::error_code ec;
  fs::create_directories(dir / "points", ec);
  if (ec) throw usage_error("--out = " + base.out + ": cannot create directory (" + ec.message() + ")");

  io::json summary = io::json::array();
  std::size_t ran = 0, skipped = 0;
  std::printf("%s, %s, task %s, D = %gN, P = %gN, γ0 = γ̃0/√D, η = %g·P, T = %zu: weight %s at the last step\n", base.model.c_str(),
              base.param.c_str(), base.task.c_str(), mo.dim_per_width, mo.samples_per_width, mo.lr_over_p, base.steps, mo.layer.c_str());
  std::printf("%6s %6s %6s %6s  %10s %8s %9s %4s %8s %8s %9s %8s %9s\n", "γ̃0", "κ", "N", "C", "loss", "s_max", "s_max/e0", "out",
              "KS(init)", "stab.rk", "ipn edge", "KS(ipn)", "ctrl KS");
  io::progress bar("many-outputs", points.size(), base.quiet);
  std::size_t done = 0;
  for (const auto& pt : points) {
    std::string st = run::record_status(pt.cfg.out);
    if (st != "completed" && st != "diverged") {
      const auto r = entry.train(pt.cfg);
      st = r.status;
      ++ran;
      if (st == "interrupted") return finish("specdyn many-outputs", st, r.message + "; finished points kept, re-run to resume", r.signal, r.record);
    } else {
      ++skipped;
    }
    bar.update(++done, 0.0);
    std::ifstream in(pt.cfg.out);
    const auto rec = io::json::parse(in);
    io::json e = {{"kappa", pt.kappa}, {"outputs", pt.cfg.outputs}, {"width", pt.cfg.width}, {"dim", pt.cfg.dim},
                  {"samples", pt.cfg.samples}, {"gamma0", pt.cfg.gamma0}, {"gamma0_tilde", pt.gamma0_tilde}, {"lr", pt.cfg.lr}, {"status", st},
                  {"record", fs::path(pt.cfg.out).filename().string()}};
    const auto loss = rec.value("train_loss", io::json::array());
    e["initial_loss"] = loss.empty() ? io::json(nullptr) : loss.front();
    e["final_loss"] = loss.empty() ? io::json(nullptr) : loss.back();
    if (st != "completed") {
      std::printf("%6g %6g %6zu %6zu  %10s\n", pt.gamma0_tilde, pt.kappa, pt.cfg.width, pt.cfg.outputs, st.c_str());
      summary.push_back(e);
      continue;
    }
    const auto a = run::analyse_bulk(pt.cfg.out, mo.layer, pt.cfg.seed + 17);
    e["bulk"] = run::bulk_json(a);
    // the figure's data: histogram of the trained singular values, the initial law and the prediction
    const double top = a.grid_s.empty() ? 1.3 * a.s_max : a.grid_s.back();
    const std::size_t bins = 60;
    std::vector<double> counts(bins, 0.0), edges, init_pdf, centres;
    for (std::size_t b = 0; b <= bins; ++b) edges.push_back(top * double(b) / double(bins));
    for (double v : a.singular_values) counts[std::min(bins - 1, std::size_t(v / top * double(bins)))] += 1.0 / (double(a.singular_values.size()) * top / double(bins));
    const spectra::singular_law law{a.entry_std, a.rows, a.cols};
    for (std::size_t b = 0; b < bins; ++b) init_pdf.push_back((law.cdf(edges[b + 1]) - law.cdf(edges[b])) / (edges[b + 1] - edges[b]));
    std::vector<double> gs, gd;
    for (std::size_t i = 0; i < a.grid_s.size(); i += 3) {
      gs.push_back(a.grid_s[i]);
      gd.push_back(a.ipn_density[i]);
    }
    e["histogram"] = {{"edges", edges}, {"density", counts}, {"initial_law_density", init_pdf}};
    e["ipn_curve"] = {{"s", gs}, {"density", io::numbers(gd)}};
    summary.push_back(e);
    std::printf("%6g %6g %6zu %6zu  %10.4e %8.4f %9.4f %4zu %8.4f %8.2f %9.4f %8.4f %9.4f\n", pt.gamma0_tilde, pt.kappa, pt.cfg.width, pt.cfg.outputs,
                e["final_loss"].get<double>(), a.s_max, a.s_max / a.edge0, a.outliers, a.ks_initial, a.stable_rank, a.ipn_edge, a.ks_ipn,
                a.control_ks_ipn);
  }
  bar.finish();
  // the edge's convergence in N per (γ0, κ): successive differences |s_max(N_{i+1}) − s_max(N_i)| ∝ N_i^k
  io::json fits = io::json::array();
  for (double g : mo.gamma0_tildes)
    for (double k : mo.kappas) {
      std::vector<std::pair<double, double>> ns;
      for (const auto& e : summary)
        if (e["gamma0_tilde"] == g && e["kappa"] == k && e.contains("bulk")) ns.push_back({e["width"].get<double>(), e["bulk"]["s_max"].get<double>()});
      std::sort(ns.begin(), ns.end());
      if (ns.size() < 2) continue;
      std::vector<double> x, y;
      for (std::size_t i = 0; i + 1 < ns.size(); ++i) {
        x.push_back(ns[i].first);
        y.push_back(std::abs(ns[i + 1].second - ns[i].second));
      }
      const auto fit = stats::power_law_fit(x, y);
      const double last_rel = std::abs(ns.back().second - ns[ns.size() - 2].second) / ns.back().second;
      std::printf("γ̃0 = %g, κ = %g: s_max %s; |Δs_max| between successive widths ∝ N^%.2f%s; last pair differs by %.2f %%\n", g, k,
                  [&] {
                    std::string t;
                    for (const auto& [n, v] : ns) t += (t.empty() ? "" : ", ") + std::to_string(v).substr(0, 6) + " (N=" + std::to_string(std::size_t(n)) + ")";
                    return t;
                  }().c_str(),
                  fit.slope, std::isfinite(fit.ci_low) ? (" [95% CI " + std::to_string(fit.ci_low).substr(0, 5) + ", " + std::to_string(fit.ci_high).substr(0, 5) + "]").c_str() : "",
                  100 * last_rel);
      fits.push_back({{"gamma0_tilde", g}, {"kappa", k}, {"widths", [&] { std::vector<double> w; for (auto& p : ns) w.push_back(p.first); return w; }()},
                      {"s_max", [&] { std::vector<double> w; for (auto& p : ns) w.push_back(p.second); return w; }()},
                      {"successive_difference_exponent", io::number(fit.slope)}, {"ci95", {io::number(fit.ci_low), io::number(fit.ci_high)}},
                      {"last_pair_relative_difference", last_rel}});
    }
  const fs::path path = dir / (base.model + "_many_outputs_" + base.task + "_" + base.param + "_T" + std::to_string(base.steps) + "_s" + std::to_string(base.seed) + ".json");
  io::record rec(path);
  io::json config = base.to_json();
  config["kappas"] = mo.kappas;
  config["widths"] = mo.widths;
  config["gamma0_tildes"] = mo.gamma0_tildes;
  config["lr_over_p"] = mo.lr_over_p;
  config["dim_per_width"] = mo.dim_per_width;
  config["samples_per_width"] = mo.samples_per_width;
  config["layer"] = mo.layer;
  auto& j = rec.begin("many_outputs", config);
  j["status"] = "completed";
  j["points_run"] = ran;
  j["points_skipped"] = skipped;
  j["points"] = summary;
  j["edge_fits"] = fits;
  rec.write();
  std::printf("wrote %s (%zu points run, %zu already complete)\n", path.c_str(), ran, skipped);
  std::fflush(stdout);
  return plot({path.string()}, dir.string());
}

/// A sweep's child (SPECDYN_PARENT_PID set by run_sweep) gets SIGTERM when the sweep dies, even by
/// SIGKILL: it then records itself as interrupted instead of running on unattended.
void stop_with_parent() {
  const char* parent = std::getenv("SPECDYN_PARENT_PID");
  if (!parent) return;
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (std::to_string(::getppid()) != parent) std::raise(SIGTERM);  // the parent died before prctl
}

/// The number of ranks a launcher says this process is one of (1 without mpirun).
long launcher_ranks() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* s = std::getenv(v)) return std::atol(s);
  return 1;
}
bool launcher_rank0() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
    if (const char* s = std::getenv(v)) return std::atol(s) == 0;
  return true;
}

int main(int argc, char** argv) {
  specdyn::blas::ensure_native_core(argv);  // OpenBLAS core guard (may re-execute this program once)
  specdyn::io::keep_freed_memory();         // large temporaries stay in the heap (io/resources.hpp)
  stop_with_parent();
  CLI::App app{"specdyn: spectral dynamics of wide networks, finite width and infinite-width theory"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(specdyn::version) + " (" + specdyn::git_revision + ")");

  auto* list = app.add_subcommand("list", "List the built-in models and scaling rules");

  run_config cfg;
  auto* train = app.add_subcommand("train", "Train a declared model at finite width and record spectra, NTK and sharpness");
  add_run_flags(train, cfg);
  add_measure_flags(train, cfg);

  std::vector<std::string> records;
  std::string plot_out = "plots";
  auto* plot_cmd = app.add_subcommand("plot", "Plot one or more run records (several records share figures)");
  plot_cmd->add_option("RECORD", records, "Run record(s) written by specdyn train")->required();
  plot_cmd->add_option("--out", plot_out, "Directory for the PNG files")->capture_default_str();

  // theory and compare share train's defaults, so their records describe the same run.
  run_config th_cfg;
  run::theory_options th_opt;
  std::size_t th_width = 0;
  auto* theory = app.add_subcommand("theory", "Solve the infinite-width DMFT of a declared model for the same task and write a record");
  add_run_flags(theory, th_cfg, false);
  add_theory_flags(theory, th_opt, th_width);

  run_config cmp_cfg;
  run::theory_options cmp_th;
  run::compare_options cmp_opt;
  std::string cmp_widths = "256,512,1024,2048";
  std::size_t cmp_theory_width = 0;
  auto* compare = app.add_subcommand("compare", "Theory vs finite width: error per width and its fitted exponent");
  add_run_flags(compare, cmp_cfg, false);
  add_theory_flags(compare, cmp_th, cmp_theory_width);
  compare->add_option("--widths", cmp_widths, "Comma-separated finite widths")->capture_default_str();
  compare->add_option("--seeds", cmp_opt.seeds, "Finite-width seeds per width")->capture_default_str();
  std::string cmp_depths;
  compare->add_option("--depths", cmp_depths, "Depth-generic models: comma-separated residual block counts L, one comparison each");

  run_config out_cfg;
  run::theory_options out_th;
  run::outliers_options out_opt;
  std::string out_params = "mup", out_gamma0s = "1", out_sigmas = "1", out_widths = "1024";
  std::size_t out_unused_width = 0;
  auto* outliers = app.add_subcommand("outliers",
                                      "Outliers vs γ0, σ and training time (and μP vs NTK across widths): theory plus finite width");
  add_run_flags(outliers, out_cfg, false);
  add_theory_flags(outliers, out_th, out_unused_width);
  outliers->remove_option(outliers->get_option("--width"));
  outliers->remove_option(outliers->get_option("--param"));
  outliers->remove_option(outliers->get_option("--gamma0"));
  outliers->remove_option(outliers->get_option("--sigma"));
  outliers->add_option("--params", out_params, "Comma-separated scaling rules, e.g. mup,ntk")->capture_default_str();
  outliers->add_option("--gamma0s", out_gamma0s, "Comma-separated output scales γ0")->capture_default_str();
  outliers->add_option("--sigmas", out_sigmas, "Comma-separated initial weight scales σ")->capture_default_str();
  outliers->add_option("--widths", out_widths, "Comma-separated finite widths ('' for theory only); NTK's theory is solved at each")
      ->capture_default_str();
  outliers->add_option("--seeds", out_opt.seeds, "Finite-width seeds per point")->capture_default_str();
  // sweep and outliers draw their figures (matplotlib, 1–2 s) after the run unless told not to
  bool no_plot = false;
  const char* no_plot_help = "Write the records only, no figures (draw them later with specdyn plot RECORD)";
  outliers->add_flag("--no-plot", no_plot, no_plot_help);

  run_config cc_cfg;
  cc_cfg.steps = 5;
  run::coord_options cc_opt;
  std::string cc_widths = "128,256,512,1024,2048,4096";
  std::size_t cc_unused_width = 0;
  auto* coord = app.add_subcommand("coord-check",
                                   "The coordinate check: RMS of every layer's fields and of their change vs width, fitted N^k, with a pass/fail verdict "
                                   "against the rule's promise (exit 0 pass, 1 fail)");
  add_run_flags(coord, cc_cfg, false);
  coord->add_option("--width", cc_unused_width, "(not used: give --widths)");
  coord->remove_option(coord->get_option("--width"));
  coord->add_option("--widths", cc_widths, "Comma-separated increasing widths (at least three)")->capture_default_str();
  coord->add_option("--seeds", cc_opt.seeds, "Initialisations averaged per width")->capture_default_str();
  coord->add_option("--tolerance", cc_opt.tolerance, "Largest |k| of RMS ∝ N^k counted as width-independent")->capture_default_str();
  coord->add_flag("--no-plot", no_plot, no_plot_help);

  run_config sw_cfg;
  sw_cfg.spectra_every = 10;
  sw_cfg.ntk_every = 10;
  run::sweep_options sw_opt;
  std::string sw_params = "mup,ntk", sw_widths = "256,512,1024", sw_lrs = "0.1,0.2,0.5,1,2", sw_gamma0s = "1";
  auto* sweep = app.add_subcommand("sweep", "Grid of rules × widths × learning rates × seeds (× γ0): records per point, "
                                            "learning-rate transfer summary and figures; resumes an interrupted sweep");
  add_run_flags(sweep, sw_cfg, false);
  for (const char* f : {"--param", "--gamma0", "--lr"}) sweep->remove_option(sweep->get_option(f));
  sweep->add_option("--params", sw_params, "Comma-separated scaling rules")->capture_default_str();
  sweep->add_option("--widths", sw_widths, "Comma-separated widths")->capture_default_str();
  sweep->add_option("--lrs", sw_lrs, "Comma-separated learning rates η")->capture_default_str();
  sweep->add_option("--gamma0s", sw_gamma0s, "Comma-separated output scales γ0")->capture_default_str();
  sweep->add_option("--seeds", sw_opt.seeds, "Seeds per point (seed, seed+1, ...)")->capture_default_str();
  std::string sw_depths;
  sweep->add_option("--depths", sw_depths, "Depth-generic models: comma-separated residual block counts L (η* per depth, η* ∝ L^k)");
  sweep->add_option("--jobs", sw_opt.jobs, "Points run in parallel (0: all cores)")->capture_default_str();
  sweep->add_flag("--theory", sw_opt.theory, "Also solve the N = ∞ theory of each (rule, γ0, η) for width-independent rules");
  sweep->add_option("--particles", sw_opt.particles, "Theory particles per replica (nonlinear networks)")->capture_default_str();
  sweep->add_option("--replicas", sw_opt.replicas, "Theory replicas")->capture_default_str();
  sweep->add_option("--spectra-every", sw_cfg.spectra_every, "Steps between spectra snapshots of each point")->capture_default_str();
  sweep->add_option("--ntk-every", sw_cfg.ntk_every, "Steps between NTK measurements of each point")->capture_default_str();
  sweep->add_flag("--no-plot", no_plot, no_plot_help);

  run_config mo_cfg;
  mo_cfg.model = "deep_linear3";
  mo_cfg.task = "linear";
  mo_cfg.test_samples = 0;
  mo_cfg.steps = 30;
  many_options mo_opt;
  mo_cfg.lr = 1;  // replaced per point by η̂·P
  std::string mo_kappas = "0,0.25,0.5", mo_widths = "256,512,1024", mo_gamma0s = "16";
  auto* many = app.add_subcommand("many-outputs", "Extensive-output toy model: C = κN outputs, D = νN, P = αN; trained bulk vs the "
                                                  "initial law and the independent-update (information-plus-noise) prediction");
  add_run_flags(many, mo_cfg, false);
  for (const char* f : {"--dim", "--samples", "--outputs", "--gamma0", "--lr", "--x", "--y", "--vocab", "--context", "--data-dir", "--teacher"})
    many->remove_option(many->get_option(f));
  many->add_option("--kappas", mo_kappas, "Comma-separated κ = C/N (0: one output)")->capture_default_str();
  many->add_option("--widths", mo_widths, "Comma-separated widths N")->capture_default_str();
  many->add_option("--gamma0-tildes", mo_gamma0s, "Comma-separated γ̃0: the output scale is γ0 = γ̃0/√D")->capture_default_str();
  many->add_option("--lr-over-p", mo_opt.lr_over_p, "η̂: the learning rate is η = η̂·P")->capture_default_str();
  many->add_option("--dim-per-width", mo_opt.dim_per_width, "ν: input dimension D = νN")->capture_default_str();
  many->add_option("--samples-per-width", mo_opt.samples_per_width, "α: training samples P = αN")->capture_default_str();
  many->add_option("--layer", mo_opt.layer, "The weight analysed (W1: the first hidden N×N weight)")->capture_default_str();

  dmft::proportional_problem pp;
  run::proportional_options pp_opt;
  std::string pp_dims = "256,512,1024";
  auto* proportional = app.add_subcommand("proportional",
      "Deep linear networks in the proportional limit (N, D, P → ∞ at fixed ratios): theory vs networks at growing D");
  std::string pp_model = "deep_linear2";
  proportional->add_option("--model", pp_model, "deep_linear2, deep_linear3 or deep_linear4 (one, two or three dense layers)")->capture_default_str();
  proportional->add_option("--dims", pp_dims, "Comma-separated input dimensions D of the networks")->capture_default_str();
  proportional->add_option("--ratio-samples", pp.alpha, "α = P/D")->capture_default_str();
  proportional->add_option("--ratio-width", pp.nu, "ν = N/D")->capture_default_str();
  proportional->add_option("--gamma0-tilde", pp.gamma0_tilde, "γ̃0 = γ0·√D (held fixed as D grows)")->capture_default_str();
  proportional->add_option("--lr-over-p", pp.eta_hat, "η/P (held fixed; the network at D uses η = this × αD)")->capture_default_str();
  proportional->add_option("--sigma", pp.sigma, "Initial weight scale σ")->capture_default_str();
  proportional->add_option("--noise", pp.noise, "Label noise σ_ε")->capture_default_str();
  proportional->add_option("--steps", pp.steps, "Training steps T")->capture_default_str();
  proportional->add_option("--seeds", pp_opt.seeds, "Networks per D (fresh data, weights and teacher)")->capture_default_str();
  proportional->add_option("--seed", pp_opt.seed, "First seed")->capture_default_str();
  proportional->add_flag("--online", pp.online, "One-pass SGD: a fresh batch of B = αD points per step (--ratio-samples is then B/D, --lr-over-p is η/B)");
  proportional->add_option("--spectra-every", pp_opt.spectra_every,
                           "Predict and measure the weights' top singular values every this many steps (0: never)")->capture_default_str();
  proportional->add_option("--out", pp_opt.out, "Directory for the record")->capture_default_str();
  proportional->add_flag("--quiet", pp_opt.quiet, "No progress bar or table");
  proportional->add_option("--ntk-lanczos", pp.ntk_iterations,
                           "Lanczos iterations (at most) for the theory's NTK top eigenvalue at t = 0, the spectra steps and T (0: skip)")
      ->capture_default_str();
  bool pp_no_ntk = false;
  proportional->add_flag("--no-ntk", pp_no_ntk,
                         "Skip the networks' λ_max(K) at steps 0 and T (each forms the P×P kernel, then Lanczos: a large share of the time at P = 4096)");
  run::proportional_scan_options ps_opt;
  std::string ps_nus, ps_lrs, ps_params = "mup,ntk";
  proportional->add_option("--scan-nus", ps_nus,
                           "Theory-only learning-rate scan: comma-separated ν = N/D at fixed D (with --scan-lrs-over-p; no networks are trained)");
  proportional->add_option("--scan-lrs-over-p", ps_lrs, "Comma-separated η/P values of the scan");
  proportional->add_option("--scan-dim", ps_opt.dim, "Input dimension D of the scan (μP: γ̃0 = γ0√D; NTK: γ̃0 = γ0√D/√N)")->capture_default_str();
  proportional->add_option("--gamma0", ps_opt.gamma0, "Network output scale γ0 of the scan")->capture_default_str();
  proportional->add_option("--params", ps_params, "Rules of the scan (mup, ntk)")->capture_default_str();

  std::string eq_model, eq_param = "mup", eq_out;
  double eq_gamma0 = 1.0;
  std::size_t eq_width = 0;
  run_config eq_cfg;
  auto* equations = app.add_subcommand("equations", "Print the DMFT closure of a model under a rule (Markdown + LaTeX)");
  equations->add_option("--model", eq_model, "Built-in model")->required();
  equations->add_option("--param", eq_param, "Scaling rule")->capture_default_str();
  equations->add_option("--gamma0", eq_gamma0, "γ0")->capture_default_str();
  equations->add_option("--depth", eq_cfg.depth, "Depth-generic models: residual blocks L (default 4)");
  equations->add_option("--depth-alpha", eq_cfg.depth_alpha, "Override the rule's depth exponent α_L");
  equations->add_option("--branch", eq_cfg.branch, "Residual branch prefactor β")->capture_default_str();
  equations->add_option("--lr", eq_cfg.lr, "Block declarations: η of the printed coefficients")->capture_default_str();
  equations->add_option("--samples", eq_cfg.samples, "Block declarations: P of the printed coefficients")->capture_default_str();
  equations->add_option("--sigma", eq_cfg.sigma, "Block declarations: σ of the printed coefficients")->capture_default_str();
  equations->add_option("--width", eq_width, "Effective theory at this width (NTK)");
  equations->add_option("--out", eq_out, "Write to this file instead of stdout");

  std::string demo_out = "runs/demo";
  bool demo_quiet = false;
  auto* demo = app.add_subcommand("demo", "mlp3_tanh on a single-index task, μP vs NTK at N = 256 and 1024 and the μP theory, records and plots");
  demo->add_option("--out", demo_out, "Output directory")->capture_default_str();
  demo->add_flag("--quiet", demo_quiet, "No progress bars");

  add_numeric_checks(&app);
  std::string cmd_name = "specdyn";
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string sub;
    for (const auto* s : app.get_subcommands()) sub = " " + s->get_name();
    if (launcher_rank0()) std::fprintf(stderr, "specdyn%s: %s; see specdyn%s --help\n", sub.c_str(), e.what(), sub.c_str());
    return 2;
  }

  // sweep and compare spread their points over the ranks of mpirun, theory its replicas; the other commands run on one
  std::optional<run::mpi::session> mpi_session;
  if (launcher_ranks() > 1 && !*sweep && !*compare && !*theory) {
    if (launcher_rank0())
      std::fprintf(stderr, "specdyn %s: runs on one rank (only sweep, compare and theory spread over MPI ranks); start it without mpirun\n",
                   app.get_subcommands().front()->get_name().c_str());
    return 2;
  }
  if (*sweep || *compare || *theory) {
    if (launcher_ranks() > 1 && !run::mpi::available()) {
      if (launcher_rank0())
        std::fprintf(stderr, "specdyn: started by mpirun with %ld ranks, but built without MPI; rebuild with -DSPECDYN_MPI=ON "
                             "(needs libopenmpi-dev) or run without mpirun\n", launcher_ranks());
      return 2;
    }
    try {
      mpi_session.emplace(argc, argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "specdyn: %s\n", e.what());
      return 1;
    }
  }
  // usage errors are the same on every rank: rank 0 alone says so
  const bool speaks = run::mpi::rank() == 0;

  try {
    const std::pair<CLI::App*, run_config*> run_commands[] = {{train, &cfg}, {theory, &th_cfg}, {compare, &cmp_cfg}, {outliers, &out_cfg}, {sweep, &sw_cfg}};
    for (const auto& [cmd, c] : run_commands)
      if (*cmd) fit_real_data(cmd, *c);
    // flags whose empty or zero value would otherwise read as "not given"
    for (const auto* cmd : app.get_subcommands())
      for (const auto* opt : cmd->get_options()) {
        if (!opt->count()) continue;
        const std::string name = opt->get_name(), value = opt->results().empty() ? "" : opt->results().front();
        if (name == "--depth" && value == "0") throw usage_error("--depth = 0: use 1 to 4096 residual blocks");
        if ((name == "--depth-alpha" || name == "--depths") && value.empty())
          throw usage_error(name + " = '': give a value (" + (name == "--depths" ? "e.g. 2,4,8,16" : "e.g. 0, 1/2 or 1") + ") or leave the flag out");
      }
    if (*list) {
      std::printf("%-18s %-7s %s\n", "model", "layers", "declaration");
      for (const auto& e : models::registry())
        std::printf("%-18s %-7s %s\n", e.name.c_str(), e.depth_generic ? "--depth" : std::to_string(e.hidden_layers).c_str(), e.declaration.c_str());
      std::printf("\nscaling rules (verdict for 2 hidden layers; depth verdict as L → ∞ for residual networks):\n");
      for (const char* r : {"mup", "mup_tp4", "mf", "ntk", "sp", "sp_lr", "depth_mup"}) {
        const auto info = rule_from_name(r, 2);
        std::printf("  %-10s %-17s depth: %s\n", r, std::string(dsl::to_string(info.verdict)).c_str(),
                    std::string(dsl::to_string(dsl::classify_depth(info.table))).c_str());
      }
      return 0;
    }
    if (*train) {
      cmd_name = "specdyn train";
      cfg.command_line = command_line(argc, argv);
      const auto r = train_one(cfg);
      report(r, cfg.quiet);
      return exit_code(r);
    }
    if (*theory) {
      cmd_name = "specdyn theory";
      if (th_width) th_opt.width = th_width;
      th_cfg.command_line = command_line(argc, argv);
      th_opt.quiet = th_cfg.quiet;
      th_opt.spread_ranks = run::mpi::distributed();
      const auto& entry = models::find_model(th_cfg.model);
      const auto r = entry.theory(th_cfg, th_opt);
      if (!r.summary_rank) return 0;  // rank 0 reports and writes the record
      if (!th_cfg.quiet && !r.sol.mean.train_loss.empty())
        std::printf("wrote %s (%s; final training loss %s)\n", r.record.c_str(), r.sol.solver.c_str(),
                    plus_minus(r.sol.mean.train_loss.back(), r.sol.train_loss_se.back(), r.sol.replicas).c_str());
      return finish(cmd_name, r.status, r.message, r.signal, r.record);
    }
    if (*compare) {
      cmd_name = "specdyn compare";
      if (cmp_theory_width) cmp_th.width = cmp_theory_width;
      cmp_opt.widths = parse_sizes("--widths", cmp_widths);
      cmp_cfg.command_line = command_line(argc, argv);
      cmp_th.quiet = cmp_cfg.quiet;
      const auto& entry = models::find_model(cmp_cfg.model);
      std::vector<std::size_t> depths{cmp_cfg.depth};
      if (!cmp_depths.empty()) {
        depths = parse_sizes("--depths", cmp_depths);
        if (!entry.depth_generic)
          throw usage_error("--depths = " + cmp_depths + ": --model " + cmp_cfg.model + " has a fixed depth; use a depth-generic model (specdyn list: --depth)");
        if (compare->count("--depth")) throw usage_error("--depth = " + std::to_string(cmp_cfg.depth) + ": give either --depth or --depths, not both");
        for (std::size_t d : depths) {  // every depth's input and memory is checked before the first one runs
          run_config c = cmp_cfg;
          c.depth = d;
          c.validate();
          for (std::size_t n : cmp_opt.widths) {
            c.width = n;
            io::require_memory(entry.memory(c), "--depths contains " + std::to_string(d) + " (at width " + std::to_string(n) + ")",
                               "lower the largest depth or width");
          }
        }
      }
      // one comparison per depth; a summary line per depth when several
      std::vector<std::pair<std::size_t, run::compare_result>> all;
      for (std::size_t d : depths) {
        run_config c = cmp_cfg;
        c.depth = d;
        const auto r = entry.compare(c, cmp_th, cmp_opt);
        if (!r.summary_rank) {
          if (r.status != "completed") return r.status == "interrupted" ? io::exit_code_for_signal(r.signal) : 1;
          continue;
        }
        std::printf("wrote %s and %s (%zu finite-width points run, %zu already complete%s)\n", r.record.c_str(), r.theory_record.c_str(),
                    r.points_run, r.points_skipped,
                    run::mpi::distributed() ? (", " + std::to_string(run::mpi::size()) + " ranks").c_str() : "");
        if (r.status != "completed") return finish(cmd_name, r.status, r.message, r.signal, r.record);
        all.emplace_back(d, r);
      }
      if (all.size() > 1) {
        std::printf("\ndepth summary: loss-curve error at the largest width, and its fitted exponent in N\n%6s %8s %10s %8s\n", "L", "N", "error", "k");
        for (const auto& [d, r] : all)
          if (!r.widths.empty())
            std::printf("%6zu %8zu %10.4f %8.2f\n", d, r.widths.back().width, stats::mean_se(r.widths.back().loss_error).first, r.loss_fit.fit.slope);
      }
      return 0;
    }
    if (*coord) {
      cmd_name = "specdyn coord-check";
      cc_opt.widths = parse_sizes("--widths", cc_widths);
      cc_cfg.command_line = command_line(argc, argv);
      const auto& entry = models::find_model(cc_cfg.model);
      const auto r = entry.coord_check(cc_cfg, cc_opt);
      std::printf("wrote %s\n%s\n", r.record.c_str(), r.verdict.c_str());
      std::fflush(stdout);
      if (!no_plot && r.status == "completed") plot({r.record.string()}, r.record.parent_path().string());
      if (r.status != "completed") return finish(cmd_name, r.status, r.message, 0, r.record);
      return r.pass ? 0 : 1;
    }
    if (*outliers) {
      cmd_name = "specdyn outliers";
      out_opt.params = parse_words(out_params);
      out_opt.gamma0s = parse_numbers("--gamma0s", out_gamma0s);
      out_opt.sigmas = parse_numbers("--sigmas", out_sigmas);
      out_opt.widths = parse_sizes("--widths", out_widths, true);
      for (const auto& p : out_opt.params) rule_from_name(p, 2);  // names the bad rule
      out_cfg.command_line = command_line(argc, argv);
      out_th.quiet = out_cfg.quiet;
      const auto& entry = models::find_model(out_cfg.model);
      const auto r = entry.outliers(out_cfg, out_th, out_opt);
      std::printf("wrote %s\n", r.record.c_str());
      std::fflush(stdout);
      if (!r.points.empty() && !no_plot) {
        const std::string figs = r.record.parent_path().string();
        if (plot({r.record.string()}, figs) == 0) std::printf("figures in %s\n", figs.c_str());
      }
      return finish(cmd_name, r.status, r.message, r.signal, r.record);
    }
    if (*proportional) {
      cmd_name = "specdyn proportional";
      require(pp_model == "deep_linear2" || pp_model == "deep_linear3" || pp_model == "deep_linear4", "--model", pp_model,
              "the proportional theory knows deep_linear2, deep_linear3 and deep_linear4");
      pp.depth = std::size_t(pp_model.back() - '1');
      const bool scan = proportional->count("--scan-nus") || proportional->count("--scan-lrs-over-p");
      if (!scan)  // flags that only the theory-only scan reads are refused rather than ignored
        for (const char* f : {"--scan-dim", "--gamma0", "--params"})
          if (proportional->count(f))
            throw usage_error(std::string(f) + " = " + proportional->get_option(f)->as<std::string>() +
                              ": only the learning-rate scan uses it; add --scan-nus and --scan-lrs-over-p, or leave it out");
      if (scan) {
        require(!ps_nus.empty() && !ps_lrs.empty(), "--scan-nus", ps_nus.empty() ? std::string("''") : ps_nus,
                "a scan needs both --scan-nus and --scan-lrs-over-p");
        ps_opt.nus = parse_numbers("--scan-nus", ps_nus);
        ps_opt.eta_hats = parse_numbers("--scan-lrs-over-p", ps_lrs);
        ps_opt.params = parse_words(ps_params);
        ps_opt.out = pp_opt.out;
        ps_opt.quiet = pp_opt.quiet;
        const auto rec = run::run_proportional_scan(pp, ps_opt, command_line(argc, argv));
        std::printf("wrote %s\n", rec.c_str());
        return 0;
      }
      pp_opt.dims = parse_sizes("--dims", pp_dims);
      pp_opt.ntk = !pp_no_ntk;
      const auto r = pp.depth == 1   ? run::run_proportional(models::deep_linear2, pp, pp_opt, command_line(argc, argv))
                     : pp.depth == 2 ? run::run_proportional(models::deep_linear3, pp, pp_opt, command_line(argc, argv))
                                     : run::run_proportional(models::deep_linear4, pp, pp_opt, command_line(argc, argv));
      std::printf("wrote %s\n", r.record.c_str());
      return finish(cmd_name, r.status, r.message, r.signal, r.record);
    }
    if (*sweep) {
      cmd_name = "specdyn sweep";
      sw_opt.params = parse_words(sw_params);
      sw_opt.widths = parse_sizes("--widths", sw_widths);
      sw_opt.lrs = parse_numbers("--lrs", sw_lrs);
      sw_opt.gamma0s = parse_numbers("--gamma0s", sw_gamma0s);
      const auto& sw_entry = models::find_model(sw_cfg.model);
      if (!sw_depths.empty()) {
        sw_opt.depths = parse_sizes("--depths", sw_depths);
        if (!sw_entry.depth_generic)
          throw usage_error("--depths = " + sw_depths + ": --model " + sw_cfg.model + " has a fixed depth; use a depth-generic model (specdyn list: --depth)");
        if (sweep->count("--depth")) throw usage_error("--depth = " + std::to_string(sw_cfg.depth) + ": give either --depth or --depths, not both");
      } else if (sw_entry.depth_generic && sw_cfg.depth == 0) {
        sw_cfg.depth = default_depth;
      }
      sw_cfg.command_line = command_line(argc, argv);
      for (std::size_t n : sw_opt.widths) {
        run_config c = sw_cfg;
        c.width = n;
        for (std::size_t d : sw_opt.depths) c.depth = std::max(c.depth, d);  // the deepest point's memory
        c.validate();
        io::require_memory(models::find_model(sw_cfg.model).memory(c) * double(std::max<std::size_t>(1, sw_opt.jobs ? sw_opt.jobs : 2)),
                           "--widths contains " + std::to_string(n) + (sw_opt.depths.empty() ? "" : " (at the largest of --depths, " + std::to_string(c.depth) + ")"),
                           sw_opt.depths.empty() ? "lower the largest width or --jobs" : "lower the largest width or depth, or --jobs");
      }
      auto r = run::run_sweep(fs::read_symlink("/proc/self/exe").string(), sw_cfg, sw_opt);
      if (!r.summary_rank) return r.status == "interrupted" ? io::exit_code_for_signal(r.signal) : 0;
      run::write_sweep_summary(r, sw_cfg, sw_opt);
      std::printf("wrote %s (%zu points run, %zu already complete)\n", r.record.c_str(), r.ran, r.skipped);
      std::fflush(stdout);
      if (r.status != "failed" && !no_plot) plot({r.record.string()}, r.record.parent_path().string());
      return finish(cmd_name, r.status, r.message, r.signal, r.record);
    }
    if (*many) {
      cmd_name = "specdyn many-outputs";
      mo_opt.kappas.clear();
      {
        std::stringstream ss(mo_kappas);
        for (std::string tok; std::getline(ss, tok, ',');) {
          char* end = nullptr;
          const double v = std::strtod(tok.c_str(), &end);
          if (tok.empty() || *end != '\0' || !(v >= 0) || !std::isfinite(v))
            throw usage_error("--kappas = " + mo_kappas + ": use numbers ≥ 0 separated by commas (0: one output), e.g. 0,0.25,1");
          mo_opt.kappas.push_back(v);
        }
        if (mo_opt.kappas.empty()) throw usage_error("--kappas = '': give at least one κ, e.g. 0,1");
      }
      mo_opt.widths = parse_sizes("--widths", mo_widths);
      mo_opt.gamma0_tildes = parse_numbers("--gamma0-tildes", mo_gamma0s);
      mo_cfg.command_line = command_line(argc, argv);
      return run_many_outputs(mo_cfg, mo_opt);
    }
    if (*equations) {
      cmd_name = "specdyn equations";
      const auto& entry = models::find_model(eq_model);
      require(eq_gamma0 > 0 && std::isfinite(eq_gamma0), "--gamma0", eq_gamma0, "must be a positive number");
      require(!equations->count("--width") || eq_width >= 1, "--width", eq_width, "must be a positive integer (or leave it out for N = ∞)");
      eq_cfg.model = eq_model;
      eq_cfg.param = eq_param;
      eq_cfg.gamma0 = eq_gamma0;
      eq_cfg.validate();
      const std::string text = entry.equations(eq_cfg, eq_width ? std::optional<std::size_t>(eq_width) : std::nullopt);
      if (eq_out.empty()) std::fputs(text.c_str(), stdout);
      else io::write_atomic(eq_out, text);
      return 0;
    }
    if (*plot_cmd) {
      cmd_name = "specdyn plot";
      return plot(records, plot_out);
    }
    if (*demo) {
      cmd_name = "specdyn demo";
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<std::string> made;
      // mlp3_tanh on a single-index task at γ0 = 3, η = 0.4: a clear outlier under μP. The same
      // run at N = 256 and 1024 under μP and NTK, and the μP theory at N = ∞ on the same data.
      run_config c;
      c.model = "mlp3_tanh";
      c.dim = 16;
      c.samples = 16;
      c.test_samples = 0;  // keeps the theory's cost (∝ (P_train + P_test)²) at half a minute
      c.gamma0 = 3.0;
      c.lr = 0.4;
      c.steps = 60;
      c.spectra_every = 5;
      c.hessian_every = 20;
      c.ntk_every = 5;
      c.out = demo_out;
      c.quiet = demo_quiet;
      c.force = true;
      c.command_line = command_line(argc, argv);
      for (const char* param : {"mup", "ntk"})
        for (std::size_t n : {256, 1024}) {
          c.param = param;
          c.width = n;
          const auto r = train_one(c);
          report(r, false);
          made.push_back(r.record);
        }
      c.param = "mup";
      run::theory_options th;
      th.particles = 8000;
      th.replicas = 2;
      th.spectra_every = 5;
      th.quiet = demo_quiet;
      const auto th_res = models::find_model("mlp3_tanh").theory(c, th);
      std::printf("wrote %s (theory, N = ∞)\n", th_res.record.c_str());
      made.push_back(th_res.record.string());
      const int rc = plot(made, demo_out);
      std::printf("demo finished in %.0f s; plots in %s\n",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), demo_out.c_str());
      return rc;
    }
  } catch (const usage_error& e) {
    if (speaks) std::fprintf(stderr, "%s: %s\n", cmd_name.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", cmd_name.c_str(), e.what());
    return 1;
  }
  return 0;
}
