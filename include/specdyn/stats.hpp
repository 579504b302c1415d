// Small statistics for honest error bars: means and standard errors over replicas or seeds,
// Student-t quantiles (few replicas need wider intervals than the normal law gives), and a
// least-squares power-law fit y ∝ x^k with the standard error and confidence interval of k.
//   auto [m, se] = specdyn::stats::mean_se(values);           // se = NaN for one value
//   double q = specdyn::stats::t_quantile(0.975, 5);          // 2.571
//   auto fit = specdyn::stats::power_law_fit(widths, errors);  // fit.slope, fit.ci_low, fit.ci_high
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

namespace specdyn::stats {

inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// Mean and standard error of the mean; the standard error is NaN with fewer than two values.
SPECDYN_CORE_FN std::pair<double, double> mean_se(const std::vector<double>& v)
#if SPECDYN_CORE_BODIES
{
  if (v.empty()) return {nan, nan};
  double m = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  if (v.size() < 2) return {m, nan};
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / double(v.size() - 1) / double(v.size()))};
}
#else
;
#endif

namespace detail {
/// Continued fraction of the regularised incomplete beta function (modified Lentz).
SPECDYN_CORE_FN double beta_cf(double a, double b, double x)
#if SPECDYN_CORE_BODIES
{
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::abs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 300; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d; if (std::abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d; if (std::abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::abs(del - 1) < 1e-15) break;
  }
  return h;
}
#else
;
#endif
/// Regularised incomplete beta I_x(a, b).
SPECDYN_CORE_FN double incomplete_beta(double a, double b, double x)
#if SPECDYN_CORE_BODIES
{
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double lbt = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return std::exp(lbt) * beta_cf(a, b, x) / a;
  return 1 - std::exp(lbt) * beta_cf(b, a, 1 - x) / b;
}
#else
;
#endif
}  // namespace detail

/// P(T ≤ t) for Student's t with `dof` degrees of freedom.
SPECDYN_CORE_FN double t_cdf(double t, double dof)
#if SPECDYN_CORE_BODIES
{
  const double x = dof / (dof + t * t);
  const double tail = 0.5 * detail::incomplete_beta(dof / 2, 0.5, x);
  return t >= 0 ? 1 - tail : tail;
}
#else
;
#endif

/// The p-quantile of Student's t (bisection on the CDF; p in (0, 1)).
SPECDYN_CORE_FN double t_quantile(double p, double dof)
#if SPECDYN_CORE_BODIES
{
  if (!(p > 0 && p < 1) || !(dof > 0)) return nan;
  double lo = -1e3, hi = 1e3;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (t_cdf(mid, dof) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}
#else
;
#endif

/// Half-width of the two-sided `level` interval for a mean of n values with standard error se.
SPECDYN_CORE_FN double interval_half_width(double se, std::size_t n, double level = 0.95)
#if SPECDYN_CORE_BODIES
{
  if (n < 2 || !std::isfinite(se)) return nan;
  return t_quantile(0.5 + level / 2, double(n - 1)) * se;
}
#else
;
#endif

/// Two-sided z such that a family of `checks` tests each at |t| < z (t with `dof` degrees of
/// freedom) fails by chance with probability at most `family_p` (Bonferroni).
SPECDYN_CORE_FN double family_threshold(std::size_t checks, double dof, double family_p = 1e-3)
#if SPECDYN_CORE_BODIES
{
  return t_quantile(1 - family_p / (2.0 * double(checks)), dof);
}
#else
;
#endif

/// log y = a + k log x by least squares, with the slope's standard error and a Student-t
/// confidence interval (n − 2 degrees of freedom; none with fewer than three points).
struct power_fit {
  double slope = nan, intercept = nan, slope_se = nan, ci_low = nan, ci_high = nan;
  std::size_t points = 0;
};
SPECDYN_CORE_FN power_fit power_law_fit(const std::vector<double>& x, const std::vector<double>& y, double level = 0.95)
#if SPECDYN_CORE_BODIES
{
  std::vector<double> a, b;
  for (std::size_t i = 0; i < x.size() && i < y.size(); ++i)
    if (x[i] > 0 && y[i] > 0 && std::isfinite(y[i])) {
      a.push_back(std::log(x[i]));
      b.push_back(std::log(y[i]));
    }
  power_fit f;
  f.points = a.size();
  if (a.size() < 2) return f;
  const double n = double(a.size());
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) { ma += a[i] / n; mb += b[i] / n; }
  double sab = 0, saa = 0;
  for (std::size_t i = 0; i < a.size(); ++i) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); }
  if (saa <= 0) return f;
  f.slope = sab / saa;
  f.intercept = mb - f.slope * ma;
  if (a.size() >= 3) {
    double rss = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const double r = b[i] - f.intercept - f.slope * a[i];
      rss += r * r;
    }
    f.slope_se = std::sqrt(rss / (n - 2) / saa);
    const double q = t_quantile(0.5 + level / 2, n - 2);
    f.ci_low = f.slope - q * f.slope_se;
    f.ci_high = f.slope + q * f.slope_se;
  }
  return f;
}
#else
;
#endif

}  // namespace specdyn::stats
