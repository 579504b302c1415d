// The generated passes of every block kind (bias, width multiplier, activation block, layer norm
// with and without gain, residual, repeat<K>, repeat<any_depth>) and of nested combinations, against
// central finite differences: gradients of the loss, and Hessian-vector products against differences
// of gradients. Also: a residual network's forward pass against the recursion h ← h + m_L W φ(h)/√N
// written out by hand, and the branch multiplier m_L = β L^{-α_L} of each rule.
#include <catch2/catch.hpp>

#include "specdyn/spectra/hessian.hpp"
#include "support.hpp"

using namespace specdyn;
using namespace specdyn::testing;

namespace {
// Central differences with step h ~ 1e-6: truncation O(h²) ~ 1e-12, round-off O(ε/h) ~ 1e-10
// relative; 1e-6 leaves room for ill-conditioned entries (as in test_gradients.cpp).
constexpr double fd_tolerance = 1e-6;
constexpr double fd_step = 1e-6;
// Hessian-vector products against central differences of gradients with ε = 1e-5:
// O(ε²) truncation ≈ 1e-10, round-off ≈ 1e-16/ε ≈ 1e-11 relative.
constexpr double hvp_tolerance = 1e-6;
constexpr double hvp_step = 1e-5;

struct setup {
  std::size_t D = 4, N = 6, C = 2, P = 5, depth = 3;
};

template <class Decl>
void check_gradients(Decl decl, const std::string& rule, ad::loss_kind kind, setup s = {}) {
  if (kind == ad::loss_kind::cross_entropy) s.C = 3;
  auto net = bind(decl, rule_by_name(rule, Decl::hidden_layers), {.D = s.D, .N = s.N, .C = s.C, .depth = s.depth},
                  {.gamma0 = 0.7, .sigma = 1.2, .eta = 0.1, .seed = 11, .sigma_bias = 0.8, .branch = 1.3});
  auto data = make_task({.kind = task_kind::linear_teacher}, s.D, s.C, s.P, 0, 5);
  if (kind == ad::loss_kind::cross_entropy) data.y = one_hot_labels(s.C, s.P, 3);
  // gains start at exactly 1: move them so that their derivatives are generic
  for (std::size_t i = 0; i < net.parameter_count(); ++i)
    if (net.parameter_info()[i].kind == ad::param_kind::gain) {
      rng gen(4, rng::stream::data, i);
      for (auto& g : net.params().w[i]) g *= 1 + 0.3 * gen.normal();
    }
  const auto grad = gradient_of(net, data, kind);
  REQUIRE(grad.size() == net.parameter_count());
  for (std::size_t i = 0; i < grad.size(); ++i) {
    matrix fd = xt::zeros_like(grad[i]);
    auto& w = net.params().w[i];
    for (std::size_t k = 0; k < w.size(); ++k) {
      const double saved = w.data()[k];
      const double h = fd_step * std::max(1.0, std::abs(saved));
      w.data()[k] = saved + h;
      const double up = loss_of(net, data, kind);
      w.data()[k] = saved - h;
      const double down = loss_of(net, data, kind);
      w.data()[k] = saved;
      fd.data()[k] = (up - down) / (2 * h);
    }
    INFO(Decl::describe() << " rule " << rule << " loss " << to_string(kind) << " parameter " << net.parameter_name(i));
    CHECK(xt::amax(xt::abs(fd))() > 0);  // every parameter reaches the loss
    CHECK(rel_err(grad[i], fd) < fd_tolerance);
  }
}

template <class Decl>
void check_hvp(Decl decl, const std::string& rule, ad::loss_kind kind, setup s = {}) {
  if (kind == ad::loss_kind::cross_entropy) s.C = 3;
  auto net = bind(decl, rule_by_name(rule, Decl::hidden_layers), {.D = s.D, .N = s.N, .C = s.C, .depth = s.depth},
                  {.gamma0 = 0.8, .sigma = 1.1, .eta = 0.2, .seed = 6, .sigma_bias = 0.7, .branch = 0.9});
  auto data = make_task({.kind = task_kind::linear_teacher}, s.D, s.C, s.P, 0, 2);
  if (kind == ad::loss_kind::cross_entropy) data.y = one_hot_labels(s.C, s.P, 5);
  const std::size_t np = net.parameter_count();
  std::vector<matrix> v(np), hv(np);
  rng gen(1, rng::stream::lanczos);
  for (std::size_t i = 0; i < np; ++i) {
    v[i] = xt::zeros_like(net.params().w[i]);
    for (auto& e : v[i]) e = gen.normal();
    hv[i] = xt::zeros_like(v[i]);
  }
  {
    spectra::hessian<Decl> h(net, data.x, data.y, nullptr, kind);
    h.hvp(v, hv);
  }
  auto shifted_grad = [&](double sgn) {
    for (std::size_t i = 0; i < np; ++i) net.params().w[i] += sgn * hvp_step * v[i];
    auto g = gradient_of(net, data, kind);
    for (std::size_t i = 0; i < np; ++i) net.params().w[i] -= sgn * hvp_step * v[i];
    return g;
  };
  const auto gp = shifted_grad(1), gm = shifted_grad(-1);
  for (std::size_t i = 0; i < np; ++i) {
    INFO(Decl::describe() << " " << rule << " " << to_string(kind) << " parameter " << net.parameter_name(i));
    CHECK(testing::rel_err(hv[i], matrix((gp[i] - gm[i]) / (2 * hvp_step))) < hvp_tolerance);
  }
}

template <class Decl>
void check_all(Decl decl, std::initializer_list<const char*> rules) {
  for (const std::string rule : rules)
    for (auto kind : {ad::loss_kind::mse, ad::loss_kind::cross_entropy}) {
      check_gradients(decl, rule, kind);
      check_hvp(decl, rule, kind);
    }
}
}  // namespace

