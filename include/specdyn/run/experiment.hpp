// One finite-width experiment from a declaration: build the task, bind the network under a rule,
// train, and measure along the way (loss, outputs, NTK and its edge-of-stability ratio, Hessian
// sharpness, weight spectra), then write one run record. This is what `specdyn train` runs; it is
// equally usable from C++:
//   specdyn::run_config cfg; cfg.model = "mlp3_tanh"; cfg.width = 1024; cfg.out = "runs/";
//   cfg.validate();
//   auto result = specdyn::run_experiment(specdyn::models::mlp3_tanh, cfg);
#pragma once

#include "specdyn/core.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "specdyn/io/progress.hpp"
#include "specdyn/io/record.hpp"
#include "specdyn/io/resources.hpp"
#include "specdyn/io/signals.hpp"
#include "specdyn/spectra/hessian.hpp"
#include "specdyn/spectra/ntk.hpp"
#include "specdyn/spectra/tracker.hpp"
#include "specdyn/data/loaders.hpp"
#include "specdyn/data/tasks.hpp"
#include "specdyn/train/trainer.hpp"

namespace specdyn {

/// Every knob of a finite-width run (the `specdyn train` flags).
struct run_config {
  std::string model;
  std::string param = "mup";  // mup | mup_tp4 | ntk | mf | sp | sp_lr | depth_mup
  // One set of defaults for train, theory and compare, so that their records describe the same
  // run (the theory's cost grows like (samples + test samples)² · steps², docs/dmft.md).
  std::size_t width = 256, dim = 64, samples = 16, outputs = 1, test_samples = 16;
  double gamma0 = 1.0, sigma = 1.0, lr = 0.5;
  // residual and biased declarations: the repeat count of repeat<any_depth> (0: not given; such a
  // declaration then runs at default_depth), the branch prefactor β of m_L = β L^{-α_L}, the initial
  // std of biases, and an override of the rule's depth exponent α_L (empty: the rule's own)
  std::size_t depth = 0;
  double branch = 1.0, sigma_bias = 1.0;
  std::string depth_alpha;
  std::size_t steps = 50, batch = 0;
  // the optimizer (train/optimizer.hpp, docs/optimizers.md): sgd is GD/SGD; the others' constants
  std::string optimizer = "sgd";        // sgd | momentum | nesterov | adam | adamw | sign
  double momentum = 0.9, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  std::uint64_t seed = 0;
  std::string task = "single-index";  // single-index | linear | random | npy | fashion-mnist | text
  std::string teacher = "tanh";
  double noise = 0.0;
  double covariance_decay = 0.0;      // input covariance λ_k ∝ k^{−a}; 0: isotropic
  std::string x_npy, y_npy;
  std::size_t vocab = 1000, context = 2;  // text: classes C (<unk> included) and previous words k, D = k·C
  std::string data_dir;               // fashion-mnist, text: the data's directory (empty: the Debian package's)
  std::string loss = "mse";           // mse | xent
  bool centre = true;
  std::size_t spectra_every = 10, top_k = 16;
  std::string spectra_method = "auto";
  long ntk_every = -1;                // -1: same as spectra_every; 0: never
  long hessian_every = 50;            // 0: never; each measurement costs ~40 Hessian-vector products
  std::size_t eval_every = 1;         // test loss and outputs f
  std::string out = "runs";
  bool quiet = false;
  bool force = false;                 // overwrite a record written by a different configuration
  bool save_weights = false;          // write every weight (scale·W, as the spectra see it) at t = 0 and at the end to .npy
  std::string command_line;

