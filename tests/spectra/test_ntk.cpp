// The NTK from the identity K = Σ_i (lr_i s_i²/η)(δ·δ)(in·in) (docs/conventions.md §4.1) against an explicit
// Jacobian J Λ Jᵀ, against Σ G^{ℓ+1}⊙Φ^ℓ in μP, and against one small GD step of the network.
#include <catch2/catch.hpp>

#include <random>

#include <xtensor-blas/xlinalg.hpp>

#include "mlp3_tanh.hpp"
#include "specdyn/spectra/ntk.hpp"
#include "support.hpp"

using namespace specdyn;

namespace {
/// The identity's NTK against J Λ Jᵀ from one reverse pass per (output, sample) seed.
template <class Decl>
void check_explicit_jacobian(Decl decl, const std::string& rule, std::size_t depth = 0) {
  const std::size_t D = 5, N = 12, C = 2, P = 4;
  auto net = bind(decl, testing::rule_by_name(rule, Decl::hidden_layers), {.D = D, .N = N, .C = C, .depth = depth},
                  {.gamma0 = 0.7, .sigma = 1.2, .eta = 0.3, .seed = 3});
  const auto data = make_task({.kind = task_kind::linear_teacher}, D, C, P, 0, 1);
  auto ws = net.make_workspace(P);
  net.forward(data.x, ws);
  const auto r = spectra::empirical_ntk(net, data.x, ws);
  const std::size_t np = net.parameter_count();
  // Explicit Jacobian rows: one reverse pass per (a, μ) seed, gradients into zeroed buffers.
  std::vector<std::vector<matrix>> jac;
  for (std::size_t a = 0; a < C; ++a)
    for (std::size_t mu = 0; mu < P; ++mu) {
      net.forward(data.x, ws);
      ws.adj_out.fill(0.0);
      ws.adj_out(a, mu) = 1.0;
      std::vector<matrix> g(np);
      for (std::size_t i = 0; i < np; ++i) g[i] = xt::zeros_like(net.params().w[i]);
      net.reverse(data.x, ws, ad::gradient_sink{&g});
      jac.push_back(g);
    }
  matrix k_explicit = xt::zeros<double>({C * P, C * P});
  for (std::size_t r1 = 0; r1 < C * P; ++r1)
    for (std::size_t r2 = 0; r2 < C * P; ++r2)
      for (std::size_t i = 0; i < np; ++i)
        k_explicit(r1, r2) += net.learning_rates()[i] / net.hyper_params().eta * xt::sum(jac[r1][i] * jac[r2][i])();
  INFO(Decl::describe() << " rule " << rule);
  CHECK(testing::rel_err(r.K, k_explicit) < testing::same_algebra);
}
}  // namespace

TEST_CASE("NTK identity equals the explicit Jacobian J Λ Jᵀ", "[spectra][ntk]") {
  for (const std::string rule : {"mup", "ntk", "sp", "mup_tp4"}) check_explicit_jacobian(models::mlp3_tanh, rule);
}

TEST_CASE("NTK identity equals J Λ Jᵀ for residual, biased, layer-normed and unequal-width blocks", "[spectra][ntk]") {
  using namespace dsl;
  for (const std::string rule : {"mup", "depth_mup", "ntk"}) {
    check_explicit_jacobian(network(input, dense_b, repeat<any_depth>(residual(layernorm | gain, dense_w<2> | bias | relu, dense)),
                                    layernorm, readout), rule, 3);
    check_explicit_jacobian(network(input, dense_w<2> | bias | dsl::tanh, dense_w<1, 2> | dsl::erf, readout), rule);
  }
}

TEST_CASE("in μP the NTK is Σ G^{ℓ+1} ⊙ Φ^ℓ and drives the linearised step", "[spectra][ntk]") {
  const std::size_t D = 8, N = 64, P = 6;
  auto net = bind(models::mlp3_tanh, dsl::mup, {.D = D, .N = N, .C = 1}, {.gamma0 = 1.3, .eta = 1e-5, .seed = 2});
  const auto data = make_task({.kind = task_kind::single_index}, D, 1, P, 0, 4);
  auto ws = net.make_workspace(P);
  net.forward(data.x, ws);
  const auto r = spectra::empirical_ntk(net, data.x, ws);
  REQUIRE(r.phi.size() == 3);
  REQUIRE(r.g.size() == 2);
  const matrix sum = r.g[0] * r.phi[0] + r.g[1] * r.phi[1] + r.phi[2];  // G^3 = 1
  CHECK(testing::rel_err(sum, r.K) < testing::same_algebra);
  // f(t+1) − f(t) = (η/P) K Δ + O(η²)
  net.forward(data.x, ws);
  const matrix f0 = ws.out;
  trainer tr(net, data, {.steps = 1});
  tr.step();
  tr.evaluate_train();
  const matrix df = tr.train_fields().out - f0;
  matrix pred({1, P});
  for (std::size_t mu = 0; mu < P; ++mu) {
    pred(0, mu) = 0;
    for (std::size_t nu = 0; nu < P; ++nu) pred(0, mu) += 1e-5 / double(P) * r.K(mu, nu) * (data.y(0, nu) - f0(0, nu));
  }
  // The linearisation error is O(η) relative: η = 1e-5 with O(1) curvature.
  CHECK(testing::rel_err(df, pred) < 1e-3);
}

