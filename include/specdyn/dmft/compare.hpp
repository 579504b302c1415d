// Theory vs finite width: solve the theory once, train the same network on the same data at each
// width for several seeds, and measure per width the relative L2 error of the loss curve, the
// cosine alignment Tr(AB)/(|A||B|) of Φ^ℓ and G^ℓ on the training points at the final step, and
// the relative error of the NTK's top eigenvalue; fit the exponent of each error against N.
//   auto res = specdyn::dmft::run_compare(models::mlp3_tanh, cfg, th, {.widths = {256, 512, 1024}, .seeds = 3});
#pragma once

#include <cstdio>

#include "specdyn/dmft/theory_run.hpp"
#include "specdyn/spectra/ntk.hpp"

namespace specdyn::dmft {

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
};

struct compare_result {
  std::filesystem::path record, theory_record;
  std::vector<width_stats> widths;
  double loss_exponent = 0, ntk_exponent = 0;
  double theory_mc_error = 0;  // relative L2 of the theory loss curve's standard error
};

inline double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? std::nan("") : s / double(v.size());
}
inline double stdev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}
/// Least-squares slope of log y against log x (NaN with fewer than two usable points).
inline double loglog_slope(const std::vector<double>& x, const std::vector<double>& y) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0, k = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!(y[i] > 0)) continue;
    const double a = std::log(x[i]), b = std::log(y[i]);
    sx += a; sy += b; sxx += a * a; sxy += a * b; k += 1;
  }
  if (k < 2) return std::nan("");
  return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}
/// Tr(AB)/(|A||B|) for symmetric A, B.
inline double cosine(const matrix& a, const matrix& b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += a.data()[i] * b.data()[i];
    aa += a.data()[i] * a.data()[i];
    bb += b.data()[i] * b.data()[i];
  }
  return ab / std::sqrt(aa * bb);
}
inline matrix leading_block(const matrix& m, std::size_t n) { return xt::view(m, xt::range(0, n), xt::range(0, n)); }