  /// Checks every value; throws usage_error("--flag = value: what is allowed") on the first bad one.
  SPECDYN_CORE_FN void validate() const
#if SPECDYN_CORE_BODIES
  {
    static const std::vector<std::string> params{"mup", "mup_tp4", "ntk", "mf", "sp", "sp_lr", "depth_mup"};
    if (std::find(params.begin(), params.end(), param) == params.end())
      throw usage_error("--param = " + param + ": use mup, mup_tp4, ntk, mf, sp, sp_lr or depth_mup");
    require(depth <= 4096, "--depth", depth, "use 1 to 4096 residual blocks");
    require(branch > 0 && std::isfinite(branch), "--branch", branch, "must be a positive number (m_L = β L^{-α_L})");
    require(sigma_bias >= 0 && std::isfinite(sigma_bias), "--sigma-bias", sigma_bias, "must be a non-negative number");
    if (!depth_alpha.empty())
      require(parse_exponent(depth_alpha, "--depth-alpha").value() >= 0, "--depth-alpha", depth_alpha,
              "use α_L ≥ 0 (0: plain residual, 1/2: depth-μP, 1: the ODE scaling)");
    require(width >= 1, "--width", width, "must be a positive integer");
    if (task == "text") {  // before --dim, which they set
      require(vocab >= 2 && vocab <= 100000, "--vocab", vocab, "use 2 to 100000 classes (the most frequent words and <unk>)");
      require(context >= 1 && context <= 16, "--context", context, "use 1 to 16 previous words");
    }
    require(dim >= 1, "--dim", dim, "must be a positive integer");
    require(samples >= 1 || task == "npy", "--samples", samples, "must be a positive integer");
    require(outputs >= 1, "--outputs", outputs, "must be a positive integer");
    require(gamma0 > 0 && std::isfinite(gamma0), "--gamma0", gamma0, "must be a positive number");
    require(sigma > 0 && std::isfinite(sigma), "--sigma", sigma, "must be a positive number");
    require(lr > 0 && std::isfinite(lr), "--lr", lr, "must be a positive number");
    require(batch <= samples || task == "npy", "--batch", batch, "must be at most --samples (" + std::to_string(samples) + "); 0 means full batch");
    if (task != "single-index" && task != "linear" && task != "random" && task != "npy" && !real_data())
      throw usage_error("--task = " + task + ": use single-index, linear, random, npy, fashion-mnist or text");
    if (real_data()) {
      const auto [d, c] = task_shape();
      require(dim == d, "--dim", dim, "--task " + task + " has D = " + std::to_string(d) + "; leave --dim out (it is set from the data)");
      require(outputs == c, "--outputs", outputs, "--task " + task + " has C = " + std::to_string(c) + " classes; leave --outputs out (it is set from the data)");
      require(noise == 0, "--noise", noise, "label noise is for teacher tasks; leave it out with --task " + task);
      require(covariance_decay == 0, "--covariance-decay", covariance_decay, "is for synthetic inputs; leave it out with --task " + task);
    }
    if (task == "single-index") teacher_link(teacher, 0.0);
    require(noise >= 0 && std::isfinite(noise), "--noise", noise, "must be a non-negative number");
    require(covariance_decay >= 0 && std::isfinite(covariance_decay), "--covariance-decay", covariance_decay,
            "must be a non-negative number (0: isotropic inputs)");
    if (task == "npy" && (x_npy.empty() || y_npy.empty())) throw usage_error("--task = npy: give both --x FILE.npy and --y FILE.npy");
    if (task != "npy" && (!x_npy.empty() || !y_npy.empty())) throw usage_error("--x/--y = given: they need --task npy");
    if (loss != "mse" && loss != "xent") throw usage_error("--loss = " + loss + ": use mse or xent");
    if (loss == "xent" && outputs < 2) throw usage_error("--loss = xent: needs --outputs 2 or more (softmax over outputs)");
    if (loss == "xent" && task != "random" && task != "npy" && !real_data())
      throw usage_error("--loss = xent: use --task random (one-hot labels), fashion-mnist, text, or --task npy with one-hot y");
    require(steps <= 10000000, "--steps", steps, "must be at most 10^7");
    optim().validate();
    require(top_k >= 1, "--top-k", top_k, "must be at least 1");
    spectra::parse_method(spectra_method);
    require(ntk_every >= -1, "--ntk-every", ntk_every, "must be -1 (with spectra), 0 (never) or a positive integer");
    require(hessian_every >= 0, "--hessian-every", hessian_every, "must be 0 (never) or a positive integer");
    require(eval_every >= 1, "--eval-every", eval_every, "must be at least 1");
    if (out.empty()) throw usage_error("--out = '': give a directory or a .json path");
  }
#else
  ;
#endif

  /// The scaling rule of this run: --param with --depth-alpha applied.
  [[nodiscard]] SPECDYN_CORE_FN rule_info rule(std::size_t hidden_layers) const
#if SPECDYN_CORE_BODIES
  {
    rule_info r = rule_from_name(param, hidden_layers);
    if (!depth_alpha.empty()) {
      r.table.alpha_depth = parse_exponent(depth_alpha, "--depth-alpha");
      r.name += "_alpha" + compact(r.table.alpha_depth.value());  // a decimal: names become file names
    }
    return r;
  }
#else
  ;
#endif
  /// The optimizer of this run (usage_error for an unknown --optimizer).
  [[nodiscard]] optimizer_options optim() const {
    return {.kind = parse_optimizer(optimizer), .momentum = momentum, .beta1 = beta1, .beta2 = beta2, .eps = eps, .weight_decay = weight_decay};
  }
  /// GD/SGD without weight decay: what every theory command describes so far.
  [[nodiscard]] bool plain_optimizer() const { return optimizer == "sgd" && weight_decay == 0.0; }
  /// The runtime sizes and hyper-parameters a model is bound with.
  [[nodiscard]] shape model_shape() const { return {.D = dim, .N = width, .C = outputs, .depth = depth}; }
  [[nodiscard]] hyper model_hyper(std::uint64_t weight_seed) const {
    return {.gamma0 = gamma0, .sigma = sigma, .eta = lr, .seed = weight_seed, .sigma_bias = sigma_bias, .branch = branch};
  }

  /// Real data (data/loaders.hpp): D and C come from the data, targets are one-hot classes.
  [[nodiscard]] bool real_data() const { return task == "fashion-mnist" || task == "text"; }
  /// Input dimension D and classes C that a real-data task fixes: 784 pixels and 10 classes, or
  /// context·vocab and vocab. {dim, outputs} for other tasks.
  [[nodiscard]] std::pair<std::size_t, std::size_t> task_shape() const {
    if (task == "fashion-mnist") return {784, 10};
    if (task == "text") return {context * vocab, vocab};
    return {dim, outputs};
  }
  /// Classification: accuracy (argmax of the outputs against the one-hot target) is recorded.
  [[nodiscard]] bool classification() const { return loss == "xent" || real_data(); }
  /// The data directory a real-data task reads.
  [[nodiscard]] std::string data_source() const {
    if (!data_dir.empty() || !real_data()) return data_dir;
    return task == "text" ? fortunes_default_dir : fashion_mnist_default_dir;
  }

