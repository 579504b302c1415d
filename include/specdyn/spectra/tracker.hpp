// Tracks the singular-value spectrum of one weight matrix during training: at chosen steps it
// records the singular values (all by LAPACK, or the top k by Krylov), the outliers above the
// theoretical bulk edge at initialisation, ‖W(t) − W(0)‖_op, the stable rank, how much of each
// top left singular vector lies in the initial top-k subspace, the cosine of each top right
// singular vector with a task direction, a histogram on fixed bins and (with all singular values)
// the distance of the whole spectrum from its initial random-matrix law: Kolmogorov–Smirnov and
// Wasserstein-1 against the Marchenko–Pastur/quarter-circle law of the initial entries. Outliers
// barely move these (each carries 1/min(rows, cols) of the mass); a restructured bulk does.
//   spectra::tracker tr("W1", M0, entry_std, {.top_k = 16});
//   tr.snapshot(step, M);   // M: the effective weight W_eff at that step
#pragma once

#include "specdyn/core.hpp"

#include <string>
#include <vector>

#include "specdyn/spectra/bulk.hpp"
#include "specdyn/spectra/singular.hpp"

namespace specdyn::spectra {

enum class method { automatic, full, krylov };

SPECDYN_CORE_FN method parse_method(const std::string& s)
#if SPECDYN_CORE_BODIES
{
  if (s == "auto") return method::automatic;
  if (s == "full") return method::full;
  if (s == "krylov") return method::krylov;
  throw usage_error("--spectra-method = " + s + ": use auto, full or krylov");
}
#else
;
#endif

struct tracker_options {
  std::size_t top_k = 16;
  method how = method::automatic;
  std::size_t histogram_bins = 60;
  std::size_t full_up_to = 1024;  // automatic: all singular values when min(rows, cols) ≤ this
};

class tracker {
 public:
  /// initial: W_eff at step 0; entry_std: its i.i.d. entry standard deviation (the bulk's scale);
  /// task: optional [r, cols] directions in the input space (rows need not be orthonormal).
  SPECDYN_CORE_FN tracker(std::string name, const matrix& initial, double entry_std, tracker_options opt, const matrix* task = nullptr)
#if SPECDYN_CORE_BODIES
      : name_(std::move(name)), initial_(initial), opt_(opt) {
    rows_ = initial.shape(0);
    cols_ = initial.shape(1);
    const std::size_t small = std::min(rows_, cols_);
    k_ = std::min(opt.top_k, small > 2 ? small - 2 : std::size_t{1});
    bulk_ = bulk_edges(entry_std, rows_, cols_);
    law_ = {entry_std, rows_, cols_};
    margin_ = outlier_margin(bulk_.upper, rows_, cols_);
    full_ = opt.how == method::full || (opt.how == method::automatic && small <= opt.full_up_to) || small <= 2 * k_ + 2;
    hist_hi_ = 1.25 * bulk_.upper;
    if (task && task->shape(1) == cols_) task_ = orthonormal_rows(*task);
    initial_left_ = top(initial).left;
  }
#else
  ;
#endif

  SPECDYN_CORE_FN void snapshot(std::size_t step, const matrix& m)
#if SPECDYN_CORE_BODIES
  {
    const singular_result t = top(m);
    std::vector<double> values = t.values;
    if (full_) values = all_singular(m).values;
    steps_.push_back(step);
    std::vector<double> out;
    for (double s : values)
      if (s > bulk_.upper + margin_) out.push_back(s);
    outliers_.push_back(out);
    // ‖M − M0‖_op
    const matrix diff = m - initial_;
    const std::size_t small = std::min(rows_, cols_);
    delta_op_.push_back(small <= 64 ? all_singular(diff).values.front() : top_singular(diff, 1).values.front());
    stable_rank_.push_back(stable_rank(m, values.front()));
    // subspace overlaps of the current top-k left vectors with the initial top-k
    std::vector<double> ov(k_), tv;
    for (std::size_t a = 0; a < k_; ++a) {
      double s = 0;
      for (std::size_t b = 0; b < k_; ++b) {
        double d = 0;
        for (std::size_t i = 0; i < rows_; ++i) d += t.left(i, a) * initial_left_(i, b);
        s += d * d;
      }
      ov[a] = s;
    }
    overlap_initial_.push_back(ov);
    if (task_.size() > 0) {
      for (std::size_t a = 0; a < k_; ++a) {
        double s = 0;
        for (std::size_t r = 0; r < task_.shape(0); ++r) {
          double d = 0;
          for (std::size_t j = 0; j < cols_; ++j) d += t.right(j, a) * task_(r, j);
          s += d * d;
        }
        tv.push_back(std::sqrt(s));
      }
      overlap_task_.push_back(tv);
    }
    if (full_) {
      double above = 0;
      for (double s : values) above += s >= hist_hi_ ? 1 : 0;
      std::vector<double> in_range;
      for (double s : values)
        if (s < hist_hi_) in_range.push_back(s);
      histogram_.push_back(histogram(in_range, 0.0, hist_hi_, opt_.histogram_bins));
      above_range_.push_back(above);
      auto cdf = [this](double x) { return law_.cdf(x); };
      ks_.push_back(ks_distance(values, cdf));
      w1_.push_back(wasserstein1(values, cdf, bulk_.upper) / bulk_.upper);
    }
    values_.push_back(std::move(values));
    method_ = full_ ? "full" : "krylov";  // the --spectra-method names: all values (LAPACK) or the top k
  }
#else
  ;
#endif

