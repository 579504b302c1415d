// Hessian-vector products through the generated tangent passes against finite differences of the
// gradient; Lanczos against a quadratic with known spectrum; and H = Gauss–Newton at zero residual,
// where the preconditioned top eigenvalue must equal λ_max(K)/P.
#include <catch2/catch.hpp>
#include <xtensor-blas/xlinalg.hpp>

#include "mlp3_relu.hpp"
#include "mlp3_tanh.hpp"
#include "specdyn/spectra/hessian.hpp"
#include "specdyn/spectra/ntk.hpp"
#include "support.hpp"

using namespace specdyn;

namespace {
// Central differences of the gradient: O(ε²) truncation ≈ 1e-10, round-off ≈ 1e-16/ε ≈ 1e-11 relative.
constexpr double hvp_fd_tolerance = 1e-6;
// Lanczos to 1e-12 on exact HVPs vs a dense eigensolve of K/P: each product carries rounding of
// ~1e-16 × the Hessian's condition number (~1e6 here), so agreement to 1e-8.
constexpr double gauss_newton_tolerance = 1e-8;

template <class Decl>
void check_hvp(Decl decl, ad::loss_kind kind, const std::string& rule) {
  constexpr std::size_t L = Decl::hidden_layers;
  const std::size_t D = 5, N = 10, C = kind == ad::loss_kind::mse ? 2 : 3, P = 6;
  auto net = bind(decl, testing::rule_by_name(rule, L), {.D = D, .N = N, .C = C},
                  {.gamma0 = 0.8, .sigma = 1.1, .eta = 0.2, .seed = 6});
  auto data = make_task({.kind = task_kind::linear_teacher}, D, C, P, 0, 2);
  if (kind == ad::loss_kind::cross_entropy) data.y = testing::one_hot_labels(C, P, 5);
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
  const double eps = 1e-5;
  auto shifted_grad = [&](double sgn) {
    for (std::size_t i = 0; i < np; ++i) net.params().w[i] += sgn * eps * v[i];
    auto g = testing::gradient_of(net, data, kind);
    for (std::size_t i = 0; i < np; ++i) net.params().w[i] -= sgn * eps * v[i];
    return g;
  };
  const auto gp = shifted_grad(1), gm = shifted_grad(-1);
  for (std::size_t i = 0; i < np; ++i) {
    INFO(Decl::describe() << " " << rule << " " << to_string(kind) << " layer " << i);
    CHECK(testing::rel_err(hv[i], matrix((gp[i] - gm[i]) / (2 * eps))) < hvp_fd_tolerance);
  }
}
}  // namespace

TEST_CASE("Hessian-vector products equal finite differences of gradients", "[spectra][hessian]") {
  using namespace dsl;
  for (const std::string rule : {"mup", "ntk"}) {
    check_hvp(models::mlp3_tanh, ad::loss_kind::mse, rule);
    check_hvp(models::mlp3_tanh, ad::loss_kind::cross_entropy, rule);
    check_hvp(network(input, dense | dsl::erf, dense | softplus, dense | linear, readout), ad::loss_kind::mse, rule);
  }
}

TEST_CASE("Lanczos finds the top eigenvalue of a quadratic with a known spectrum", "[spectra][hessian]") {
  const std::size_t n = 200;
  // Q = U diag(λ) Uᵀ with U a product of Householder reflections; λ includes negatives.
  std::vector<double> lambda(n);
  for (std::size_t i = 0; i < n; ++i) lambda[i] = -3.0 + 7.0 * double(i) / double(n);  // max below 4
  lambda[17] = 5.25;
  rng gen(9, rng::stream::lanczos);
  std::vector<std::vector<double>> reflect(3, std::vector<double>(n));
  for (auto& h : reflect) {
    double s = 0;
    for (auto& e : h) { e = gen.normal(); s += e * e; }
    for (auto& e : h) e /= std::sqrt(s);
  }
  auto apply_u = [&](std::vector<double>& x, bool transpose) {  // U = H1 H2 H3
    for (std::size_t r = 0; r < 3; ++r) {
      const auto& h = reflect[transpose ? r : 2 - r];
      double d = 0;
      for (std::size_t i = 0; i < n; ++i) d += h[i] * x[i];
      for (std::size_t i = 0; i < n; ++i) x[i] -= 2 * d * h[i];
    }
  };
  std::size_t products = 0;
  auto apply = [&](const double* x, double* y) {
    std::vector<double> t(x, x + n);
    apply_u(t, true);
    for (std::size_t i = 0; i < n; ++i) t[i] *= lambda[i];
    apply_u(t, false);
    std::copy(t.begin(), t.end(), y);
    ++products;
  };
  CHECK(spectra::lanczos_top(n, apply, 1e-12) == Approx(5.25).epsilon(testing::solver_agreement));
  CHECK(products < n);  // matrix-free: far fewer products than a dense eigensolve would need
}