  /// What distinguishes runs in a file name: model, rule, task, P, T, η, γ0, seed (and N for train).
  [[nodiscard]] SPECDYN_CORE_FN std::string run_name(const std::string& kind) const
#if SPECDYN_CORE_BODIES
  {
    std::string name = model + "_" + param + "_" + kind + "_" + task + "_P" + std::to_string(samples) + "_T" + std::to_string(steps) +
                       "_lr" + compact(lr) + "_g" + compact(gamma0);
    if (sigma != 1.0) name += "_sig" + compact(sigma);
    if (depth != 0) name += "_L" + std::to_string(depth);
    if (!depth_alpha.empty()) name += "_alpha" + compact(parse_exponent(depth_alpha, "--depth-alpha").value());  // 1/2 → 0.5: no '/' in a file name
    if (branch != 1.0) name += "_beta" + compact(branch);
    if (sigma_bias != 1.0) name += "_sigb" + compact(sigma_bias);
    if (covariance_decay != 0.0) name += "_cov" + compact(covariance_decay);
    if (task == "text") name += "_V" + std::to_string(vocab) + "_k" + std::to_string(context);
    if (batch) name += "_B" + std::to_string(batch);
    if (loss != "mse") name += "_" + loss;
    if (!plain_optimizer()) name += "_" + optimizer_tag();
    return name + "_s" + std::to_string(seed);
  }
#else
  ;
#endif
  /// The record's path: `out` itself when it ends in .json, else a file named after the run in `out`.
  [[nodiscard]] std::filesystem::path record_path(const std::string& kind = "") const {
    std::filesystem::path p(out);
    if (p.extension() == ".json") return p;
    return p / (run_name(kind.empty() ? "N" + std::to_string(width) : kind) + ".json");
  }

  [[nodiscard]] SPECDYN_CORE_FN io::json to_json() const
#if SPECDYN_CORE_BODIES
  {
    io::json j = {{"model", model}, {"param", param}, {"width", width}, {"dim", dim}, {"samples", samples},
            {"outputs", outputs}, {"test_samples", test_samples}, {"gamma0", gamma0}, {"sigma", sigma}, {"lr", lr},
            {"steps", steps}, {"batch", batch}, {"seed", seed}, {"task", task}, {"teacher", teacher}, {"noise", noise}, {"covariance_decay", covariance_decay},
            {"x", x_npy}, {"y", y_npy}, {"loss", loss}, {"centre", centre}, {"spectra_every", spectra_every},
            {"top_k", top_k}, {"spectra_method", spectra_method}, {"ntk_every", ntk_every},
            {"hessian_every", hessian_every}, {"eval_every", eval_every}, {"out", out}, {"command_line", command_line}};
    if (save_weights) j["save_weights"] = true;  // only when on: older records stay comparable
    if (!plain_optimizer()) j["optimizer"] = optimizer_json();
    add_block_keys(j);
    add_real_data(j);
    return j;
  }
#else
  ;
#endif

  /// The optimizer and the constants it reads (only those).
  [[nodiscard]] io::json optimizer_json() const {
    io::json j = {{"name", optimizer}};
    const auto k = parse_optimizer(optimizer);
    if (k == optimizer_kind::momentum || k == optimizer_kind::nesterov) j["momentum"] = momentum;
    if (k == optimizer_kind::adam || k == optimizer_kind::adamw) {
      j["beta1"] = beta1;
      j["beta2"] = beta2;
      j["eps"] = eps;
    }
    if (weight_decay != 0) j["weight_decay"] = weight_decay;
    return j;
  }
  /// The optimizer's part of a run name: its name, and the constants that differ from the defaults.
  [[nodiscard]] std::string optimizer_tag() const {
    std::string t = optimizer;
    const auto k = parse_optimizer(optimizer);
    if ((k == optimizer_kind::momentum || k == optimizer_kind::nesterov) && momentum != 0.9) t += "_mu" + compact(momentum);
    if (k == optimizer_kind::adam || k == optimizer_kind::adamw) {
      if (beta1 != 0.9) t += "_b1" + compact(beta1);
      if (beta2 != 0.999) t += "_b2" + compact(beta2);
      if (eps != 1e-8) t += "_eps" + compact(eps);
    }
    if (weight_decay != 0) t += "_wd" + compact(weight_decay);
    return t;
  }

  /// The data-defining part of a config: records that differ here describe different runs.
  [[nodiscard]] io::json data_json() const {
    io::json j = {{"model", model}, {"dim", dim}, {"samples", samples}, {"outputs", outputs}, {"test_samples", test_samples},
            {"seed", seed}, {"task", task}, {"teacher", teacher}, {"noise", noise}, {"covariance_decay", covariance_decay}, {"x", x_npy}, {"y", y_npy}, {"loss", loss}};
    if (depth != 0) j["depth"] = depth;
    add_real_data(j);
    return j;
  }

