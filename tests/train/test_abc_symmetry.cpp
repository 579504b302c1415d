// docs/conventions.md §2: (a, b, c) → (a + θ, b − θ, c − 2θ) leaves gradient descent unchanged. The §1.1
// form of μP and TP4's table (θ = −1/2) must give the same trajectory from the same draws.
#include <catch2/catch.hpp>

#include "mlp3_relu.hpp"
#include "mlp3_tanh.hpp"
#include "support.hpp"

using namespace specdyn;

namespace {
// The two parameterizations compute the same numbers with different powers of N folded in
// (√N · (w/√N) vs w): rounding differences of ~1e-16 per operation, amplified mildly over 50 steps.
constexpr double symmetry_tolerance = 1e-10;

template <class Decl>
void check_symmetry(Decl decl, std::size_t batch) {
  const std::size_t D = 20, N = 256, C = 2, P = 24;
  const hyper h{.gamma0 = 0.8, .sigma = 1.1, .eta = 0.4, .seed = 9};
  auto a = bind(decl, dsl::mup, {.D = D, .N = N, .C = C}, h);
  auto b = bind(decl, dsl::mup_tp4, {.D = D, .N = N, .C = C}, h);
  const auto data = make_task({.kind = task_kind::linear_teacher}, D, C, P, 0, 3);
  trainer ta(a, data, {.steps = 50, .batch = batch, .centre = true, .seed = 1});
  trainer tb(b, data, {.steps = 50, .batch = batch, .centre = true, .seed = 1});
  matrix fa, fb;
  double worst_loss = 0;
  for (int t = 0; t < 50; ++t) {
    const double la = ta.step(), lb = tb.step();
    worst_loss = std::max(worst_loss, std::abs(la - lb) / std::abs(lb));
  }
  ta.evaluate_train();
  tb.evaluate_train();
  ta.train_outputs(fa);
  tb.train_outputs(fb);
  INFO(Decl::describe() << " batch " << batch);
  CHECK(worst_loss < symmetry_tolerance);
  CHECK(testing::rel_err(fa, fb) < symmetry_tolerance);
  // Effective weights agree too: N^{-a} w is the same matrix in both forms.
  for (std::size_t i = 0; i <= Decl::hidden_layers; ++i)
    CHECK(testing::rel_err(matrix(a.scale(i) * a.params().w[i]), matrix(b.scale(i) * b.params().w[i])) < symmetry_tolerance);
}
}  // namespace

TEST_CASE("μP in the §1.1 form and in TP4's table train identically", "[train][symmetry]") {
  check_symmetry(models::mlp3_tanh, 0);
  check_symmetry(models::mlp3_relu, 0);
  check_symmetry(models::mlp3_tanh, 8);
}
