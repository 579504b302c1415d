// Helpers for the DMFT tests: problems built like `specdyn theory` builds them.
#pragma once

#include "specdyn/run/compare.hpp"
#include "specdyn/dmft/lazy.hpp"
#include "specdyn/data/tasks.hpp"
#include "support.hpp"

namespace specdyn::testing {

template <class Decl>
dmft::problem make_problem(const task_data& data, double sigma, double eta, std::size_t steps, const std::string& rule,
                           double gamma0, std::optional<std::size_t> width = std::nullopt) {
  constexpr std::size_t L = Decl::hidden_layers;
  dmft::problem pr;
  pr.x = data.x;
  pr.y = data.y;
  pr.p_train = data.samples();
  pr.sigma = sigma;
  pr.eta = eta;
  pr.steps = steps;
  pr.rule = map_rule(rule_by_name(rule, L), L, gamma0, width);
  return pr;
}

template <class Decl>
dmft::solution exact_linear(const dmft::problem& pr, dmft::scheme how = dmft::scheme::march) {
  dmft::solver_options o;
  o.kind = dmft::innovations::design;
  o.particles = dmft::design_particles(Decl::hidden_layers, pr.p_all(), pr.outputs(), pr.steps);
  o.replicas = 1;
  o.how = how;
  return dmft::particle_solver<Decl>(pr, o).solve(0);
}

/// An N × m matrix with orthonormal columns (Gram–Schmidt on Gaussian columns): the start of a
/// network whose weight vectors have exactly the Gram matrix of the infinite-width limit.
inline matrix orthonormal_columns(std::size_t n, std::size_t m, std::uint64_t seed) {
  rng gen(seed, rng::stream::weights, 99);
  matrix q({n, m});
  for (auto& v : q) v = gen.normal();
  for (std::size_t j = 0; j < m; ++j) {
    for (std::size_t k = 0; k < j; ++k) {
      double dot = 0;
      for (std::size_t i = 0; i < n; ++i) dot += q(i, j) * q(i, k);
      for (std::size_t i = 0; i < n; ++i) q(i, j) -= dot * q(i, k);
    }
    double norm = 0;
    for (std::size_t i = 0; i < n; ++i) norm += q(i, j) * q(i, j);
    for (std::size_t i = 0; i < n; ++i) q(i, j) /= std::sqrt(norm);
  }
  return q;
}

/// Relative L2 distance between two curves.
inline double curve_error(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (std::size_t t = 0; t < a.size(); ++t) {
    num += (a[t] - b[t]) * (a[t] - b[t]);
    den += b[t] * b[t];
  }
  return std::sqrt(num / den);
}

/// Per-seed relative loss-curve errors of finite-width μP networks against a theory curve, and
/// the error of their seed-averaged curve (last element).
template <class Decl>
std::vector<double> finite_width_errors(Decl decl, const task_data& data, std::size_t n, std::size_t seeds, double sigma,
                                        double eta, double gamma0, std::size_t steps, const std::vector<double>& theory,
                                        double* averaged_curve_error = nullptr) {
  std::vector<double> out, mean(steps + 1, 0.0);
  for (std::size_t k = 0; k < seeds; ++k) {
    auto net = bind(decl, dsl::mup, {.D = data.x.shape(0), .N = n, .C = data.y.shape(0)},
                    {.gamma0 = gamma0, .sigma = sigma, .eta = eta, .seed = 500 + k});
    trainer tr(net, data, {.steps = steps, .centre = true});
    tr.run();
    out.push_back(curve_error(tr.train_loss(), theory));
    for (std::size_t t = 0; t <= steps; ++t) mean[t] += tr.train_loss()[t] / double(seeds);
  }
  if (averaged_curve_error) *averaged_curve_error = curve_error(mean, theory);
  return out;
}

}  // namespace specdyn::testing