 private:
  /// The keys of residual, biased and depth-generic runs, only when set (chain records keep their old config).
  void add_block_keys(io::json& j) const {
    if (depth != 0) j["depth"] = depth;
    if (branch != 1.0) j["branch"] = branch;
    if (sigma_bias != 1.0) j["sigma_bias"] = sigma_bias;
    if (!depth_alpha.empty()) j["depth_alpha"] = parse_exponent(depth_alpha, "--depth-alpha").str();
  }
  /// The real-data keys, only for those tasks (records of synthetic runs keep their old config).
  void add_real_data(io::json& j) const {
    if (!real_data()) return;
    j["data_dir"] = data_source();
    if (task == "text") {
      j["vocab"] = vocab;
      j["context"] = context;
    }
  }
  static std::string compact(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
  }
};

SPECDYN_CORE_FN io::json rule_json(const rule_info& r)
#if SPECDYN_CORE_BODIES
{
  const auto& e = r.table;
  io::json j = {{"name", r.name},
          {"a", {e.a_input.str(), e.a_hidden.str(), e.a_readout.str()}},
          {"b", {e.b_input.str(), e.b_hidden.str(), e.b_readout.str()}},
          {"c", e.c.str()},
          {"verdict", std::string(dsl::to_string(r.verdict))}};
  // the block vocabulary's exponents, only where a rule sets them (chain rules keep their records)
  if (e.a_bias != dsl::rational{0} || e.b_bias != dsl::rational{0}) j["bias"] = {e.a_bias.str(), e.b_bias.str()};
  if (e.alpha_depth != dsl::rational{0} || e.c_depth != dsl::rational{0}) {
    j["alpha_depth"] = e.alpha_depth.str();
    j["c_depth"] = e.c_depth.str();
    j["depth_verdict"] = std::string(dsl::to_string(dsl::classify_depth(e)));
  }
  return j;
}
#else
;
#endif

/// Fraction of columns whose largest output is the target's largest entry (the class of a one-hot
/// target); ties go to the first index. NaN without columns.
SPECDYN_CORE_FN double classification_accuracy(const matrix& f, const matrix& y)
#if SPECDYN_CORE_BODIES
{
  const std::size_t p = f.shape(1), c = f.shape(0);
  if (p == 0 || c == 0) return std::nan("");
  std::size_t right = 0;
  for (std::size_t mu = 0; mu < p; ++mu) {
    std::size_t af = 0, ay = 0;
    for (std::size_t a = 1; a < c; ++a) {
      if (f(a, mu) > f(af, mu)) af = a;
      if (y(a, mu) > y(ay, mu)) ay = a;
    }
    right += af == ay;
  }
  return double(right) / double(p);
}
#else
;
#endif

/// Builds the data set of a config (synthetic task, .npy files, Fashion-MNIST or the fortunes
/// next-word task); usage_error on bad or missing files.
SPECDYN_CORE_FN task_data make_data(const run_config& cfg)
#if SPECDYN_CORE_BODIES
{
  if (cfg.task == "fashion-mnist") {
    auto t = make_fashion_mnist(cfg.samples, cfg.test_samples, cfg.seed, cfg.data_dir);
    return std::move(static_cast<task_data&>(t));
  }
  if (cfg.task == "text") {
    auto t = make_text_task({.vocab = cfg.vocab, .context = cfg.context, .dir = cfg.data_dir}, cfg.samples, cfg.test_samples, cfg.seed);
    return std::move(static_cast<task_data&>(t));
  }
  if (cfg.task == "npy") {
    const auto x = io::load_npy(cfg.x_npy), y = io::load_npy(cfg.y_npy);
    if (x.shape.size() != 2) throw usage_error("--x = " + cfg.x_npy + ": must be a 2-D array [samples, dim]");
    const std::size_t p = x.shape[0], d = x.shape[1];
    const std::size_t c = y.shape.size() == 1 ? 1 : y.shape[1];
    if (d != cfg.dim) throw usage_error("--x = " + cfg.x_npy + ": has dim " + std::to_string(d) + " but --dim is " + std::to_string(cfg.dim));
    if (y.shape[0] != p) throw usage_error("--y = " + cfg.y_npy + ": has " + std::to_string(y.shape[0]) + " rows but --x has " + std::to_string(p) + " samples");
    if (c != cfg.outputs) throw usage_error("--y = " + cfg.y_npy + ": has " + std::to_string(c) + " outputs but --outputs is " + std::to_string(cfg.outputs));
    task_data data;
    data.x = matrix({d, p});
    data.y = matrix({c, p});
    for (std::size_t mu = 0; mu < p; ++mu) {
      for (std::size_t i = 0; i < d; ++i) data.x(i, mu) = x.data[mu * d + i];
      for (std::size_t a = 0; a < c; ++a) data.y(a, mu) = y.data[mu * c + a];
    }
    return data;
  }
  task_spec spec;
  spec.kind = cfg.task == "single-index" ? task_kind::single_index : cfg.task == "linear" ? task_kind::linear_teacher : task_kind::random_labels;
  spec.teacher = cfg.teacher;
  spec.label_noise = cfg.noise;
  spec.covariance_decay = cfg.covariance_decay;
  auto data = make_task(spec, cfg.dim, cfg.outputs, cfg.samples, cfg.test_samples, cfg.seed);
  if (cfg.loss == "xent") {  // one-hot classes for cross-entropy
    rng gen(cfg.seed, rng::stream::data, 77);
    data.y.fill(0.0);
    for (std::size_t mu = 0; mu < data.y.shape(1); ++mu) data.y(gen.below(cfg.outputs), mu) = 1.0;
  }
  return data;
}
#else
;
#endif

/// Refuses to overwrite a record at `path` that was written for different data or hyper-parameters
/// (file names carry the main ones, not all), unless --force; a record of the same run is replaced.
SPECDYN_CORE_FN void check_overwrite(const std::filesystem::path& path, const io::json& config, bool force)
#if SPECDYN_CORE_BODIES
{
  if (force || !std::filesystem::exists(path)) return;
  std::ifstream in(path);
  const auto old = io::json::parse(in, nullptr, false);
  if (old.is_discarded() || !old.contains("config")) return;  // torn or foreign: a resumed run may replace it
  // the keys of the new config only: a record adds derived ones (rule, effective γ0, ...) to its own
  const io::json& a = old["config"];
  bool same = a.is_object();
  for (const auto& [k, v] : config.items())
    if (k != "command_line" && k != "out" && k != "quiet" && k != "force") same = same && a.contains(k) && a[k] == v;
  if (!same)
    throw usage_error("--out = " + path.string() + ": a record of a different run is already there; choose another --out or add --force");
}
#else
;
#endif

/// Usage errors thrown by the command's flags run before anything is written. Errors after that
/// point end with a record whose status says what happened.
struct run_result {
  std::filesystem::path record;
  std::string status;  // completed | diverged | interrupted | failed
  std::string message;
  double final_train_loss = 0;
  int signal = 0;      // the signal that interrupted the run (SIGINT, SIGTERM)
};

/// Process exit code for a run's status: 0 completed, 3 diverged, 130/143 interrupted, 1 failed.
SPECDYN_CORE_FN int exit_code(const run_result& r)
#if SPECDYN_CORE_BODIES
{
  if (r.status == "completed") return 0;
  if (r.status == "diverged") return 3;
  if (r.status == "interrupted") return io::exit_code_for_signal(r.signal);
  return 1;
}
#else
;
#endif

/// Memory a finite-width run plans to use: weights, the trackers' copies and SVD work space, the
/// Hessian's tangent weights, and the workspaces of the training, test and batch passes.
/// weights: entries of all parameters; largest: of the largest tracked matrix; fields: rows of the
/// per-column buffers of one pass, summed over blocks (chains: 2 per dense layer of width N).
SPECDYN_CORE_FN double estimate_train_bytes(const run_config& cfg, double weights, double largest, double fields)
#if SPECDYN_CORE_BODIES
{
  const double d = double(cfg.dim), c = double(cfg.outputs);
  const double cols = double(cfg.samples + cfg.test_samples + cfg.batch);
  const double data = (d + c) * double(cfg.samples + cfg.test_samples);
  return 8.0 * (4.0 * weights + 6.0 * largest + 4.0 * fields * cols + 2.0 * c * cols + data);
}
#else
;
#endif
/// The same for a chain of `hidden_layers` dense layers of width N.
SPECDYN_CORE_FN double estimate_train_bytes(const run_config& cfg, std::size_t hidden_layers)
#if SPECDYN_CORE_BODIES
{
  const double n = double(cfg.width), d = double(cfg.dim), c = double(cfg.outputs), l = double(hidden_layers);
  return estimate_train_bytes(cfg, n * d + (l - 1) * n * n + c * n, std::max(n * d, hidden_layers > 1 ? n * n : 0.0), 2.0 * l * n);
}
#else
;
#endif

/// The estimate for a declaration at the config's sizes, from its parameter list (no allocation).
template <class Decl>
double estimate_train_bytes_of(const run_config& cfg) {
  if constexpr (Decl::is_chain) {
    return estimate_train_bytes(cfg, Decl::hidden_layers);
  } else {
    const ad::dims d{cfg.dim, cfg.width, cfg.outputs, std::max<std::size_t>(cfg.depth, 1)};
    double weights = 0, largest = 0, fields = 0;
    for (const auto& p : ad::program<Decl>::info(d)) {
      const double e = double(p.rows) * double(p.cols);
      weights += e;
      if (p.kind == ad::param_kind::input || p.kind == ad::param_kind::hidden) largest = std::max(largest, e);
      fields += p.kind == ad::param_kind::readout ? 0.0 : 6.0 * double(p.rows);  // pre, post, adjoints, residual stream
    }
    return estimate_train_bytes(cfg, weights, largest, fields);
  }
}

/// The weights whose spectra a run tracks: the input weight and every hidden weight matrix (the
/// readout has rank ≤ C; biases and gains are vectors).
template <class Decl>
std::vector<std::size_t> tracked_weights(const model<Decl>& net) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < net.parameter_count(); ++i)
    if (net.parameter_info()[i].kind == ad::param_kind::input || net.parameter_info()[i].kind == ad::param_kind::hidden) out.push_back(i);
  return out;
}

