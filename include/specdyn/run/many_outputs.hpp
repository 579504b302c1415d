// `specdyn many-outputs`: the extensive-output toy model. A grid of trained networks with
// C = max(1, round(κN)) outputs (κ = 0: one output, the few-output counterpart), D = νN inputs and
// P = αN samples, each trained by `specdyn train --save-weights` (records under points/, resumable),
// and for one hidden weight W = W(0) + ΔW at the last step:
//   - its singular values against the initial law (KS, Wasserstein-1/edge), the top singular value
//     against the initial edge, the outlier count and the stable rank;
//   - the information-plus-noise prediction that treats ΔW as independent of W(0) (Dozier–Silverstein
//     with ΔW's own spectrum as H, spectra/info_plus_noise.hpp): its upper edge and its KS distance
//     from the trained spectrum (the dependence gap);
//   - a control: ΔW plus a fresh Gaussian matrix of W(0)'s law, i.e. what the independent theory
//     describes, against the same prediction (the solver's and finite size's own error).
// The summary (kind "many_outputs") keeps per point these numbers and the histograms, and per κ the
// edge's convergence in N (successive differences fitted as ∝ N^k); `specdyn plot` draws them.
//   auto pt = specdyn::run::analyse_bulk("runs/many/points/x.json", "W1", 7);
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "specdyn/data/rng.hpp"
#include "specdyn/io/npy.hpp"
#include "specdyn/io/record.hpp"
#include "specdyn/spectra/bulk.hpp"
#include "specdyn/spectra/info_plus_noise.hpp"
#include "specdyn/spectra/singular.hpp"
#include "specdyn/stats.hpp"

namespace specdyn::run {

struct bulk_analysis {
  std::size_t rows = 0, cols = 0;
  double entry_std = 0, edge0 = 0, margin = 0;
  double s_max = 0, ks_initial = 0, w1_initial = 0, stable_rank = 0;
  std::size_t outliers = 0;
  double delta_op = 0, delta_frobenius = 0;  // |ΔW|_op, |ΔW|_F/√rows
  double ipn_edge = stats::nan, ks_ipn = stats::nan;  // independent-update prediction vs trained
  double control_s_max = stats::nan, control_ks_ipn = stats::nan;  // fresh noise + ΔW vs the same prediction
  std::size_t ipn_failures = 0;
  std::vector<double> singular_values;        // trained, descending
  std::vector<double> grid_s, ipn_density;    // predicted singular-value density
};

namespace detail {
SPECDYN_CORE_FN matrix load_matrix(const std::filesystem::path& file)
#if SPECDYN_CORE_BODIES
{
  const auto a = io::load_npy(file);
  require(a.shape.size() == 2, "weights file " + file.string() + " dimensions", a.shape.size(), "expected a matrix");
  matrix m = xt::zeros<double>({a.shape[0], a.shape[1]});
  std::copy(a.data.begin(), a.data.end(), m.begin());
  return m;
}
#else
;
#endif
/// CDF of a density tabulated on an ascending grid (trapezoid rule, normalised to its total mass).
struct tabulated_cdf {
  std::vector<double> x, cdf;
  // from s = 0, where the density is taken equal to its value at the first grid point
  tabulated_cdf(const std::vector<double>& grid, const std::vector<double>& density) : x{0.0}, cdf{0.0} {
    std::vector<double> d{density.empty() || !std::isfinite(density[0]) ? 0.0 : density[0]};
    x.insert(x.end(), grid.begin(), grid.end());
    d.insert(d.end(), density.begin(), density.end());
    cdf.resize(x.size(), 0.0);
    for (std::size_t i = 1; i < x.size(); ++i) {
      const double a = std::isfinite(d[i - 1]) ? d[i - 1] : 0.0, b = std::isfinite(d[i]) ? d[i] : 0.0;
      cdf[i] = cdf[i - 1] + 0.5 * (a + b) * (x[i] - x[i - 1]);
    }
    const double total = cdf.empty() ? 1.0 : cdf.back();
    if (total > 0)
      for (auto& c : cdf) c /= total;
  }
  double operator()(double s) const {
    if (x.empty() || s <= x.front()) return 0.0;
    if (s >= x.back()) return 1.0;
    const auto it = std::upper_bound(x.begin(), x.end(), s);
    const std::size_t i = std::size_t(it - x.begin());
    const double t = (s - x[i - 1]) / (x[i] - x[i - 1]);
    return cdf[i - 1] + t * (cdf[i] - cdf[i - 1]);
  }
};
}  // namespace detail

/// Analyses weight `layer` of a train record written with --save-weights. `seed` draws the control's
/// fresh Gaussian matrix.
SPECDYN_CORE_FN bulk_analysis analyse_bulk(const std::filesystem::path& record, const std::string& layer, std::uint64_t seed)
#if SPECDYN_CORE_BODIES
{
  std::ifstream in(record);
  const auto j = io::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("weights") || !j["weights"].contains(layer))
    throw usage_error(record.string() + ": no saved weights of " + layer + " (train with --save-weights; layers are W0, W1, ...)");
  const auto& w = j["weights"][layer];
  const auto dir = record.parent_path();
  const matrix w0 = detail::load_matrix(dir / w["initial"]["npy"].get<std::string>());
  const matrix wt = detail::load_matrix(dir / w["final"]["npy"].get<std::string>());
  bulk_analysis a;
  a.rows = wt.shape(0);
  a.cols = wt.shape(1);
  a.entry_std = w["entry_std"].get<double>();
  const auto e = spectra::bulk_edges(a.entry_std, a.rows, a.cols);
  a.edge0 = e.upper;
  a.margin = spectra::outlier_margin(e.upper, a.rows, a.cols);
  a.singular_values = spectra::all_singular(wt).values;
  a.s_max = a.singular_values.front();
  for (double s : a.singular_values) a.outliers += s > a.edge0 + a.margin;
  double fro = 0;
  for (double s : a.singular_values) fro += s * s;
  a.stable_rank = fro / (a.s_max * a.s_max);
  const spectra::singular_law law{a.entry_std, a.rows, a.cols};
  a.ks_initial = spectra::ks_distance(a.singular_values, [&](double s) { return law.cdf(s); });
  a.w1_initial = spectra::wasserstein1(a.singular_values, [&](double s) { return law.cdf(s); }, a.edge0) / a.edge0;
  const matrix dw = wt - w0;
  a.delta_op = spectra::all_singular(dw).values.front();
  a.delta_frobenius = std::sqrt(xt::sum(dw * dw)() / double(a.rows));

