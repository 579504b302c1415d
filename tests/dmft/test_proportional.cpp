// The proportional-limit theory of deep_linear2 (dmft/proportional.hpp) against trained networks
// with N = νD, P = αD, γ0 = γ̃0/√D and η = η̂P at growing D. The theory is self-averaging in D, a
// single network fluctuates around it by O(D^{-1/2}) (the sample's own ½⟨y²⟩ alone has relative
// spread √(2/P)), so the checks are:
// - the seed-averaged loss curve matches the theory (relative L2 error) at D = 1024 within 3 %;
// - a single network's curve error falls from D = 256 to D = 1024 (its expectation halves);
// - a cheap version of the first check at D = 128 in the unit label;
// - divergence is reported with the step, bad ratios are refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

#include "deep_linear2.hpp"
#include "specdyn/run/proportional.hpp"
#include "specdyn/stats.hpp"

using namespace specdyn;

namespace {
namespace fs = std::filesystem;

fs::path scratch(const std::string& tag) {
  const fs::path dir = fs::temp_directory_path() / ("specdyn_prop_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

// α = 2, ν = 1, γ̃0 = 16 (rich: the readout norm grows several-fold), η/P = 0.02: the loss falls by four decades in 30 steps.
dmft::proportional_problem rich_problem() { return {.alpha = 2, .nu = 1, .gamma0_tilde = 16, .eta_hat = 0.02, .steps = 30}; }

run::proportional_result run_at(std::size_t d, std::size_t seeds, std::uint64_t seed, const std::string& tag) {
  const auto dir = scratch(tag);
  auto res = run::run_proportional(models::deep_linear2, rich_problem(), {.dims = {d}, .seeds = seeds, .seed = seed, .out = dir.string(), .quiet = true},
                                   "test");
  fs::remove_all(dir);
  REQUIRE(res.status == "completed");
  return res;
}
}  // namespace

TEST_CASE("proportional theory: initial losses, feature learning, refusals and divergence", "[dmft][proportional]") {
  auto pr = rich_problem();
  pr.noise = 0.5;
  const auto sol = dmft::solve_proportional(pr);
  // at t = 0 the centred output is 0: ½⟨y²⟩ = ½(1 + σ_ε²) on train points, ½(1 + σ_ε²) on fresh ones
  CHECK(sol.train_loss[0] == Approx(0.5 * 1.25).epsilon(1e-14));
  CHECK(sol.test_loss[0] == Approx(0.5 * 1.25).epsilon(1e-14));
  // the fit interpolates the noise on train points only: train loss ends below the noise floor, test above it
  CHECK(sol.train_loss.back() < 0.5 * 0.25);
  CHECK(sol.test_loss.back() > 0.5 * 0.25);
  // rich regime: the readout moves far from its initial scale ⟨w²⟩ = σ² = 1
  CHECK(sol.readout_norm.front() == Approx(1.0).epsilon(1e-14));
  CHECK(sol.readout_norm.back() > 2.0);

  CHECK_THROWS_AS(dmft::solve_proportional({.alpha = -1}), usage_error);
  CHECK_THROWS_AS(dmft::solve_proportional({.nu = 0}), usage_error);
  CHECK_THROWS_AS(dmft::solve_proportional({.eta_hat = std::nan("")}), usage_error);
  // a learning rate far past stability: the theory stops at the step where the loss blows up
  try {
    dmft::solve_proportional({.alpha = 2, .nu = 1, .gamma0_tilde = 16, .eta_hat = 0.05, .steps = 40});
    FAIL("expected divergence");
  } catch (const divergence_error& e) {
    CHECK(std::string(e.what()).find("the loss") != std::string::npos);
  }
}

TEST_CASE("proportional theory vs networks at D = 128 (seed-averaged curve within 5 %)", "[dmft][proportional]") {
  const auto res = run_at(128, 16, 0, "unit");
  // 16 networks at P = 256: the averaged curve fluctuates by ≈ 7 %/√16 ≈ 2 %; the theory's own bias is O(1/D)
  CHECK(res.mean_train_error.at(0) < 0.05);
  CHECK(res.mean_test_error.at(0) < 0.05);
}

TEST_CASE("proportional theory vs networks: < 3 % at D = 1024, single-network error falling from D = 256", "[dmft][proportional][statistical]") {
  const auto small = run_at(256, 32, 100, "256");
  const auto large = run_at(1024, 12, 200, "1024");
  INFO("averaged-curve error at D = 1024: train " << large.mean_train_error[0] << " ± " << large.mean_train_se[0] << ", test "
                                                   << large.mean_test_error[0] << " ± " << large.mean_test_se[0]);
  CHECK(large.mean_train_error[0] < 0.03);
  CHECK(large.mean_test_error[0] < 0.03);
  const auto [e256, s256] = stats::mean_se(small.train_error[0]);
  const auto [e1024, s1024] = stats::mean_se(large.train_error[0]);
  INFO("single-network train-curve error: D = 256 " << e256 << " ± " << s256 << ", D = 1024 " << e1024 << " ± " << s1024);
  CHECK(e1024 < e256);
  const auto [t256, u256] = stats::mean_se(small.test_error[0]);
  const auto [t1024, u1024] = stats::mean_se(large.test_error[0]);
  INFO("single-network test-curve error: D = 256 " << t256 << " ± " << u256 << ", D = 1024 " << t1024 << " ± " << u1024);
  CHECK(t1024 < t256);
}
