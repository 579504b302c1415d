// `specdyn theory` as a library call: the infinite-width theory of a declared network for the
// same task, rule and hyper-parameters as a finite-width run, solved by the exact linear closure
// (orthonormal design), the particle march (Monte Carlo, with replicas for error bars) or the
// lazy kernel solver, and written as a run record with the same keys as `specdyn train` plus
// error bars and kernels.
//   auto res = specdyn::dmft::run_theory(models::mlp3_tanh, cfg, {.particles = 8000});
#pragma once

#include <chrono>
#include <optional>

#include "specdyn/dmft/lazy.hpp"
#include "specdyn/train/experiment.hpp"

namespace specdyn::dmft {

struct theory_options {
  std::string solver = "auto";   // auto | exact | particles
  std::size_t particles = 8000;
  std::size_t replicas = 4;
  std::string scheme = "march";  // march | alternating
  double damping = 1.0;
  std::size_t max_iterations = 500;
  bool two_time = false;         // write Φ(t,s), G(t,s) to .npy
  std::optional<std::size_t> width;  // evaluate the rule's effective theory at this width (NTK: γ0/√N)

  void validate() const {
    if (solver != "auto" && solver != "exact" && solver != "particles")
      throw usage_error("--solver = " + solver + ": use auto, exact (linear activations) or particles");
    if (scheme != "march" && scheme != "alternating") throw usage_error("--scheme = " + scheme + ": use march or alternating");
    require(particles >= 64, "--particles", particles, "use at least 64 (Monte Carlo error ~ particles^{-1/2})");
    require(replicas >= 1, "--replicas", replicas, "use at least 1 (2 or more for error bars)");
    require(damping > 0 && damping <= 1, "--damping", damping, "must be in (0, 1]");
    require(max_iterations >= 1, "--max-iterations", max_iterations, "must be at least 1");
    if (width) require(*width >= 1, "--width", *width, "must be a positive integer");
  }
  [[nodiscard]] io::json to_json() const {
    return {{"solver", solver}, {"particles", particles}, {"replicas", replicas}, {"scheme", scheme}, {"damping", damping},
            {"max_iterations", max_iterations}, {"two_time", two_time}, {"width", width ? io::json(*width) : io::json(nullptr)}};
  }
};

/// Mean and standard error over replicas.
struct averaged {
  solution mean;
  std::vector<double> train_loss_se, test_loss_se, ntk_top_se, eos_se;
  std::vector<matrix> f_se;
  std::string solver;  // "exact-linear", "particles", "lazy"
  std::size_t particles = 0, replicas = 1;
};

struct theory_result {
  std::filesystem::path record;
  averaged sol;
  effective_rule rule;
};

template <class Decl>
constexpr bool all_linear() {
  bool all = true;
  ad::static_for<Decl::hidden_layers>([&](auto i) { all = all && dsl::is_identity_activation<typename Decl::template activation<i>>; });
  return all;
}

/// The theory's problem for a config: the same data as `specdyn train` (same seed), test points appended.
inline problem make_problem(const run_config& cfg, const task_data& data, const effective_rule& rule) {
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
  return pr;
}

inline void check_theory_config(const run_config& cfg) {
  if (cfg.batch != 0 && cfg.batch != cfg.samples) throw usage_error("--batch = " + std::to_string(cfg.batch) + ": the theory is for full-batch GD; use --batch 0");
  if (cfg.loss != "mse") throw usage_error("--loss = " + cfg.loss + ": the theory is derived for the MSE loss; use --loss mse");
  if (!cfg.centre) throw usage_error("--no-centre: the theory describes the centred network f − f(θ0); drop --no-centre");
}

template <class Decl>
averaged solve_theory(const problem& pr, const theory_options& th, std::uint64_t seed) {
  constexpr std::size_t L = Decl::hidden_layers;
  averaged out;
  if (pr.rule.lazy) {
    out.mean = lazy_solve<Decl>(pr);
    out.solver = "lazy";
    const std::size_t T = pr.steps + 1;
    out.train_loss_se.assign(T, 0.0);
    out.test_loss_se.assign(T, 0.0);
    out.ntk_top_se.assign(T, 0.0);
    out.eos_se.assign(T, 0.0);
    for (const auto& f : out.mean.f) out.f_se.push_back(xt::zeros_like(f));
    return out;
  }
  const bool exact = th.solver == "exact" || (th.solver == "auto" && all_linear<Decl>());
  if (exact && !all_linear<Decl>())
    throw usage_error("--solver = exact: the exact closure needs linear activations (" + Decl::describe() + "); use --solver particles");
  solver_options so;
  so.kind = exact ? innovations::design : innovations::gaussian;
  so.particles = exact ? design_particles(L, pr.p_all(), pr.outputs(), pr.steps) : th.particles;
  so.replicas = exact ? 1 : th.replicas;
  so.how = th.scheme == "march" ? scheme::march : scheme::alternating;
  so.damping = th.damping;
  so.max_iterations = th.max_iterations;
  so.keep_two_time = th.two_time;
  const double bytes = 8.0 * double(so.particles) * double(pr.steps + 1) * double(L) *
                       (2.0 * double(pr.p_all()) + 2.0 * double(pr.p_all() * pr.outputs()));
  if (bytes > 12e9)
    throw usage_error("--particles = " + std::to_string(so.particles) + ": the particle histories would need " +
                      std::to_string(int(bytes / 1e9)) + " GB; lower --particles, --steps or --samples");
  out.solver = exact ? "exact-linear" : "particles";
  out.particles = so.particles;
  out.replicas = so.replicas;
  particle_solver<Decl> solver(pr, so);
  std::vector<solution> reps;
  for (std::size_t r = 0; r < so.replicas; ++r) reps.push_back(solver.solve(seed * 7919 + r));
  // mean and standard error over replicas
  const double R = double(reps.size());
  out.mean = reps[0];
  auto mean_se = [&](auto get, std::vector<double>& mean, std::vector<double>& se) {
    const std::size_t n = get(reps[0]).size();
    mean.assign(n, 0.0);
    se.assign(n, 0.0);
    for (std::size_t t = 0; t < n; ++t) {
      double m = 0, v = 0;
      for (const auto& s : reps) m += get(s)[t] / R;
      for (const auto& s : reps) v += (get(s)[t] - m) * (get(s)[t] - m);
      mean[t] = m;
      se[t] = R > 1 ? std::sqrt(v / (R - 1) / R) : 0.0;
    }
  };
  mean_se([](const solution& s) -> const std::vector<double>& { return s.train_loss; }, out.mean.train_loss, out.train_loss_se);
  mean_se([](const solution& s) -> const std::vector<double>& { return s.test_loss; }, out.mean.test_loss, out.test_loss_se);
  mean_se([](const solution& s) -> const std::vector<double>& { return s.ntk_top; }, out.mean.ntk_top, out.ntk_top_se);
  mean_se([](const solution& s) -> const std::vector<double>& { return s.eos_ratio; }, out.mean.eos_ratio, out.eos_se);
  for (std::size_t t = 0; t < out.mean.f.size(); ++t) {
    matrix m = xt::zeros_like(reps[0].f[t]), v = xt::zeros_like(m);
    for (const auto& s : reps) m += s.f[t] / R;
    for (const auto& s : reps) v += (s.f[t] - m) * (s.f[t] - m);
    out.mean.f[t] = m;
    out.f_se.push_back(R > 1 ? matrix(xt::sqrt(v / ((R - 1) * R))) : matrix(xt::zeros_like(m)));
    matrix km = xt::zeros_like(reps[0].ntk[t]);
    for (const auto& s : reps) km += s.ntk[t] / R;
    out.mean.ntk[t] = km;
    for (std::size_t l = 0; l < L; ++l) {
      matrix pm = xt::zeros_like(reps[0].phi_tt[l][t]), gm = xt::zeros_like(reps[0].g_tt[l][t]);
      for (const auto& s : reps) { pm += s.phi_tt[l][t] / R; gm += s.g_tt[l][t] / R; }
      out.mean.phi_tt[l][t] = pm;
      out.mean.g_tt[l][t] = gm;
    }
  }
  out.mean.min_conditional_eigenvalue = INFINITY;
  for (const auto& s : reps) out.mean.min_conditional_eigenvalue = std::min(out.mean.min_conditional_eigenvalue, s.min_conditional_eigenvalue);
  return out;
}

template <class Decl>
theory_result run_theory(Decl, const run_config& cfg_in, const theory_options& th) {
  constexpr std::size_t L = Decl::hidden_layers;
  run_config cfg = cfg_in;
  cfg.validate();
  th.validate();
  check_theory_config(cfg);
  const rule_info rule = rule_from_name(cfg.param, L);
  const effective_rule eff = map_rule(rule, L, cfg.gamma0, th.width);
  const auto data = make_data(cfg);
  const problem pr = make_problem(cfg, data, eff);
  std::filesystem::path path(cfg.out);
  if (path.extension() != ".json")
    path /= cfg.model + "_" + cfg.param + "_theory_lr" + io::json(cfg.lr).dump() + "_g" + io::json(cfg.gamma0).dump() + "_s" + std::to_string(cfg.seed) + ".json";
  std::error_code ec;
  if (!path.parent_path().empty()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) throw usage_error("--out = " + cfg.out + ": cannot create directory (" + ec.message() + ")");

  const auto t0 = std::chrono::steady_clock::now();
  averaged sol = solve_theory<Decl>(pr, th, cfg.seed);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  io::record rec(path);
  auto& j = rec.begin("theory", cfg.to_json());
  j["config"]["width"] = th.width ? io::json(*th.width) : io::json("infinite");
  j["config"]["declaration"] = Decl::describe();
  j["config"]["hidden_layers"] = L;
  j["config"]["rule"] = rule_json(rule);
  j["config"]["gamma0_eff"] = eff.gamma0_eff;
  j["config"]["kappa"] = eff.kappa;
  j["config"]["theory"] = th.to_json();
  j["status"] = "completed";
  j["wall_seconds"] = wall;
  j["solver"] = {{"kind", sol.solver}, {"particles", sol.particles}, {"replicas", sol.replicas},
                 {"iterations", sol.mean.iterations}, {"residuals", io::numbers(sol.mean.residuals)},
                 {"min_conditional_eigenvalue", io::number(sol.mean.min_conditional_eigenvalue)},
                 {"mapping", eff.description}};
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
              {"eos_ratio", io::numbers(sol.mean.eos_ratio)}, {"eos_ratio_stderr", io::numbers(sol.eos_se)}};
  {  // K(t) on the training points, [T+1, C·P, C·P]
    const std::size_t kp = sol.mean.ntk.empty() ? 0 : sol.mean.ntk[0].shape(0);
    std::vector<double> kv;
    for (const auto& k : sol.mean.ntk) kv.insert(kv.end(), k.begin(), k.end());
    rec.set_prefix("ntk");
    rec.put_array(j["ntk"], "kernel", kv, {sol.mean.ntk.size(), kp, kp});
    rec.set_prefix("");
  }
  j["kernels"] = io::json::object();
  for (std::size_t l = 0; l < L; ++l) {
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
      const std::size_t T1 = cfg.steps + 1;
      std::vector<double> full_phi(T1 * T1 * p * p), full_g(T1 * T1 * c * p * c * p);
      for (std::size_t t = 0; t < T1; ++t)
        for (std::size_t s = 0; s <= t; ++s) {
          const matrix& a = sol.mean.kernels.phi[l][t][s];
          const matrix& b = sol.mean.kernels.g[l][t][s];
          for (std::size_t i = 0; i < p; ++i)
            for (std::size_t k = 0; k < p; ++k) {
              full_phi[((t * T1 + s) * p + i) * p + k] = a(i, k);
              full_phi[((s * T1 + t) * p + k) * p + i] = a(i, k);
            }
          const std::size_t bp = c * p;
          for (std::size_t i = 0; i < bp; ++i)
            for (std::size_t k = 0; k < bp; ++k) {
              full_g[((t * T1 + s) * bp + i) * bp + k] = b(i, k);
              full_g[((s * T1 + t) * bp + k) * bp + i] = b(i, k);
            }
        }
      // two-time kernels always go to .npy (they are [T+1, T+1, P, P])
      const std::string stem = path.stem().string() + ".kernels." + name;
      io::save_npy(path.parent_path() / (stem + ".phi_two_time.npy"), full_phi.data(), {T1, T1, p, p});
      io::save_npy(path.parent_path() / (stem + ".g_two_time.npy"), full_g.data(), {T1, T1, c * p, c * p});
      j["kernels"][name]["phi_two_time"] = {{"npy", stem + ".phi_two_time.npy"}, {"shape", {T1, T1, p, p}}};
      j["kernels"][name]["g_two_time"] = {{"npy", stem + ".g_two_time.npy"}, {"shape", {T1, T1, c * p, c * p}}};
    }
  }
  rec.set_prefix("");
  rec.write();
  return {path, std::move(sol), eff};
}

}  // namespace specdyn::dmft