  // the independent-update prediction: B = W Wᵀ = (1/cols)(R + σX)(R + σX)ᵀ with R = √cols·ΔW, σ = √cols·s
  const double nc = double(a.cols), top = 1.3 * std::max(a.s_max, a.edge0 + a.delta_op);
  std::vector<double> x;
  const std::size_t points = 600;
  // uniform in s = √λ: the singular-value density is smooth at s → 0 where the eigenvalue density is not
  for (std::size_t i = 1; i <= points; ++i) x.push_back(top * top * double(i * i) / double(points * points));
  const matrix r = dw * std::sqrt(nc);
  auto pred = spectra::info_plus_noise_from_signal(r, std::sqrt(nc) * a.entry_std, x, 1e-4 * a.edge0 * a.edge0);
  a.ipn_failures = pred.failures;
  const auto sd = spectra::to_singular_density(pred);
  a.grid_s = sd.s;
  a.ipn_density = sd.density;
  if (pred.failures == 0) {
    // upper edge: the largest s where the predicted singular-value density exceeds 1 % of its peak
    // (the eigenvalue density's λ^{-1/2} peak at 0 for square weights would make any threshold on it useless)
    double peak = 0;
    for (double d : sd.density) peak = std::max(peak, d);
    for (std::size_t i = sd.s.size(); i-- > 1;)
      if (sd.density[i - 1] > 1e-2 * peak) {
        const double d0 = sd.density[i - 1], d1 = sd.density[i];
        a.ipn_edge = sd.s[i - 1] + (d0 - 1e-2 * peak) / (d0 - d1) * (sd.s[i] - sd.s[i - 1]);
        break;
      }
    const detail::tabulated_cdf cdf(sd.s, sd.density);
    // the prediction describes the min(rows, cols) non-trivial singular values
    a.ks_ipn = spectra::ks_distance(a.singular_values, cdf);
    // control: ΔW plus fresh noise of W(0)'s law
    rng gen(seed, rng::stream::data, 4242);
    matrix fresh = xt::zeros<double>({a.rows, a.cols});
    for (auto& v : fresh) v = a.entry_std * gen.normal();
    const auto ctrl = spectra::all_singular(matrix(fresh + dw)).values;
    a.control_s_max = ctrl.front();
    a.control_ks_ipn = spectra::ks_distance(ctrl, cdf);
  }
  return a;
}
#else
;
#endif

SPECDYN_CORE_FN io::json bulk_json(const bulk_analysis& a)
#if SPECDYN_CORE_BODIES
{
  return {{"shape", {a.rows, a.cols}}, {"entry_std", a.entry_std}, {"initial_edge", a.edge0}, {"outlier_margin", a.margin},
          {"s_max", a.s_max}, {"s_max_over_edge", a.s_max / a.edge0}, {"outliers", a.outliers}, {"stable_rank", a.stable_rank},
          {"ks_initial_law", a.ks_initial}, {"w1_initial_law_over_edge", a.w1_initial}, {"delta_op", a.delta_op},
          {"delta_frobenius_per_row", a.delta_frobenius}, {"ipn_edge", io::number(a.ipn_edge)}, {"ks_ipn", io::number(a.ks_ipn)},
          {"control_s_max", io::number(a.control_s_max)}, {"control_ks_ipn", io::number(a.control_ks_ipn)},
          {"ipn_failures", a.ipn_failures}};
}
#else
;
#endif

}  // namespace specdyn::run
