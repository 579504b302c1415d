// The block closure (dmft/blocks.hpp) against what can be computed independently: the chain solver
// on chains (the exact deep-linear closure to rounding, the particle march within Monte Carlo error),
// closed-form kernels at t = 0 of linear residual networks and of layer norm, the lazy limit, and
// finite-width residual networks (statistical label: errors falling with N).
#include <catch2/catch.hpp>

#include "deep_linear3.hpp"
#include "dmft_support.hpp"
#include "mlp3_bias.hpp"
#include "mlp3_tanh.hpp"
#include "preln_resnet.hpp"
#include "resnet_linear.hpp"
#include "resnet_tanh.hpp"
#include "specdyn/stats.hpp"

using namespace specdyn;
using namespace specdyn::testing;

namespace {
// The exact closures (orthonormal design) of the two solvers do the same algebra in different orders;
// rounding grows through the march's pseudo-inverses (measured: 4e-11 on Φ after 12 steps, 1e-15 on G).
constexpr double exact_agreement = 1e-9;

struct block_problem {
  dmft::problem pr;
  run::block_setup bs;
};

/// The theory's problem and block setup for a declaration, as `specdyn theory` builds them.
template <class Decl>
block_problem setup(Decl, const std::string& rule, std::size_t steps, std::size_t depth = 1, double gamma0 = 1.5, double lr = 0.3,
                    std::optional<std::size_t> width = std::nullopt, double branch = 1.0) {
  run_config cfg;
  cfg.param = rule;
  cfg.steps = steps;
  cfg.samples = 6;
  cfg.test_samples = 3;
  cfg.dim = 12;
  cfg.gamma0 = gamma0;
  cfg.lr = lr;
  cfg.depth = Decl::depth_generic ? depth : 0;
  cfg.branch = branch;
  const auto data = make_data(cfg);
  const rule_info r = cfg.rule(Decl::hidden_layers);
  auto [bs, eff] = run::make_block_setup<Decl>(cfg, r, width, data.samples());
  return {run::make_problem(cfg, data, eff), std::move(bs)};
}

template <class Decl>
dmft::solution solve_blocks(const block_problem& b, dmft::innovations kind, std::size_t particles = 0, std::uint64_t seed = 0,
                            bool spikes = false) {
  dmft::solver_options o;
  o.kind = kind;
  o.particles = kind == dmft::innovations::design ? dmft::block_solver<Decl>::design_particles(b.pr, b.bs.info, b.bs.depth) : particles;
  o.spike_moments = spikes;
  return dmft::block_solver<Decl>(b.pr, o, b.bs.coefficients, b.bs.info, b.bs.depth).solve(seed);
}

double max_rel(const matrix& a, const matrix& b) { return rel_err(a, b); }
}  // namespace

TEST_CASE("on a chain the block closure equals the chain solver's exact deep-linear closure", "[dmft][blocks]") {
  using D = std::remove_cvref_t<decltype(models::deep_linear3)>;
  const auto b = setup(models::deep_linear3, "mup", 12);
  dmft::solver_options o;
  o.kind = dmft::innovations::design;
  o.particles = dmft::design_particles(2, b.pr.p_all(), b.pr.outputs(), b.pr.steps);
  o.spike_moments = true;
  const auto chain = dmft::particle_solver<D>(b.pr, o).solve(0);
  const auto blocks = solve_blocks<D>(b, dmft::innovations::design, 0, 0, true);
  CHECK(curve_error(blocks.train_loss, chain.train_loss) < exact_agreement);
  CHECK(curve_error(blocks.test_loss, chain.test_loss) < exact_agreement);
  CHECK(curve_error(blocks.ntk_top, chain.ntk_top) < exact_agreement);
  REQUIRE(blocks.phi_tt.size() == chain.phi_tt.size());
  for (std::size_t l = 0; l < chain.phi_tt.size(); ++l) {
    INFO("layer " << l << " Φ error " << max_rel(blocks.phi_tt[l].back(), chain.phi_tt[l].back()) << " G error " << max_rel(blocks.g_tt[l].back(), chain.g_tt[l].back()));
    CHECK(max_rel(blocks.phi_tt[l].back(), chain.phi_tt[l].back()) < exact_agreement);
    CHECK(max_rel(blocks.g_tt[l].back(), chain.g_tt[l].back()) < exact_agreement);
  }
  REQUIRE(blocks.spikes.size() == chain.spikes.size());
  CHECK(max_rel(blocks.spikes[1].gy, chain.spikes[1].gy) < exact_agreement);
  CHECK(max_rel(blocks.spikes[1].zz, chain.spikes[1].zz) < exact_agreement);
  CHECK(max_rel(blocks.spikes[1].pz, chain.spikes[1].pz) < exact_agreement);
}

