// How rules reach the theory, the Gaussian sources and Stein responses, and the equation printer.
#include <catch2/catch.hpp>
#include <xtensor-blas/xlinalg.hpp>

#include "dmft_support.hpp"
#include "mlp3_tanh.hpp"
#include "specdyn/dmft/printer.hpp"
#include "specdyn/dmft/sources.hpp"

using namespace specdyn;

TEST_CASE("rules map onto the μP form", "[dmft][closure]") {
  const auto mup = map_rule(testing::rule_by_name("mup", 2), 2, 0.7, std::nullopt);
  CHECK(mup.gamma0_eff == 0.7);
  CHECK(mup.kappa == std::vector<double>{1, 1, 1});
  CHECK(map_rule(testing::rule_by_name("mup_tp4", 2), 2, 0.7, std::nullopt).kappa == std::vector<double>{1, 1, 1});
  const auto ntk_inf = map_rule(testing::rule_by_name("ntk", 2), 2, 0.7, std::nullopt);
  CHECK(ntk_inf.lazy);
  const auto ntk_n = map_rule(testing::rule_by_name("ntk", 2), 2, 0.7, 400);
  CHECK(ntk_n.gamma0_eff == Approx(0.7 / 20.0));  // NTK at width N is μP with γ0/√N
  CHECK_FALSE(ntk_n.lazy);
  const auto sp_lr = map_rule(testing::rule_by_name("sp_lr", 2), 2, 1.0, 100);
  CHECK(sp_lr.kappa[0] == Approx(0.01));  // the input layer learns N times slower
  CHECK_THROWS_WITH(map_rule(testing::rule_by_name("sp", 2), 2, 1.0, std::nullopt), Catch::Contains("no infinite-width theory"));
  // and the mapping agrees with the finite-width model's own γ0_eff
  auto net = bind(models::mlp3_tanh, dsl::ntk, {.D = 4, .N = 400, .C = 1}, {.gamma0 = 0.7});
  CHECK(net.effective_gamma0() == Approx(ntk_n.gamma0_eff));
}

TEST_CASE("Gaussian sources: exact covariance under a design, Stein recovers derivatives", "[dmft][sources]") {
  // Two times, d = 2; a covariance with a singular conditional block at t = 1.
  const std::size_t S = 2 * 4;  // design over 4 innovation coordinates
  dmft::gaussian_source src(2, S, false);
  matrix c00 = {{2.0, 0.5}, {0.5, 1.0}};
  matrix c10 = {{1.0, 0.2}, {0.3, 0.4}};
  src.extend({c00});
  auto design = [&](std::size_t first) {
    matrix xi = xt::zeros<double>({S, std::size_t(2)});
    for (std::size_t j = 0; j < 2; ++j) {
      xi(2 * (first + j), j) = std::sqrt(S / 2.0);
      xi(2 * (first + j) + 1, j) = -std::sqrt(S / 2.0);
    }
    return xi;
  };
  const matrix x0 = src.sample(0, design(0));
  // C(1,1) chosen so that the conditional covariance is rank one
  matrix c11({2, 2});
  {
    // x(1) = B x(0) + e·ξ with B = c10 c00⁻¹, e = (1, 1)/√2: C(1,1) = B c00 Bᵀ + e eᵀ
    const matrix inv = xt::linalg::inv(c00);
    const matrix bm = xt::linalg::dot(c10, inv);
    c11 = xt::linalg::dot(xt::linalg::dot(bm, c00), xt::transpose(bm)) + 0.5 * xt::ones<double>({2, 2});
  }
  const double lmin = src.extend({c10, c11});
  CHECK(lmin > -1e-12);
  const matrix x1 = src.sample(1, design(2));
  // exact second moments over the design
  matrix m00({2, 2}), m10({2, 2}), m11({2, 2});
  blas::gemm(true, false, 1.0 / S, x0, x0, 0.0, m00);
  blas::gemm(true, false, 1.0 / S, x1, x0, 0.0, m10);
  blas::gemm(true, false, 1.0 / S, x1, x1, 0.0, m11);
  CHECK(testing::rel_err(m00, c00) < testing::same_algebra);
  CHECK(testing::rel_err(m10, c10) < testing::same_algebra);
  CHECK(testing::rel_err(m11, c11) < testing::same_algebra);
  // F = a·x(0) + b·x(1) is linear: Stein must return ⟨∂F/∂x(0)⟩ = a and ⟨∂F/∂x(1)⟩ = b on the support
  matrix f({S, std::size_t(1)});
  for (std::size_t i = 0; i < S; ++i) f(i, 0) = 0.3 * x0(i, 0) - 1.1 * x0(i, 1) + 0.7 * (x1(i, 0) + x1(i, 1));
  const auto r = src.stein(f, 1, false);
  CHECK(r[1](0, 0) == Approx(0.7).epsilon(testing::same_algebra));
  CHECK(r[1](0, 1) == Approx(0.7).epsilon(testing::same_algebra));
  // b lies in the support of x(1)'s innovation, so the split is exact: ⟨∂F/∂x(0)⟩ = a
  CHECK(r[0](0, 0) == Approx(0.3).epsilon(testing::same_algebra));
  CHECK(r[0](0, 1) == Approx(-1.1).epsilon(testing::same_algebra));
}

TEST_CASE("the equation printer writes one block per layer with its boundary terms", "[dmft][printer]") {
  const auto rule = testing::rule_by_name("mup", 2);
  const auto text = dmft::print_equations<std::remove_cvref_t<decltype(models::mlp3_tanh)>>(
      "mlp3_tanh", rule, map_rule(rule, 2, 1.0, std::nullopt));
  CHECK(text.find("## Layer 1") != std::string::npos);
  CHECK(text.find("## Layer 2") != std::string::npos);
  CHECK(text.find("## Layer 3") == std::string::npos);
  CHECK(text.find("(input layer)") != std::string::npos);
  CHECK(text.find("(feeds the readout)") != std::string::npos);
  CHECK(text.find("K^x_{\\mu\\alpha}") != std::string::npos);       // input layer's update uses the data kernel
  CHECK(text.find("R^{\\phi,0}") == std::string::npos);               // and has no response from below
  CHECK(text.find("R^{\\phi,1}") != std::string::npos);               // layer 2 gets layer 1's response
  CHECK(text.find("feature_learning") != std::string::npos);
  const auto ntk = testing::rule_by_name("ntk", 2);
  const auto lazy = dmft::print_equations<std::remove_cvref_t<decltype(models::mlp3_tanh)>>(
      "mlp3_tanh", ntk, map_rule(ntk, 2, 1.0, std::nullopt));
  CHECK(lazy.find("lazy limit") != std::string::npos);
}
