// Statistics used for error bars and fits: Student-t quantiles against tabulated values, the
// standard error of a mean, and power-law fits with their confidence intervals.
#include <catch2/catch.hpp>

#include "specdyn/stats.hpp"

using namespace specdyn;

TEST_CASE("Student-t quantiles match the tables; one value has no standard error", "[stats]") {
  // two-sided 95 % points from standard tables (4 decimals)
  CHECK(stats::t_quantile(0.975, 1) == Approx(12.7062).epsilon(1e-4));
  CHECK(stats::t_quantile(0.975, 5) == Approx(2.5706).epsilon(1e-4));
  CHECK(stats::t_quantile(0.975, 30) == Approx(2.0423).epsilon(1e-4));
  CHECK(stats::t_quantile(0.995, 7) == Approx(3.4995).epsilon(1e-4));
  CHECK(stats::t_quantile(0.975, 1e6) == Approx(1.95996).epsilon(1e-4));  // → normal
  CHECK(stats::t_cdf(0.0, 3) == Approx(0.5));
  CHECK(std::isnan(stats::mean_se({2.0}).second));
  const auto [m, se] = stats::mean_se({1.0, 2.0, 3.0, 4.0});
  CHECK(m == 2.5);
  CHECK(se == Approx(std::sqrt(5.0 / 3.0 / 4.0)));
  // Bonferroni: 100 checks at family level 1e-3 need each at 5e-6 two-sided
  CHECK(stats::family_threshold(100, 5, 1e-3) == Approx(stats::t_quantile(1 - 5e-6, 5)));
}

TEST_CASE("power-law fits recover exponents, with intervals only from three points on", "[stats]") {
  const std::vector<double> x{256, 512, 1024, 2048};
  std::vector<double> y;
  for (double n : x) y.push_back(3.0 * std::pow(n, -0.5));
  const auto f = stats::power_law_fit(x, y);
  CHECK(f.slope == Approx(-0.5).epsilon(1e-12));
  CHECK(f.slope_se == Approx(0.0).margin(1e-12));
  // noisy data: the interval contains the truth and is wider with fewer points
  const std::vector<double> noisy{0.19, 0.128, 0.098, 0.064};
  const auto g = stats::power_law_fit(x, noisy);
  CHECK(g.ci_low < -0.5);
  CHECK(g.ci_high > -0.5);
  const auto two = stats::power_law_fit({256, 512}, {0.2, 0.14});
  CHECK(std::isfinite(two.slope));
  CHECK(std::isnan(two.ci_low));
}