TEST_CASE("on a tanh chain the block march agrees with the chain march within Monte Carlo error", "[dmft][blocks]") {
  using D = std::remove_cvref_t<decltype(models::mlp3_tanh)>;
  const auto b = setup(models::mlp3_tanh, "mup", 8);
  dmft::solver_options o;
  o.particles = 4000;
  dmft::particle_solver<D> chain(b.pr, o);
  std::vector<double> a, c;
  for (std::uint64_t s = 0; s < 6; ++s) {
    a.push_back(chain.solve(s).train_loss.back());
    c.push_back(solve_blocks<D>(b, dmft::innovations::gaussian, 4000, 100 + s).train_loss.back());
  }
  const auto [ma, sa] = stats::mean_se(a);
  const auto [mc, sc] = stats::mean_se(c);
  INFO("chain " << ma << " ± " << sa << ", blocks " << mc << " ± " << sc);
  // independent replicas: the difference of the means is within 4 combined standard errors
  CHECK(std::abs(ma - mc) < 4 * std::hypot(sa, sc));
}

namespace {
// a two-layer linear network with a bias: every update stays in the span of W0's D columns, the
// bias and the readout, so a network started with an orthogonal [W0, b, wᵀ] at the limit's Gram
// follows the infinite-width trajectory exactly, at any width N ≥ D + 2 (docs/optimizers.md §5.1)
inline constexpr auto two_layer_bias = dsl::network(dsl::input, dsl::dense | dsl::bias | dsl::linear, dsl::readout);
}  // namespace

TEST_CASE("momentum, Nesterov and weight decay in the block closure: a chain's exact closure, and a biased net started at the limit's Gram",
          "[dmft][blocks][optimizers]") {
  struct setting {
    dmft::update_rule::kind kind;
    double lambda;  // weight decay (decoupled, matrices only: the bias is not decayed)
  };
  for (const setting st : {setting{dmft::update_rule::kind::momentum, 0.0}, setting{dmft::update_rule::kind::nesterov, 0.0},
                           setting{dmft::update_rule::kind::gd, 0.4}, setting{dmft::update_rule::kind::momentum, 0.3}}) {
    const auto kind = st.kind;
    INFO((kind == dmft::update_rule::kind::momentum ? "heavy ball" : kind == dmft::update_rule::kind::nesterov ? "Nesterov" : "GD")
         << " λ = " << st.lambda);
    {  // on a chain: the block closure = the chain solver, both exact (design)
      using D = std::remove_cvref_t<decltype(models::deep_linear3)>;
      auto b = setup(models::deep_linear3, "mup", 12, 1, 1.5, 0.05);
      b.pr.update.how = kind;
      b.pr.update.mu = 0.7;
      b.pr.update.decay = 1.0 - 0.05 * st.lambda;
      dmft::solver_options o;
      o.kind = dmft::innovations::design;
      o.particles = dmft::design_particles(2, b.pr.p_all(), b.pr.outputs(), b.pr.steps);
      const auto chain = dmft::particle_solver<D>(b.pr, o).solve(0);
      const auto blocks = solve_blocks<D>(b, dmft::innovations::design);
      CHECK(curve_error(blocks.train_loss, chain.train_loss) < exact_agreement);
      CHECK(curve_error(blocks.test_loss, chain.test_loss) < exact_agreement);
      auto gd = setup(models::deep_linear3, "mup", 12, 1, 1.5, 0.05);
      CHECK(curve_error(chain.train_loss, solve_blocks<D>(gd, dmft::innovations::design).train_loss) > 1e-2);  // momentum mattered
    }
    {  // a bias (the block closure's velocity-form updates of biases and of the readout)
      using D = std::remove_cvref_t<decltype(two_layer_bias)>;
      const double gamma0 = 1.5, lr = 0.1;
      auto b = setup(two_layer_bias, "mup", 15, 1, gamma0, lr);
      b.pr.update.how = kind;
      b.pr.update.mu = 0.8;
      b.pr.update.decay = 1.0 - lr * st.lambda;
      const auto theory = solve_blocks<D>(b, dmft::innovations::design);
      run_config cfg;
      cfg.steps = 15;
      cfg.samples = 6;
      cfg.test_samples = 3;
      cfg.dim = 12;
      const auto data = make_data(cfg);  // the data setup() used
      const std::size_t dim = 12;
      for (std::size_t n : {dim + 2, std::size_t(40)}) {
        auto net = bind(two_layer_bias, dsl::mup, {.D = dim, .N = n, .C = 1}, {.gamma0 = gamma0, .sigma = 1.0, .eta = lr, .seed = 4});
        // columns 0..D−1: W0, D: the bias, D+1: the readout, each √N × its raw initial std × an orthonormal column
        const matrix q = orthonormal_columns(n, dim + 2, 17);
        const auto& info = net.parameter_info();
        REQUIRE(info.size() == 3);
        auto& w = net.params().w;
        for (std::size_t i = 0; i < n; ++i) {
          const double r = std::sqrt(double(n));
          for (std::size_t j = 0; j < dim; ++j) w[0](i, j) = r * net.init_std(0) * q(i, j);
          w[1].data()[i] = r * net.init_std(1) * q(i, dim);
          w[2](0, i) = r * net.init_std(2) * q(i, dim + 1);
        }
        optimizer_options oo;
        oo.kind = kind == dmft::update_rule::kind::momentum ? optimizer_kind::momentum
                  : kind == dmft::update_rule::kind::nesterov ? optimizer_kind::nesterov
                                                              : optimizer_kind::sgd;
        oo.momentum = 0.8;
        oo.weight_decay = st.lambda;
        trainer tr(net, data, {.steps = 15, .centre = true, .optimizer = oo});
        tr.run();
        INFO("N = " << n);
        CHECK(curve_error(tr.train_loss(), theory.train_loss) < exact_agreement);
      }
    }
  }
}

