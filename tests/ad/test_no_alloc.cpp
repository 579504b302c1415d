// A training step allocates nothing: every buffer is sized when the model and trainer are built.
// This file replaces the global operator new for the whole test binary and counts calls while
// a flag is set.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // malloc/free pairs behind operator new/delete
#include <atomic>
#include <cstdlib>
#include <new>

#include <catch2/catch.hpp>

#include "support.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (counting) ++allocations;
  if (void* p = std::aligned_alloc(std::size_t(a), (n + std::size_t(a) - 1) / std::size_t(a) * std::size_t(a))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace specdyn;

template <class Decl>
long allocations_in_steps(Decl decl, std::size_t batch, ad::loss_kind kind, bool centre, optimizer_options opt = {}) {
  const std::size_t D = 16, N = 64, C = kind == ad::loss_kind::mse ? 1 : 3, P = 32;
  auto net = bind(decl, dsl::depth_mup, {.D = D, .N = N, .C = C, .depth = 3}, {.gamma0 = 1, .sigma = 1, .eta = 0.2, .seed = 1});
  auto data = make_task({.kind = task_kind::linear_teacher}, D, C, P, 8, 3);
  if (kind == ad::loss_kind::cross_entropy) data.y = testing::one_hot_labels(C, P, 4);
  trainer tr(net, data, {.steps = 10, .batch = batch, .centre = centre, .loss = kind, .seed = 2, .optimizer = opt});
  tr.step();  // the first step may touch lazily initialised library state (OpenBLAS buffers)
  allocations = 0;
  counting = true;
  for (int k = 0; k < 5; ++k) tr.step();
  tr.evaluate_train();
  tr.evaluate_test();
  counting = false;
  return allocations;
}

TEST_CASE("a GD or SGD step allocates nothing", "[ad][alloc]") {
  using namespace dsl;
  const auto mlp = network(input, dense | dsl::tanh, dense | relu, readout);
  const auto lin = network(input, dense | linear, dense | linear, readout);
  const auto custom = network(input, dense | softplus, readout);
  // Positive control: the counter does see allocations.
  counting = true;
  { auto* v = new std::vector<double>(10); delete v; }
  counting = false;
  REQUIRE(allocations > 0);
  CHECK(allocations_in_steps(mlp, 0, ad::loss_kind::mse, false) == 0);
  CHECK(allocations_in_steps(mlp, 8, ad::loss_kind::mse, true) == 0);
  CHECK(allocations_in_steps(lin, 0, ad::loss_kind::mse, true) == 0);
  CHECK(allocations_in_steps(custom, 4, ad::loss_kind::cross_entropy, false) == 0);
}

TEST_CASE("a step of residual, layer-normed, biased and unequal-width blocks allocates nothing", "[ad][alloc]") {
  using namespace dsl;
  const auto preln = network(input, dense_b, repeat<any_depth>(residual(layernorm | gain, dense_w<2> | bias | relu, dense)), layernorm, readout);
  const auto res = network(input, dense, repeat<4>(residual(dsl::tanh, dense)), dsl::tanh, readout);
  const auto nested = network(input, dense_w<3, 2> | dsl::tanh, residual(residual(relu, dense_w<3, 2>), dense_b | softplus, dense_w<3, 2>), readout);
  CHECK(allocations_in_steps(preln, 0, ad::loss_kind::mse, true) == 0);
  CHECK(allocations_in_steps(preln, 8, ad::loss_kind::cross_entropy, false) == 0);
  CHECK(allocations_in_steps(res, 8, ad::loss_kind::mse, false) == 0);
  CHECK(allocations_in_steps(nested, 0, ad::loss_kind::mse, true) == 0);
}

TEST_CASE("a step of every optimizer allocates nothing (its state is sized with the trainer)", "[ad][alloc]") {
  using namespace dsl;
  const auto preln = network(input, dense_b, repeat<any_depth>(residual(layernorm | gain, dense_w<2> | bias | relu, dense)), layernorm, readout);
  for (auto k : {optimizer_kind::sgd, optimizer_kind::momentum, optimizer_kind::nesterov, optimizer_kind::adam,
                 optimizer_kind::adamw, optimizer_kind::sign}) {
    INFO(to_string(k));
    const optimizer_options o{.kind = k, .weight_decay = k == optimizer_kind::adam ? 0.0 : 0.01};
    CHECK(allocations_in_steps(preln, 0, ad::loss_kind::mse, true, o) == 0);
    CHECK(allocations_in_steps(preln, 8, ad::loss_kind::cross_entropy, false, o) == 0);
  }
}