TEST_CASE("biases: gradients and Hessian-vector products equal finite differences", "[ad][blocks]") {
  using namespace dsl;
  check_all(network(input, dense | bias | dsl::tanh, dense_b | relu, dense_b, readout), {"mup", "ntk", "mup_tp4", "sp"});
}

TEST_CASE("width multipliers: gradients and Hessian-vector products equal finite differences", "[ad][blocks]") {
  using namespace dsl;
  check_all(network(input, dense_w<2> | dsl::tanh, dense_w<1, 2> | dsl::erf, dense_w<3, 2> | softplus, readout), {"mup", "ntk", "sp"});
}

TEST_CASE("residual blocks with activation blocks: finite differences", "[ad][blocks]") {
  using namespace dsl;
  check_all(network(input, dense, repeat<3>(residual(dsl::tanh, dense)), dsl::tanh, readout), {"mup", "depth_mup", "ntk"});
  check_all(network(input, dense | relu, residual(dense_w<2> | softplus, dense), residual(dsl::erf, dense_b), readout), {"depth_mup"});
}

TEST_CASE("layer norm with and without gain: finite differences", "[ad][blocks]") {
  using namespace dsl;
  check_all(network(input, dense | dsl::tanh, layernorm, dense | softplus, layernorm | gain, readout), {"mup", "mup_tp4"});
  check_all(network(input, dense_b, repeat<2>(residual(layernorm | gain, dense_w<2> | bias | dsl::tanh, dense)), layernorm, readout),
            {"depth_mup", "ntk"});
}

TEST_CASE("nested compositions and repeat<any_depth>: finite differences", "[ad][blocks]") {
  using namespace dsl;
  check_all(network(input, dense | dsl::tanh, residual(residual(dsl::tanh, dense), dense | softplus, dense), readout), {"depth_mup"});
  check_all(network(input, dense | dsl::tanh, repeat<2>(dense | dsl::erf, dense_w<2> | dsl::tanh, dense | softplus), readout), {"mup"});
  check_all(network(input, dense, repeat<any_depth>(residual(layernorm, dense | relu, dense)), softplus, readout), {"depth_mup"});
}

TEST_CASE("a residual network computes h ← h + m_L W φ(h)/√N, m_L = β L^{-α_L}", "[ad][blocks]") {
  using namespace dsl;
  constexpr auto decl = network(input, dense, repeat<any_depth>(residual(dsl::tanh, dense)), dsl::tanh, readout);
  const std::size_t D = 5, N = 7, P = 3;
  const auto data = make_task({.kind = task_kind::linear_teacher}, D, 1, P, 0, 1);
  for (std::size_t depth : {1u, 4u, 9u}) {
    for (const std::string rule : {"mup", "depth_mup"}) {
      const double beta = 0.6;
      auto net = bind(decl, rule_by_name(rule, 2), {.D = D, .N = N, .C = 1, .depth = depth}, {.gamma0 = 2, .seed = 3, .branch = beta});
      REQUIRE(net.residual_blocks() == depth);
      const double m = beta * (rule == "depth_mup" ? 1.0 / std::sqrt(double(depth)) : 1.0);
      CHECK(net.branch_multiplier() == Approx(m).epsilon(1e-15));
      REQUIRE(net.parameter_count() == depth + 2);
      auto ws = net.make_workspace(P);
      net.forward(data.x, ws);
      const auto& p = net.params();
      for (std::size_t mu = 0; mu < P; ++mu) {
        std::vector<double> h(N, 0.0);
        for (std::size_t i = 0; i < N; ++i)
          for (std::size_t k = 0; k < D; ++k) h[i] += p.w[0](i, k) * data.x(k, mu) / std::sqrt(double(D));
        for (std::size_t l = 1; l <= depth; ++l) {
          std::vector<double> next = h;
          for (std::size_t i = 0; i < N; ++i)
            for (std::size_t j = 0; j < N; ++j) next[i] += m * p.w[l](i, j) * std::tanh(h[j]) / std::sqrt(double(N));
          h = next;
        }
        double f = 0;  // μP readout: w·φ(h)/(γ0 N)
        for (std::size_t i = 0; i < N; ++i) f += p.w[depth + 1](0, i) * std::tanh(h[i]) / (2.0 * double(N));
        CHECK(ws.out(0, mu) == Approx(f).epsilon(same_algebra));
      }
    }
  }
}

TEST_CASE("depth verdicts: depth-μP learns features as L → ∞, no branch multiplier is unstable", "[dsl][blocks]") {
  using namespace dsl;
  static_assert(depth_mup_t::depth_verdict == verdict::feature_learning);
  static_assert(mup_t::depth_verdict == verdict::unstable);
  exponents ode = rules::mup_table;
  ode.alpha_depth = rational{1};
  CHECK(classify_depth(ode) == verdict::trivial);  // 1/L branches at a fixed rate freeze
  ode.c_depth = rational{-1};                      // ... unless the rate grows like L
  CHECK(classify_depth(ode) == verdict::feature_learning);
  exponents fast = rules::depth_mup_table;
  fast.c_depth = rational{-1, 2};
  CHECK(classify_depth(fast) == verdict::unstable);
}