TEST_CASE("the pairwise block closure with U = Ĝ reproduces the block GD closure on the same particles", "[dmft][blocks][optimizers]") {
  // every pairwise coupling (input weight [S, D], hidden and branch weights [S, S] both ways with
  // their width ratio, biases, layer-norm gains, readout [S, C]) is the GD closure's kernel sum in
  // another order: equal to rounding on the same particles. Smooth activations only: the sources'
  // eigenvalue cut (dmft/sources.hpp) is a discrete decision, and with ReLU's exactly degenerate
  // kernels a mode near the cut flips under rounding at some step (measured: 1e-15 → 1e-3 in one step)
  auto check = [](auto decl, std::size_t depth) {
    using D = std::remove_cvref_t<decltype(decl)>;
    auto b = setup(decl, "mup", 6, depth, 1.5, 0.3);
    const auto gd = solve_blocks<D>(b, dmft::innovations::gaussian, 500, 3);
    b.pr.update.how = dmft::update_rule::kind::pairwise_gd;
    const auto pw = solve_blocks<D>(b, dmft::innovations::gaussian, 500, 3);
    double worst = 0;
    for (std::size_t t = 0; t < gd.f.size(); ++t) worst = std::max(worst, rel_err(pw.f[t], gd.f[t]));
    INFO(D::describe() << ": worst relative difference of f " << worst);
    // rounding grows through the sources' pseudo-inverses over the march (measured 4e-10 … 3e-9 here)
    CHECK(worst < 1e-8);
    CHECK(gd.train_loss.back() < 0.95 * gd.train_loss.front());
  };
  check(models::mlp3_bias, 1);  // biases
  check(models::mlp3_tanh, 1);  // a chain through the block closure
  check(models::resnet_tanh, 2);
  namespace d = specdyn::dsl;
  check(d::network(d::input, d::dense | d::tanh, d::layernorm, d::readout), 1);  // a layer-norm gain
  check(d::network(d::input, d::dense, d::repeat<d::any_depth>(d::residual(d::layernorm, d::dense | d::tanh, d::dense)), d::layernorm, d::readout),
        2);  // pre-LN, two branch weights
}