  const std::string& name() const { return name_; }
  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t top_k() const { return k_; }
  bool full() const { return full_; }
  const std::string& method_used() const { return method_; }
  edges bulk() const { return bulk_; }
  double margin() const { return margin_; }
  double histogram_upper() const { return hist_hi_; }
  bool has_task() const { return task_.size() > 0; }
  const std::vector<std::size_t>& steps() const { return steps_; }
  const std::vector<std::vector<double>>& singular_values() const { return values_; }
  const std::vector<std::vector<double>>& outliers() const { return outliers_; }
  const std::vector<double>& delta_op() const { return delta_op_; }
  const std::vector<double>& stable_ranks() const { return stable_rank_; }
  const std::vector<std::vector<double>>& overlap_initial() const { return overlap_initial_; }
  const std::vector<std::vector<double>>& overlap_task() const { return overlap_task_; }
  const std::vector<std::vector<double>>& histograms() const { return histogram_; }
  const std::vector<double>& above_histogram() const { return above_range_; }
  /// With all singular values: KS distance and Wasserstein-1 distance (relative to the bulk edge)
  /// of the spectrum from the initial law, per snapshot.
  const std::vector<double>& bulk_ks() const { return ks_; }
  const std::vector<double>& bulk_w1() const { return w1_; }
  const singular_law& initial_law() const { return law_; }

 private:
  SPECDYN_CORE_FN singular_result top(const matrix& m) const
#if SPECDYN_CORE_BODIES
  {
    const std::size_t small = std::min(m.shape(0), m.shape(1));
    if (small <= 2 * k_ + 2) {  // tiny: LAPACK with vectors
      auto [u, s, vt] = xt::linalg::svd(m, false, true);
      singular_result r;
      r.method = "lapack";
      r.values.assign(s.begin(), s.begin() + std::ptrdiff_t(k_));
      r.left = matrix({m.shape(0), k_});
      r.right = matrix({m.shape(1), k_});
      for (std::size_t a = 0; a < k_; ++a) {
        for (std::size_t i = 0; i < m.shape(0); ++i) r.left(i, a) = u(i, a);
        for (std::size_t j = 0; j < m.shape(1); ++j) r.right(j, a) = vt(a, j);
      }
      return r;
    }
    return top_singular(m, k_, true);
  }
#else
  ;
#endif
  static matrix orthonormal_rows(const matrix& a) {
    matrix q = a;
    for (std::size_t r = 0; r < q.shape(0); ++r) {
      for (std::size_t p = 0; p < r; ++p) {
        double d = 0;
        for (std::size_t j = 0; j < q.shape(1); ++j) d += q(r, j) * q(p, j);
        for (std::size_t j = 0; j < q.shape(1); ++j) q(r, j) -= d * q(p, j);
      }
      double n = 0;
      for (std::size_t j = 0; j < q.shape(1); ++j) n += q(r, j) * q(r, j);
      for (std::size_t j = 0; j < q.shape(1); ++j) q(r, j) /= std::sqrt(std::max(n, 1e-300));
    }
    return q;
  }

  std::string name_, method_ = "full";
  matrix initial_, initial_left_, task_;
  tracker_options opt_;
  std::size_t rows_ = 0, cols_ = 0, k_ = 0;
  edges bulk_{};
  double margin_ = 0, hist_hi_ = 0;
  bool full_ = true;
  std::vector<std::size_t> steps_;
  std::vector<std::vector<double>> values_, outliers_, overlap_initial_, overlap_task_, histogram_;
  std::vector<double> delta_op_, stable_rank_, above_range_, ks_, w1_;
  singular_law law_;
};

}  // namespace specdyn::spectra
