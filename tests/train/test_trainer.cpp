// Trainer behaviour: determinism, SGD and cross-entropy actually learn, centring, divergence
// reporting with the history kept, and clear errors for bad input.
#include <catch2/catch.hpp>

#include "mlp3_tanh.hpp"
#include "support.hpp"
#include "two_layer_relu.hpp"

using namespace specdyn;

TEST_CASE("same seed, same trajectory; different seed, different one", "[train]") {
  auto run = [](std::uint64_t seed) {
    auto net = bind(models::mlp3_tanh, dsl::mup, {.D = 8, .N = 64, .C = 1}, {.eta = 0.5, .seed = seed});
    const auto data = make_task({}, 8, 1, 16, 0, 1);
    trainer tr(net, data, {.steps = 20, .batch = 4, .seed = seed});
    tr.run();
    return tr.train_loss();
  };
  CHECK(run(3) == run(3));
  CHECK(run(3) != run(4));
}

TEST_CASE("GD, SGD and cross-entropy reduce the training loss", "[train]") {
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, 8, 1, 32, 0, 2);
  for (std::size_t batch : {0u, 8u}) {
    auto net = bind(models::mlp3_tanh, dsl::mup, {.D = 8, .N = 128, .C = 1}, {.eta = 0.5, .seed = 1});
    trainer tr(net, data, {.steps = 200, .batch = batch, .centre = true});
    tr.run();
    INFO("batch " << batch);
    CHECK(tr.train_loss().back() < 0.2 * tr.train_loss().front());
  }
  auto xdata = make_task({.kind = task_kind::linear_teacher}, 8, 3, 32, 0, 2);
  xdata.y = testing::one_hot_labels(3, 32, 7);
  auto net = bind(models::two_layer_relu, dsl::mup, {.D = 8, .N = 128, .C = 3}, {.eta = 1.0, .seed = 1});
  trainer tr(net, xdata, {.steps = 300, .loss = ad::loss_kind::cross_entropy});
  tr.run();
  CHECK(tr.train_loss().front() > 0.9 * std::log(3.0));  // chance level at init in μP
  CHECK(tr.train_loss().back() < 0.5 * tr.train_loss().front());
}

TEST_CASE("the centred network starts at exactly zero output", "[train]") {
  auto net = bind(models::mlp3_tanh, dsl::ntk, {.D = 8, .N = 64, .C = 2}, {.gamma0 = 0.5, .seed = 1});
  const auto data = make_task({.kind = task_kind::linear_teacher}, 8, 2, 10, 5, 2);
  trainer tr(net, data, {.steps = 1, .centre = true});
  tr.evaluate_train();
  matrix f;
  tr.train_outputs(f);
  CHECK(xt::amax(xt::abs(f))() == 0.0);
  // the loss of the centred net at init is |y|²/2P
  CHECK(tr.evaluate_train() == Approx(ad::mse::value(xt::zeros_like(data.y), nullptr, data.y)).epsilon(testing::same_algebra));
}

TEST_CASE("divergence names the step and layer and keeps the history", "[train]") {
  auto net = bind(models::mlp3_tanh, dsl::sp, {.D = 8, .N = 256, .C = 1}, {.eta = 50.0, .seed = 1});
  const auto data = make_task({}, 8, 1, 16, 0, 1);
  trainer tr(net, data, {.steps = 500});
  try {
    tr.run();
    FAIL("training at η = 50 in SP should diverge");
  } catch (const divergence_error& e) {
    INFO(e.what());
    CHECK(e.step > 0);
    CHECK(!e.where.empty());
    CHECK(std::string(e.what()).find("step " + std::to_string(e.step)) != std::string::npos);
    CHECK(std::string(e.what()).find("layer loss") == std::string::npos);
    // every finite loss recorded before the failure is still there
    REQUIRE(tr.train_loss().size() >= e.step);
    for (std::size_t t = 0; t + 1 < tr.train_loss().size(); ++t) CHECK(std::isfinite(tr.train_loss()[t]));
  }
}

TEST_CASE("a finite blow-up of the loss stops the run before any observer sees it", "[train]") {
  // μP at η = 50 grows the loss to ~1e105 in 50 steps without ever producing Inf/NaN.
  auto net = bind(models::mlp3_tanh, dsl::mup, {.D = 16, .N = 512, .C = 1}, {.eta = 50.0, .seed = 3});
  const auto data = make_task({}, 16, 1, 16, 0, 1);
  trainer tr(net, data, {.steps = 50, .centre = true});
  double worst_seen = 0;
  try {
    tr.run([&](std::size_t, auto& self) { worst_seen = std::max(worst_seen, self.train_loss().back()); });
    FAIL("training at η = 50 should have been stopped");
  } catch (const divergence_error& e) {
    INFO(e.what());
    CHECK(e.where == "the loss");
    const double initial = tr.train_loss().front();
    CHECK(tr.train_loss().back() > 1e4 * std::max(initial, 1e-3));  // the offending loss is kept
    CHECK(worst_seen <= 1e4 * std::max(initial, 1e-3));               // but no observer measured it
  }
}

TEST_CASE("bad sizes and hyper-parameters are usage errors naming the value", "[train]") {
  auto bad = [](shape s, hyper h) { return bind(models::mlp3_tanh, dsl::mup, s, h); };
  CHECK_THROWS_WITH(bad({.D = 0, .N = 8}, {}), Catch::Contains("D (input dimension) = 0"));
  CHECK_THROWS_WITH(bad({.D = 4, .N = 0}, {}), Catch::Contains("N (width) = 0"));
  CHECK_THROWS_WITH(bad({.D = 4, .N = 8}, {.gamma0 = -1}), Catch::Contains("gamma0 = -1"));
  CHECK_THROWS_WITH(bad({.D = 4, .N = 8}, {.eta = std::nan("")}), Catch::Contains("eta"));
  auto net = bind(models::mlp3_tanh, dsl::mup, {.D = 4, .N = 8, .C = 1}, {});
  const auto data = make_task({}, 5, 1, 10, 0, 1);
  CHECK_THROWS_AS(trainer(net, data, {}), usage_error);
  const auto ok = make_task({}, 4, 1, 10, 0, 1);
  CHECK_THROWS_WITH(trainer(net, ok, {.batch = 11}), Catch::Contains("batch = 11"));
  CHECK_THROWS_WITH(make_task({.teacher = "sine"}, 4, 1, 10, 0, 1), Catch::Contains("teacher = sine"));
}