TEST_CASE("linear residual networks at t = 0: Φ, G and the NTK of the closed form", "[dmft][blocks]") {
  // h¹ = W⁰x, h^{ℓ+1} = (I + m X_ℓ) h^ℓ: Φ(h^ℓ) = q^{ℓ−1} σ² K^x with q = 1 + m²σ², the backward
  // kernels G(h^ℓ) = σ² q^{L+1−ℓ}, and K(0) = K^x [2σ² q^L + L m² σ⁴ q^{L−1}] in μP (κ = 1).
  using D = std::remove_cvref_t<decltype(models::resnet_linear)>;
  for (std::size_t depth : {1u, 3u, 8u}) {
    for (const std::string rule : {"mup", "depth_mup"}) {
      const double beta = 0.8;
      const auto b = setup(models::resnet_linear, rule, 0, depth, 1.5, 1.0, std::nullopt, beta);
      const auto s = solve_blocks<D>(b, dmft::innovations::design);
      const double m = beta * (rule == "depth_mup" ? 1 / std::sqrt(double(depth)) : 1.0), q = 1 + m * m;
      matrix kx({b.pr.p_all(), b.pr.p_all()});
      blas::gemm(true, false, 1.0 / double(b.pr.x.shape(0)), b.pr.x, b.pr.x, 0.0, kx);
      INFO(rule << " depth " << depth);
      // phi_tt[k]: the input kernel of weight k + 1 = h^{k+1} (the readout's: h^{L+1})
      for (std::size_t k = 0; k < s.phi_tt.size(); ++k) CHECK(max_rel(s.phi_tt[k][0], matrix(std::pow(q, double(k)) * kx)) < exact_agreement);
      const std::size_t pt = b.pr.p_train;
      const matrix expected = (2 * std::pow(q, double(depth)) + double(depth) * m * m * std::pow(q, double(depth) - 1)) *
                              matrix(xt::view(kx, xt::range(0, pt), xt::range(0, pt)));
      CHECK(max_rel(s.ntk[0], expected) < exact_agreement);
    }
  }
}

TEST_CASE("layer norm at t = 0 divides the kernel by the deterministic norms", "[dmft][blocks]") {
  // x̂ = h/√(⟨h²⟩ + ε) for a centred Gaussian field h at N = ∞: Φ_x̂(μ,ν) = Φ_h(μ,ν)/√((Φ_h(μ,μ)+ε)(Φ_h(ν,ν)+ε)).
  using namespace dsl;
  constexpr auto decl = network(input, dense, layernorm, dense, readout);
  using D = std::remove_cvref_t<decltype(decl)>;
  const auto b = setup(decl, "mup", 0);
  const auto s = solve_blocks<D>(b, dmft::innovations::design);
  const matrix& phi_h = s.phi_tt[0][0];  // the input of W1: the layer norm's output
  matrix kx({b.pr.p_all(), b.pr.p_all()});
  blas::gemm(true, false, 1.0 / double(b.pr.x.shape(0)), b.pr.x, b.pr.x, 0.0, kx);
  matrix expected = kx;
  for (std::size_t a = 0; a < kx.shape(0); ++a)
    for (std::size_t c = 0; c < kx.shape(0); ++c)
      expected(a, c) = kx(a, c) / std::sqrt((kx(a, a) + ad::layernorm_epsilon) * (kx(c, c) + ad::layernorm_epsilon));
  CHECK(max_rel(phi_h, expected) < exact_agreement);
}

TEST_CASE("the lazy limit of a block declaration is kernel regression with the t = 0 kernel", "[dmft][blocks]") {
  // NTK parameterization at N = ∞ has γ0_eff → 0; its kernel is μP's at t = 0 (same κ).
  using D = std::remove_cvref_t<decltype(models::resnet_linear)>;
  const auto lazy = setup(models::resnet_linear, "ntk", 6, 3);
  REQUIRE(lazy.bs.coefficients.lazy);
  dmft::solver_options o;
  o.kind = dmft::innovations::design;
  o.particles = dmft::block_solver<D>::design_particles(lazy.pr, lazy.bs.info, lazy.bs.depth);
  const auto s = dmft::block_lazy_solve<D>(lazy.pr, o, lazy.bs.coefficients, lazy.bs.info, lazy.bs.depth);
  const auto mup = solve_blocks<D>(setup(models::resnet_linear, "mup", 0, 3), dmft::innovations::design);
  CHECK(max_rel(s.ntk[0], mup.ntk[0]) < exact_agreement);
  // kernel regression: Δ(t+1) = (I − η/P K) Δ(t) on the training points (MSE, full batch)
  const std::size_t pt = lazy.pr.p_train;
  matrix delta = xt::view(lazy.pr.y, xt::all(), xt::range(0, pt));
  for (std::size_t t = 0; t < 6; ++t) {
    matrix next = delta;
    for (std::size_t mu = 0; mu < pt; ++mu)
      for (std::size_t nu = 0; nu < pt; ++nu) next(0, mu) -= lazy.pr.eta / double(pt) * s.ntk[0](mu, nu) * delta(0, nu);
    delta = next;
  }
  CHECK(std::abs(0.5 * xt::sum(delta * delta)() / double(pt) - s.train_loss.back()) < exact_agreement * s.train_loss.front());
}