template <class Decl>
compare_result run_compare(Decl decl, const run_config& cfg_in, const theory_options& th, const compare_options& co) {
  constexpr std::size_t L = Decl::hidden_layers;
  require(!co.widths.empty(), "--widths", std::string("''"), "give at least one width, e.g. 256,512,1024");
  for (auto n : co.widths) require(n >= 1, "--widths", n, "widths must be positive integers");
  require(co.seeds >= 1, "--seeds", co.seeds, "use at least 1");
  run_config cfg = cfg_in;
  const theory_result theory = run_theory(decl, cfg, th);
  const auto& th_sol = theory.sol.mean;
  const auto data = make_data(cfg);
  const std::size_t p = data.samples(), T = cfg.steps;
  compare_result res;
  res.theory_record = theory.record;
  {
    double num = 0, den = 0;
    for (std::size_t t = 0; t <= T; ++t) {
      num += theory.sol.train_loss_se[t] * theory.sol.train_loss_se[t];
      den += th_sol.train_loss[t] * th_sol.train_loss[t];
    }
    res.theory_mc_error = std::sqrt(num / den);
  }
  const rule_info rule = rule_from_name(cfg.param, L);
  for (std::size_t n : co.widths) {
    width_stats ws;
    ws.width = n;
    ws.phi_cos.assign(L, {});
    ws.g_cos.assign(L, {});
    for (std::size_t k = 0; k < co.seeds; ++k) {
      auto net = bind(decl, rule, {.D = cfg.dim, .N = n, .C = cfg.outputs},
                      {.gamma0 = cfg.gamma0, .sigma = cfg.sigma, .eta = cfg.lr, .seed = cfg.seed + 1000 + k});
      trainer<Decl> tr(net, data, {.steps = T, .centre = true});
      try {
        tr.run();
      } catch (const divergence_error& e) {
        throw solver_error("finite-width run at N = " + std::to_string(n) + " diverged (" + e.what() + "); lower --lr");
      }
      const auto& loss = tr.train_loss();
      double num = 0, den = 0;
      for (std::size_t t = 0; t <= T; ++t) {
        num += (loss[t] - th_sol.train_loss[t]) * (loss[t] - th_sol.train_loss[t]);
        den += th_sol.train_loss[t] * th_sol.train_loss[t];
      }
      ws.loss_error.push_back(std::sqrt(num / den));
      ws.loss_curves.push_back(loss);
      tr.evaluate_train();
      const auto ntk = spectra::empirical_ntk(net, data.x, tr.train_fields());
      for (std::size_t l = 0; l < L; ++l) {
        ws.phi_cos[l].push_back(cosine(ntk.phi[l + 1], leading_block(th_sol.phi_tt[l][T], p)));
        ws.g_cos[l].push_back(cosine(ntk.g[l], leading_block(th_sol.g_tt[l][T], p)));
      }
      ws.ntk_error.push_back(std::abs(ntk.top_eigenvalue - th_sol.ntk_top[T]) / th_sol.ntk_top[T]);
    }
    res.widths.push_back(std::move(ws));
  }
  std::vector<double> xs, le, ne;
  for (const auto& w : res.widths) {
    xs.push_back(double(w.width));
    le.push_back(mean(w.loss_error));
    ne.push_back(mean(w.ntk_error));
  }
  res.loss_exponent = loglog_slope(xs, le);
  res.ntk_exponent = loglog_slope(xs, ne);

  if (co.print) {
    std::printf("\n%s, %s, γ0 = %g, η = %g, P = %zu, T = %zu; theory: %s (%zu particles × %zu replicas, relative MC error of the loss curve %.2e)\n",
                cfg.model.c_str(), cfg.param.c_str(), cfg.gamma0, cfg.lr, p, T, theory.sol.solver.c_str(), theory.sol.particles,
                theory.sol.replicas, res.theory_mc_error);
    std::printf("%7s  %-19s", "N", "loss-curve error");
    for (std::size_t l = 0; l < L; ++l) std::printf("  1-cos Φ%-2zu  1-cos G%-2zu", l + 1, l + 1);
    std::printf("  NTK λmax err\n");
    for (const auto& w : res.widths) {
      std::printf("%7zu  %.4f ± %.4f    ", w.width, mean(w.loss_error), stdev(w.loss_error));
      for (std::size_t l = 0; l < L; ++l) {
        std::vector<double> a, b;
        for (double x : w.phi_cos[l]) a.push_back(1 - x);
        for (double x : w.g_cos[l]) b.push_back(1 - x);
        std::printf("  %.2e   %.2e ", mean(a), mean(b));
      }
      std::printf("  %.4f\n", mean(w.ntk_error));
    }
    std::printf("fitted exponents (error ∝ N^k): loss curve k = %.2f, NTK top eigenvalue k = %.2f (finite-size theory: −0.5 or steeper)\n",
                res.loss_exponent, res.ntk_exponent);
  }

  // record
  std::filesystem::path path = theory.record.parent_path() / (cfg.model + "_" + cfg.param + "_compare_s" + std::to_string(cfg.seed) + ".json");
  io::record rec(path);
  auto& j = rec.begin("compare", cfg.to_json());
  j["config"]["rule"] = rule_json(rule);
  j["config"]["theory"] = th.to_json();
  j["config"]["widths"] = co.widths;
  j["config"]["seeds"] = co.seeds;
  j["status"] = "completed";
  j["theory_record"] = theory.record.filename().string();
  j["theory_train_loss"] = io::numbers(th_sol.train_loss);
  j["theory_mc_error"] = res.theory_mc_error;
  j["loss_exponent"] = io::number(res.loss_exponent);
  j["ntk_exponent"] = io::number(res.ntk_exponent);
  j["widths"] = io::json::array();
  for (const auto& w : res.widths) {
    io::json e = {{"width", w.width}, {"loss_error", io::numbers(w.loss_error)}, {"ntk_top_error", io::numbers(w.ntk_error)}};
    for (std::size_t l = 0; l < L; ++l) {
      e["phi_cosine"]["h" + std::to_string(l + 1)] = io::numbers(w.phi_cos[l]);
      e["g_cosine"]["h" + std::to_string(l + 1)] = io::numbers(w.g_cos[l]);
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

}  // namespace specdyn::dmft