TEST_CASE("Lanczos on a zero operator answers 0 (it cannot start from one); a rank-one operator still works", "[spectra][hessian]") {
  const std::size_t n = 50;
  auto zero = [](const double*, double* y) { std::fill(y, y + 50, 0.0); };
  CHECK(spectra::lanczos_top(n, zero) == 0.0);
  // A = 3 e₀e₀ᵀ: top 3, although Lanczos sees an invariant subspace after one step
  auto rank_one = [](const double* x, double* y) {
    std::fill(y, y + 50, 0.0);
    y[0] = 3 * x[0];
  };
  CHECK(spectra::lanczos_top(n, rank_one) == Approx(3.0).epsilon(1e-9));
}

TEST_CASE("at zero residual the preconditioned Hessian top equals λ_max(K)/P", "[spectra][hessian]") {
  // Centred network with y = 0: Δ = 0, so H = Jᵀ J / P exactly (no second-order term), and
  // Λ^{1/2} Jᵀ J Λ^{1/2} / P has the nonzero spectrum of J Λ Jᵀ / P = K / P.
  for (const std::string rule : {"mup", "ntk"}) {
    const std::size_t D = 6, N = 24, P = 8;
    auto net = bind(models::mlp3_relu, testing::rule_by_name(rule, 2), {.D = D, .N = N, .C = 1},
                    {.gamma0 = 1.0, .eta = 0.5, .seed = 4});
    auto data = make_task({}, D, 1, P, 0, 3);
    auto ws = net.make_workspace(P);
    net.forward(data.x, ws);
    const matrix f0 = ws.out;
    data.y.fill(0.0);
    const double k_top = spectra::empirical_ntk(net, data.x, ws).top_eigenvalue;
    spectra::hessian<std::remove_cvref_t<decltype(models::mlp3_relu)>> h(net, data.x, data.y, &f0, ad::loss_kind::mse);
    INFO("rule " << rule);
    CHECK(h.top_eigenvalue(1e-12) == Approx(k_top / double(P)).epsilon(gauss_newton_tolerance));
  }
}

TEST_CASE("an entrywise preconditioner: λ_max(P^{-1/2} H P^{-1/2}) against the dense Hessian, and Λ itself reproduced",
          "[spectra][hessian]") {
  // a small network whose Hessian is formed densely from Hessian-vector products on unit vectors
  const std::size_t D = 3, N = 4, P = 5;
  auto net = bind(models::mlp3_relu, testing::rule_by_name("mup", 2), {.D = D, .N = N, .C = 1}, {.gamma0 = 1.0, .eta = 0.5, .seed = 6});
  auto data = make_task({}, D, 1, P, 0, 8);
  using Decl = std::remove_cvref_t<decltype(models::mlp3_relu)>;
  spectra::hessian<Decl> h(net, data.x, data.y, nullptr, ad::loss_kind::mse);
  const std::size_t n = h.dim();
  std::vector<matrix> v(net.parameter_count()), hv(net.parameter_count());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = xt::zeros_like(net.params().w[i]), hv[i] = v[i];
  matrix H({n, n});
  auto flat = [&](std::vector<matrix>& w, std::size_t k) -> double& {
    for (auto& m : w) {
      if (k < m.size()) return m.data()[k];
      k -= m.size();
    }
    throw std::out_of_range("flat index");
  };
  for (std::size_t k = 0; k < n; ++k) {
    flat(v, k) = 1.0;
    h.hvp(v, hv);
    flat(v, k) = 0.0;
    for (std::size_t r = 0; r < n; ++r) H(r, k) = flat(hv, r);
  }
  // a random positive diagonal P⁻¹ (what Adam's (√v̂ + ε)/rate would give, entry by entry)
  rng gen(3, rng::stream::weights, 77);
  std::vector<matrix> inv(net.parameter_count());
  std::vector<double> d(n);
  for (std::size_t i = 0, k = 0; i < inv.size(); ++i) {
    inv[i] = xt::zeros_like(net.params().w[i]);
    for (auto& x : inv[i]) x = d[k++] = 0.1 + gen.uniform();
  }
  matrix Hp({n, n});
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < n; ++c) Hp(r, c) = std::sqrt(d[r]) * 0.5 * (H(r, c) + H(c, r)) * std::sqrt(d[c]);
  const auto eig = xt::linalg::eigvalsh(Hp);
  const double top_dense = xt::amax(eig)();
  const double lam_default = h.top_eigenvalue(1e-12);
  h.set_entrywise_preconditioner(inv);
  CHECK(h.top_eigenvalue(1e-12) == Approx(top_dense).epsilon(1e-8));
  // Λ_i = lr_i/η, entry by entry, gives back the per-tensor default
  for (std::size_t i = 0; i < inv.size(); ++i) inv[i].fill(net.learning_rates()[i] / net.hyper_params().eta);
  h.set_entrywise_preconditioner(inv);
  CHECK(h.top_eigenvalue(1e-12) == Approx(lam_default).epsilon(1e-10));
}