/// A depth-generic declaration runs at --depth (default_depth when not given); others ignore it.
inline constexpr std::size_t default_depth = 4;
template <class Decl>
run_config with_depth(run_config cfg) {
  if constexpr (Decl::depth_generic) {
    if (cfg.depth == 0) cfg.depth = default_depth;
  } else {
    if (cfg.depth != 0)
      throw usage_error("--depth = " + std::to_string(cfg.depth) + ": --model " + cfg.model +
                        " has a fixed depth; --depth is for depth-generic declarations (repeat<any_depth>)");
  }
  if constexpr (!Decl::depth_generic && Decl::static_residuals == 0) {
    if (!cfg.depth_alpha.empty())
      throw usage_error("--depth-alpha = " + cfg.depth_alpha + ": --model " + cfg.model + " has no residual blocks; leave --depth-alpha out");
    if (cfg.branch != 1.0)
      throw usage_error("--branch = " + io::json(cfg.branch).dump() + ": --model " + cfg.model + " has no residual blocks; leave --branch out");
  }
  return cfg;
}

/// Records what a block declaration adds to a chain's config: residual blocks, the branch multiplier
/// and the parameter list (only for declarations that are not chains, so chain records keep their keys).
template <class Decl>
void add_structure(io::json& c, const model<Decl>& net) {
  if constexpr (!Decl::is_chain) {
    c["residual_blocks"] = net.residual_blocks();
    c["branch_multiplier"] = net.branch_multiplier();
    io::json ps = io::json::array();
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
      const auto& p = net.parameter_info()[i];
      ps.push_back({{"name", p.name}, {"kind", ad::to_string(p.kind)}, {"shape", {p.rows, p.cols}}, {"in_branch", p.in_branch},
                    {"scale", net.scale(i)}, {"lr", net.learning_rates()[i]}, {"init_std", net.init_std(i)}});
    }
    c["parameters"] = ps;
  }
}