TEST_CASE("depth-μP: the linear residual closure converges as L grows, at a rate ∝ 1/L", "[dmft][blocks]") {
  // Successive differences of the final loss between depths L and 2L shrink by a factor ≈ 2 per
  // doubling when the limit is approached like 1/L (Bordelon et al. 2309.16620; docs/residual.md).
  using D = std::remove_cvref_t<decltype(models::resnet_linear)>;
  std::vector<double> loss;
  for (std::size_t depth : {2u, 4u, 8u, 16u}) loss.push_back(solve_blocks<D>(setup(models::resnet_linear, "depth_mup", 10, depth), dmft::innovations::design).train_loss.back());
  const double d1 = std::abs(loss[1] - loss[0]), d2 = std::abs(loss[2] - loss[1]), d3 = std::abs(loss[3] - loss[2]);
  INFO("final losses " << loss[0] << ", " << loss[1] << ", " << loss[2] << ", " << loss[3]);
  // 1/L convergence gives ratios → 1/2; allow 0.35–0.65 (the O(1/L²) term at L = 2 shifts the first)
  CHECK(d2 / d1 > 0.35);
  CHECK(d2 / d1 < 0.65);
  CHECK(d3 / d2 > 0.35);
  CHECK(d3 / d2 < 0.65);
}

namespace {
/// The mean over weight seeds (700 + k) of each finite-width network's loss-curve error against a theory curve.
template <class Decl>
double averaged_network_error(Decl decl, const block_problem& b, const std::string& rule, std::size_t depth, std::size_t n, std::size_t seeds,
                              double gamma0, double lr, const std::vector<double>& theory) {
  dataset data;
  data.x = xt::view(b.pr.x, xt::all(), xt::range(0, b.pr.p_train));
  data.y = xt::view(b.pr.y, xt::all(), xt::range(0, b.pr.p_train));
  double mean = 0;
  for (std::size_t k = 0; k < seeds; ++k) {
    auto net = bind(decl, rule_by_name(rule, Decl::hidden_layers), {.D = data.x.shape(0), .N = n, .C = 1, .depth = depth},
                    {.gamma0 = gamma0, .eta = lr, .seed = 700 + k});
    trainer tr(net, data, {.steps = theory.size() - 1, .centre = true});
    tr.run();
    mean += curve_error(tr.train_loss(), theory) / double(seeds);
  }
  return mean;
}
}  // namespace

TEST_CASE("residual networks converge onto the block closure as N grows (linear exact, tanh particles)", "[dmft][blocks][statistical]") {
  // A network's loss-curve error is O(N^{-1/2}): an eightfold width step divides it by ≈ 2.8; the mean
  // over 4 seeds must fall by at least 0.6 (room for seed scatter and the theory's Monte Carlo
  // error), and the widest point must be within 3 % (measured: docs/residual.md).
  {
    using D = std::remove_cvref_t<decltype(models::resnet_linear)>;
    const auto b = setup(models::resnet_linear, "depth_mup", 10, 4, 1.5, 0.3);
    const auto th = solve_blocks<D>(b, dmft::innovations::design);
    const double e256 = averaged_network_error(models::resnet_linear, b, "depth_mup", 4, 256, 4, 1.5, 0.3, th.train_loss);
    const double e2048 = averaged_network_error(models::resnet_linear, b, "depth_mup", 4, 2048, 4, 1.5, 0.3, th.train_loss);
    INFO("linear residual, L = 4: error " << e256 << " at N = 256, " << e2048 << " at N = 2048");
    CHECK(e2048 < 0.6 * e256);
    CHECK(e2048 < 0.03);
  }
  {
    using D = std::remove_cvref_t<decltype(models::resnet_tanh)>;
    const auto b = setup(models::resnet_tanh, "depth_mup", 10, 4, 1.5, 0.5);
    std::vector<double> curve(11, 0.0);
    for (std::uint64_t s = 0; s < 4; ++s) {
      const auto th = solve_blocks<D>(b, dmft::innovations::gaussian, 10000, s);
      for (std::size_t t = 0; t <= 10; ++t) curve[t] += th.train_loss[t] / 4;
    }
    const double e256 = averaged_network_error(models::resnet_tanh, b, "depth_mup", 4, 256, 4, 1.5, 0.5, curve);
    const double e2048 = averaged_network_error(models::resnet_tanh, b, "depth_mup", 4, 2048, 4, 1.5, 0.5, curve);
    INFO("tanh residual, L = 4: error " << e256 << " at N = 256, " << e2048 << " at N = 2048");
    CHECK(e2048 < 0.6 * e256);
    CHECK(e2048 < 0.03);
  }
}