TEST_CASE("λ_max of a large NTK by Lanczos equals LAPACK's full eigensolve", "[spectra][ntk]") {
  // Above spectra::dense_eigensolve_limit the top eigenvalue comes from Lanczos on the matrix; LAPACK's
  // syevd (the small-matrix route) is the oracle here at every size. Tolerance 1e-10: Lanczos stops at a
  // relative residual of 1e-12, and syevd is exact to a few ulps of ‖K‖.
  auto lapack_top = [](const matrix& k) { return xt::amax(xt::linalg::eigvalsh(k))(); };
  SECTION("the NTK of a network with many outputs (C·P = 3·120 = 360)") {
    const std::size_t D = 10, N = 48, C = 3, P = 120;
    auto net = bind(models::mlp3_tanh, dsl::mup, {.D = D, .N = N, .C = C}, {.gamma0 = 0.8, .eta = 0.5, .seed = 11});
    const auto data = make_task({.kind = task_kind::linear_teacher}, D, C, P, 0, 2);
    auto ws = net.make_workspace(P);
    net.forward(data.x, ws);
    const auto r = spectra::empirical_ntk(net, data.x, ws);
    REQUIRE(r.K.shape(0) > spectra::dense_eigensolve_limit);
    CHECK(r.top_eigenvalue == Approx(lapack_top(r.K)).epsilon(1e-10));
  }
  SECTION("Wishart matrices with two close outliers on top, and the zero matrix") {
    for (const std::size_t n : {spectra::dense_eigensolve_limit + 1, std::size_t(700)}) {
      INFO("n = " << n);
      std::mt19937_64 gen(n);
      std::normal_distribution<double> z;
      matrix a({n, n / 2});
      for (auto& v : a) v = z(gen);
      matrix k({n, n});
      blas::gemm(false, true, 1.0 / double(n), a, a, 0.0, k);
      // a rank-two spike of strengths 5 and 5·(1 + 1e-4) along two random orthonormal directions: two
      // outliers far above the bulk edge (≈ 1.5) and 1–2 % apart after mixing with the bulk (5.609 and
      // 5.496 at n = 257, 5.602 and 5.550 at n = 700), where Lanczos must still return the larger one
      std::vector<double> u(n), v(n);
      for (auto& x : u) x = z(gen);
      for (auto& x : v) x = z(gen);
      auto dot = [&](const std::vector<double>& p, const std::vector<double>& q) {
        double s = 0;
        for (std::size_t i = 0; i < n; ++i) s += p[i] * q[i];
        return s;
      };
      const double uv = dot(u, v) / dot(u, u);
      for (std::size_t i = 0; i < n; ++i) v[i] -= uv * u[i];
      const double nu = std::sqrt(dot(u, u)), nv = std::sqrt(dot(v, v));
      for (std::size_t i = 0; i < n; ++i) u[i] /= nu, v[i] /= nv;
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) k(i, j) += 5.0 * u[i] * u[j] + 5.0 * (1 + 1e-4) * v[i] * v[j];
      const auto ev = xt::linalg::eigvalsh(k);  // ascending
      INFO("top two eigenvalues " << ev(n - 1) << ", " << ev(n - 2));
      CHECK(ev(n - 2) > 0.9 * ev(n - 1));  // the pair is close: the case the section is about
      CHECK(spectra::dense_top_eigenvalue(k) == Approx(lapack_top(k)).epsilon(1e-10));
      CHECK(spectra::dense_top_eigenvalue(matrix(xt::zeros<double>({n, n}))) == 0.0);
    }
    CHECK_THROWS_AS(spectra::dense_top_eigenvalue(matrix(xt::zeros<double>({300, 200}))), usage_error);
  }
}