/// Runs one experiment and writes its record. Throws usage_error before writing anything when
/// the configuration, the data or the memory estimate is bad. After that every outcome ends with a
/// record: divergence (status "diverged"), SIGINT/SIGTERM ("interrupted"), and any other error,
/// a failed Lanczos or an exhausted allocation included ("failed", with the message).
template <class Decl>
run_result run_experiment(Decl decl, const run_config& cfg_in) {
  constexpr std::size_t L = Decl::hidden_layers;
  cfg_in.validate();
  const run_config cfg = with_depth<Decl>(cfg_in);
  io::require_memory(estimate_train_bytes_of<Decl>(cfg), "--width = " + std::to_string(cfg.width) + (cfg.depth ? ", --depth = " + std::to_string(cfg.depth) : ""),
                     "lower --width, --depth, --samples or --test-samples");
  const auto data = make_data(cfg);
  const rule_info rule = cfg.rule(L);
  auto net = bind(decl, rule, cfg.model_shape(), cfg.model_hyper(cfg.seed));
  const ad::loss_kind kind = cfg.loss == "mse" ? ad::loss_kind::mse : ad::loss_kind::cross_entropy;
  // mini-batch SGD: the full training loss (a pass over all P points) only at the --eval-every steps
  trainer<Decl> tr(net, data, {.steps = cfg.steps, .batch = cfg.batch, .centre = cfg.centre, .loss = kind, .seed = cfg.seed,
                               .loss_every = cfg.eval_every, .optimizer = cfg.optim()});

  const auto path = cfg.record_path();
  std::error_code ec;
  if (!path.parent_path().empty()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) throw usage_error("--out = " + cfg.out + ": cannot create directory (" + ec.message() + ")");
  check_overwrite(path, cfg.to_json(), cfg.force);

  const std::size_t p = data.samples(), c = cfg.outputs;
  const std::size_t spectra_every = cfg.spectra_every;  // 0: never
  const std::size_t ntk_every = cfg.ntk_every < 0 ? spectra_every : std::size_t(cfg.ntk_every);
  const std::size_t hess_every = std::size_t(cfg.hessian_every);
  const bool ntk_ok = c * p <= 4096;  // the NTK is [CP, CP]
  // the outputs on every training point at every --eval-every step: C·P numbers each; above 2^22 (32 MB)
  // per step they are not recorded (a C = 1000 text task at P = 20 000 would write 160 MB per step)
  const bool record_f = double(c) * double(p) <= double(1u << 22);
  auto due = [&](std::size_t every, std::size_t t) { return every > 0 && (t % every == 0 || t == cfg.steps); };

  // Spectra trackers for the input layer and every hidden N×N weight (the readout has rank ≤ C).
  std::vector<spectra::tracker> trackers;
  std::vector<matrix> initial_weights;  // --save-weights
  spectra::tracker_options topt{.top_k = cfg.top_k, .how = spectra::parse_method(cfg.spectra_method)};
  const std::vector<std::size_t> tracked = tracked_weights(net);
  for (std::size_t i : tracked) {
    const matrix m0 = net.scale(i) * net.params().w[i];
    if (cfg.save_weights) initial_weights.push_back(m0);
    trackers.emplace_back(net.parameter_name(i), m0, net.effective_std(i), topt,
                          i == 0 && data.teacher.size() > 0 ? &data.teacher : nullptr);
  }

  std::vector<double> test_loss(cfg.steps + 1, std::nan("")), f_values;
  const bool classify = cfg.classification();
  std::vector<double> train_acc(classify ? cfg.steps + 1 : 0, std::nan("")), test_acc(train_acc);
  matrix f_test;
  std::vector<std::size_t> f_steps, ntk_steps, hess_steps;
  std::vector<double> ntk_top, hess_top, precond_top;  // precond_top: λ_max(P⁻¹H) under Adam/AdamW
  const optimizer_options oo = cfg.optim();
  const bool adaptive = oo.kind == optimizer_kind::adam || oo.kind == optimizer_kind::adamw;
  std::string status = "completed", message;
  int signal = 0;
  matrix f_now;
  io::progress bar(cfg.model + " " + cfg.param + " N=" + std::to_string(cfg.width), cfg.steps, cfg.quiet);
  const auto t_start = std::chrono::steady_clock::now();
  // Testing hook: SPECDYN_INJECT_FAILURE=<step> throws an ordinary error at that step, so tests can
  // check that a failure keeps the record (as a LAPACK error or bad_alloc would).
  const char* inject = std::getenv("SPECDYN_INJECT_FAILURE");
  const long fail_at = inject ? std::atol(inject) : -1;
  {
    io::interrupt_guard guard;  // SIGINT/SIGTERM stop at the next step; handlers restored on any exit
    try {
      tr.run([&](std::size_t t, trainer<Decl>& self) {
        io::throw_if_interrupted("at step " + std::to_string(t));
        if (fail_at >= 0 && t == std::size_t(fail_at)) throw std::runtime_error("injected failure at step " + std::to_string(t));
        bar.update(t, self.last_train_loss());
        if (t % cfg.eval_every == 0 || t == cfg.steps) {
          test_loss[t] = self.evaluate_test();
          self.evaluate_train();  // the training-set fields at this step (cached when run() just computed them)
          self.train_outputs(f_now);
          if (classify) {
            train_acc[t] = classification_accuracy(f_now, data.y);
            if (data.has_test()) {
              self.test_outputs(f_test);
              test_acc[t] = classification_accuracy(f_test, data.y_test);
            }
          }
          if (record_f) {
            f_steps.push_back(t);
            f_values.insert(f_values.end(), f_now.begin(), f_now.end());
          }
        }
        if (ntk_ok && due(ntk_every, t)) {
          self.evaluate_train();  // fresh training-set fields (mini-batch steps do not compute them)
          ntk_steps.push_back(t);
          ntk_top.push_back(spectra::empirical_ntk(self.net(), data.x, self.train_fields()).top_eigenvalue);
        }
        if (due(hess_every, t)) {
          spectra::hessian<Decl> h(self.net(), data.x, data.y, self.initial_outputs(), kind);
          hess_steps.push_back(t);
          hess_top.push_back(h.top_eigenvalue());
          if (adaptive) {  // the adaptive edge of stability: λ_max(P⁻¹H), P = (√v̂ + ε)/rate (NaN before the first step)
            if (self.optimizer().steps() == 0) {
              precond_top.push_back(std::nan(""));
            } else {
              std::vector<matrix> inv(self.net().parameter_count());
              for (std::size_t i = 0; i < inv.size(); ++i) {
                self.optimizer().preconditioner(i, inv[i]);
                for (auto& v : inv[i]) v = v > 0 && std::isfinite(v) ? 1.0 / v : 0.0;  // an entry that never had a gradient does not move
              }
              h.set_entrywise_preconditioner(inv);
              precond_top.push_back(h.top_eigenvalue());
            }
          }
        }
        if (due(spectra_every, t))
          for (std::size_t k = 0; k < tracked.size(); ++k)
            trackers[k].snapshot(t, matrix(self.net().scale(tracked[k]) * self.net().params().w[tracked[k]]));
      });
    } catch (const divergence_error& e) {
      status = "diverged";
      message = e.what();
    } catch (const interrupted_error& e) {
      status = "interrupted";
      message = e.what();
      signal = e.signal;
    } catch (const std::exception& e) {  // a failed measurement (Lanczos, LAPACK), bad_alloc, ...
      status = "failed";
      message = e.what();
    }
  }
  bar.finish();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  // ---- the record ----
  io::record rec(path);
  auto& j = rec.begin("finite_width", cfg.to_json());
  j["config"]["declaration"] = Decl::describe();
  j["config"]["hidden_layers"] = L;
  add_structure(j["config"], net);
  j["config"]["rule"] = rule_json(rule);
  j["config"]["gamma0_eff"] = net.effective_gamma0();
  j["config"]["learning_rates_raw"] = std::vector<double>(net.learning_rates().begin(), net.learning_rates().end());
  j["status"] = status;
  j["message"] = message;
  j["wall_seconds"] = wall;
  const auto& losses = tr.train_loss();
  std::vector<std::size_t> steps(losses.size());
  std::iota(steps.begin(), steps.end(), std::size_t{0});
  j["steps"] = steps;
  j["train_loss"] = io::numbers(losses);
  test_loss.resize(losses.size());
  j["test_loss"] = io::numbers(test_loss);
  if (classify) {  // at the test-loss steps; null elsewhere (and the test accuracy without held-out points)
    train_acc.resize(losses.size());
    test_acc.resize(losses.size());
    j["train_accuracy"] = io::numbers(train_acc);
    j["test_accuracy"] = io::numbers(test_acc);
  }
  j["f"] = {{"steps", f_steps}, {"shape_per_step", {c, p}}};
  rec.put_array(j["f"], "values", f_values, {f_steps.size(), c, p});
  if (!record_f) j["f"]["skipped"] = "C·P > 2^22: the outputs on the training set are not recorded";
  j["ntk"] = {{"steps", ntk_steps}, {"top_eigenvalue", io::numbers(ntk_top)}};
  std::vector<double> ratio;
  for (double k : ntk_top) ratio.push_back(cfg.lr / double(p) * k);
  j["ntk"]["eos_ratio"] = io::numbers(ratio);
  if (!ntk_ok) j["ntk"]["skipped"] = "C·P > 4096: the NTK matrix would be too large";
  std::vector<double> eta_h;
  for (double h : hess_top) eta_h.push_back(cfg.lr * h);
  j["sharpness"] = {{"steps", hess_steps}, {"hessian_top", io::numbers(hess_top)}, {"eta_times_hessian_top", io::numbers(eta_h)},
                    {"units", "top eigenvalue of Λ^{1/2} H Λ^{1/2}, Λ_i = lr_i/η: GD is stable iff η·hessian_top < 2"}};
  if (oo.kind == optimizer_kind::momentum || oo.kind == optimizer_kind::nesterov)
    j["sharpness"]["threshold"] = {{"value", oo.kind == optimizer_kind::momentum ? 2 * (1 + oo.momentum) : 2 * (1 + oo.momentum) / (1 + 2 * oo.momentum)},
                                   {"of", "eta_times_hessian_top"},
                                   {"meaning", "the quadratic model's stability limit for this momentum (2 for GD)"}};
  if (adaptive)
    j["sharpness"]["preconditioned"] = {{"top", io::numbers(precond_top)},
                                        {"threshold", (2 + 2 * oo.beta1) / (1 - oo.beta1)},
                                        {"meaning", "λ_max(P⁻¹H) with Adam's preconditioner P = (√v̂ + ε)/rate after each step (frozen): "
                                                    "the quadratic model's Adam step is stable iff below the threshold (2 + 2β1)/(1 − β1) — "
                                                    "Cohen et al. 2022's adaptive edge of stability"}};
  j["spectra"] = io::json::object();
  for (const auto& trk : trackers) {
    auto& s = j["spectra"][trk.name()];
    rec.set_prefix("spectra." + trk.name());
    s["shape"] = {trk.rows(), trk.cols()};
    s["method"] = trk.method_used();
    s["steps"] = trk.steps();
    rec.put_rows(s, "singular_values", trk.singular_values());
    s["bulk_edge"] = trk.bulk().upper;
    s["bulk_edge_lower"] = trk.bulk().lower;
    s["outlier_margin"] = trk.margin();
    rec.put_rows(s, "outliers", trk.outliers());
    s["delta_op"] = io::numbers(trk.delta_op());
    s["stable_rank"] = io::numbers(trk.stable_ranks());
    rec.put_rows(s, "overlap_initial", trk.overlap_initial());
    if (trk.has_task()) rec.put_rows(s, "overlap_task", trk.overlap_task());
    if (trk.full()) {
      std::vector<double> edges;
      for (std::size_t b = 0; b <= topt.histogram_bins; ++b) edges.push_back(trk.histogram_upper() * double(b) / double(topt.histogram_bins));
      s["histogram"] = {{"edges", edges}, {"above_range", io::numbers(trk.above_histogram())}};
      rec.put_rows(s["histogram"], "counts", trk.histograms());
      // distance of the whole spectrum from the initial law (MP / quarter circle of the entries):
      // outliers barely move it, a restructured bulk does
      s["bulk_ks"] = io::numbers(trk.bulk_ks());
      s["bulk_w1_over_edge"] = io::numbers(trk.bulk_w1());
    }
  }
  if (cfg.save_weights) {  // W_i(0) and W_i at the last step reached, as the spectra see them (scale·W)
    for (std::size_t k = 0; k < tracked.size(); ++k) {
      const std::size_t i = tracked[k];
      const std::string name = net.parameter_name(i);
      const matrix last = tr.net().scale(i) * tr.net().params().w[i];
      rec.set_prefix("weights." + name);
      auto& w = j["weights"][name];
      rec.put_npy(w, "initial", {initial_weights[k].begin(), initial_weights[k].end()}, {last.shape(0), last.shape(1)});
      rec.put_npy(w, "final", {last.begin(), last.end()}, {last.shape(0), last.shape(1)});
      w["entry_std"] = net.effective_std(i);
    }
  }
  rec.set_prefix("");
  rec.write();
  return {path, status, message, losses.empty() ? std::nan("") : losses.back(), signal};
}

}  // namespace specdyn
