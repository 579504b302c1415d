// The optimizers of train/optimizer.hpp (docs/optimizers.md): each step equals its defining formula
// applied to the gradient of the generated reverse pass, over every parameter kind (input, hidden,
// readout, biases, layer-norm gains); the per-tensor tables follow the derivation of §1 (μP's Adam
// table is Tensor Programs V's); identities between optimizers hold (Adam at β1 = β2 = ε = 0 is
// sign descent; momentum at μ = 0 is GD; AdamW is Adam with a decoupled decay).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "mlp3_bias.hpp"
#include "mlp3_tanh.hpp"
#include "preln_resnet.hpp"
#include "support.hpp"

using namespace specdyn;

namespace {

/// A reference optimizer written from the formulas, on plain vectors of every parameter tensor.
struct reference {
  optimizer_options o;
  std::vector<double> rate, eps, decay;
  std::vector<matrix> m, v;
  std::size_t t = 0;
  void step(std::vector<matrix>& w, const std::vector<matrix>& g) {
    ++t;
    if (m.empty()) {
      for (const auto& x : w) {
        m.push_back(xt::zeros_like(x));
        v.push_back(xt::zeros_like(x));
      }
    }
    for (std::size_t i = 0; i < w.size(); ++i)
      for (std::size_t k = 0; k < w[i].size(); ++k) {
        double& wk = w[i].data()[k];
        const double gk = g[i].data()[k];
        double& mk = m[i].data()[k];
        double& vk = v[i].data()[k];
        double upd = 0;
        switch (o.kind) {
          case optimizer_kind::sgd: upd = gk; break;
          case optimizer_kind::momentum: mk = o.momentum * mk + gk; upd = mk; break;
          case optimizer_kind::nesterov: mk = o.momentum * mk + gk; upd = gk + o.momentum * mk; break;
          case optimizer_kind::adam:
          case optimizer_kind::adamw: {
            mk = o.beta1 * mk + (1 - o.beta1) * gk;
            vk = o.beta2 * vk + (1 - o.beta2) * gk * gk;
            const double mh = mk / (1 - std::pow(o.beta1, double(t))), vh = vk / (1 - std::pow(o.beta2, double(t)));
            upd = mh / (std::sqrt(vh) + eps[i]);
            break;
          }
          case optimizer_kind::sign: upd = gk > 0 ? 1.0 : gk < 0 ? -1.0 : 0.0; break;
        }
        wk = decay[i] * wk - rate[i] * upd;
      }
  }
};

template <class Decl>
void check_against_reference(Decl decl, const std::string& rule, optimizer_options o, std::size_t steps) {
  const std::size_t D = 12, N = 24, P = 10;
  const std::size_t L = Decl::hidden_layers;
  auto net = bind(decl, testing::rule_by_name(rule, L), {.D = D, .N = N, .C = 2, .depth = 3},
                  {.gamma0 = 1.3, .sigma = 1.0, .eta = 0.2, .seed = 3, .sigma_bias = 0.5});
  auto copy = net;  // the reference trains a copy from the same weights
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, 2, P, 0, 4);
  trainer tr(net, data, {.steps = steps, .optimizer = o});
  reference ref;
  ref.o = o;
  const auto& info = net.parameter_info();
  for (std::size_t i = 0; i < info.size(); ++i) {
    const bool entry = entrywise(o.kind);
    const bool matrix_param = info[i].kind == ad::param_kind::input || info[i].kind == ad::param_kind::hidden ||
                              info[i].kind == ad::param_kind::readout;
    ref.rate.push_back(net.learning_rates()[i] * (entry ? net.gradient_scales()[i] : 1.0));
    ref.eps.push_back(o.eps * net.gradient_scales()[i]);
    ref.decay.push_back(matrix_param && o.kind != optimizer_kind::adam ? 1.0 - 0.2 * o.weight_decay : 1.0);
  }
  for (std::size_t s = 0; s < steps; ++s) {
    const auto g = testing::gradient_of(copy, data, ad::loss_kind::mse);
    ref.step(copy.params().w, g);
    tr.step();
    for (std::size_t i = 0; i < info.size(); ++i) {
      INFO(std::string(to_string(o.kind)) << " step " << s << " parameter " << net.parameter_name(i));
      CHECK(testing::rel_err(net.params().w[i], copy.params().w[i]) < testing::same_algebra);
    }
  }
}

}  // namespace

TEST_CASE("optimizers: every step equals its formula on the reverse pass's gradient, every parameter kind", "[train][optimizer]") {
  for (auto kind : {optimizer_kind::momentum, optimizer_kind::nesterov, optimizer_kind::adam, optimizer_kind::adamw,
                    optimizer_kind::sign}) {
    optimizer_options o{.kind = kind, .momentum = 0.8, .beta1 = 0.85, .beta2 = 0.99, .eps = 1e-3,
                        .weight_decay = kind == optimizer_kind::adam ? 0.0 : 0.05};
    check_against_reference(models::mlp3_bias, "mup", o, 4);      // input, hidden, readout, biases
    check_against_reference(models::preln_resnet, "depth_mup", o, 4);  // layer-norm gains, branch weights
  }
  // SGD with decoupled weight decay takes the optimizer path, not the fused GD update
  check_against_reference(models::mlp3_tanh, "ntk", {.kind = optimizer_kind::sgd, .weight_decay = 0.1}, 3);
}

TEST_CASE("optimizers: identities between them", "[train][optimizer]") {
  const std::size_t D = 10, N = 32, P = 8;
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, 1, P, 0, 2);
  auto make = [&] {
    return bind(models::mlp3_tanh, testing::rule_by_name("mup", 3), {.D = D, .N = N, .C = 1}, {.eta = 0.3, .seed = 9});
  };
  auto train = [&](optimizer_options o, std::size_t steps) {
    auto net = make();
    trainer tr(net, data, {.steps = steps, .optimizer = o});
    for (std::size_t s = 0; s < steps; ++s) tr.step();
    return net.params().w;
  };
  SECTION("Adam with β1 = β2 = 0 and ε = 0 is sign descent (m/√v = g/|g|)") {
    const auto a = train({.kind = optimizer_kind::adam, .beta1 = 0, .beta2 = 0, .eps = 0}, 5);
    const auto s = train({.kind = optimizer_kind::sign}, 5);
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(testing::rel_err(a[i], s[i]) < testing::same_algebra);
  }
  SECTION("momentum and Nesterov at μ = 0 are GD") {
    const auto gd = train({}, 5);
    for (auto k : {optimizer_kind::momentum, optimizer_kind::nesterov}) {
      const auto m = train({.kind = k, .momentum = 0}, 5);
      for (std::size_t i = 0; i < m.size(); ++i) CHECK(testing::rel_err(m[i], gd[i]) < testing::same_algebra);
    }
  }
  SECTION("one AdamW step is one Adam step from the decayed weights' starting point: w1 = (1 − ηλ) w0 − Δ") {
    auto net0 = make();
    const auto w0 = net0.params().w;
    const auto adam = train({.kind = optimizer_kind::adam}, 1);
    const auto adamw = train({.kind = optimizer_kind::adamw, .weight_decay = 0.5}, 1);
    for (std::size_t i = 0; i < w0.size(); ++i) {
      const matrix expect = adam[i] - 0.3 * 0.5 * w0[i];
      CHECK(testing::rel_err(adamw[i], expect) < testing::same_algebra);
    }
  }
}

TEST_CASE("optimizers: the per-tensor tables of §1 (μP-Adam is Tensor Programs V's; SP is one rate)", "[train][optimizer]") {
  const std::size_t D = 16;
  const double eta = 0.1, g0 = 2.0;
  for (std::size_t n : {64, 256, 1024}) {
    const double N = double(n);
    constexpr std::size_t L = decltype(models::mlp3_tanh)::hidden_layers;
    auto mup = bind(models::mlp3_tanh, testing::rule_by_name("mup", L), {.D = D, .N = n, .C = 1}, {.gamma0 = g0, .eta = eta});
    optimizer_state st(mup.parameter_info(), mup.learning_rates(), mup.gradient_scales(), eta, {.kind = optimizer_kind::adam, .eps = 1e-8});
    // the μP form computes with W_eff = w (input, ÷√D), w/√N (hidden), w/(γ0 N) (readout); an
    // O(1) normalised step must move W_eff by O(1/D) at the input and O(1/N) at hidden and readout
    // weights (TP V, Table 3 in its own multipliers): the rates are ηγ0/√D, ηγ0/√N and ηγ0
    CHECK(st.rate(0) * mup.scale(0) == Approx(eta * g0 / D).epsilon(1e-14));
    CHECK(st.rate(1) * mup.scale(1) == Approx(eta * g0 / N).epsilon(1e-14));
    const std::size_t r = mup.readout_index();
    CHECK(st.rate(r) * mup.scale(r) == Approx(eta / N).epsilon(1e-14));
    // ε in the units of each tensor's gradient entries: N^{-1}/(γ0√D), N^{-3/2}/γ0, N^{-1}/γ0
    CHECK(st.epsilon(0) == Approx(1e-8 / (N * g0 * std::sqrt(double(D)))).epsilon(1e-14));
    CHECK(st.epsilon(1) == Approx(1e-8 * std::pow(N, -1.5) / g0).epsilon(1e-14));
    CHECK(st.epsilon(r) == Approx(1e-8 / (N * g0)).epsilon(1e-14));
    auto sp = bind(models::mlp3_tanh, testing::rule_by_name("sp", L), {.D = D, .N = n, .C = 1}, {.gamma0 = 1, .eta = eta});
    optimizer_state ss(sp.parameter_info(), sp.learning_rates(), sp.gradient_scales(), eta, {.kind = optimizer_kind::adam, .eps = 1e-8});
    for (std::size_t i = 0; i < sp.parameter_count(); ++i) {
      CHECK(ss.rate(i) == Approx(eta).epsilon(1e-14));
      CHECK(ss.epsilon(i) == 1e-8);
    }
  }
  // the gradient scale is the gradient's size: at initialisation the RMS gradient entry over the
  // scale stays O(1) across width for every tensor: within a factor 3 from N = 128 to 2048, where a
  // scale off by N^{±1/2} would be off by 4 (one draw of 32 points: the ratio fluctuates by ~30 %)
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, 1, 32, 0, 8);
  std::vector<std::vector<double>> rms;
  for (std::size_t n : {128, 2048}) {
    auto net = bind(models::mlp3_bias, testing::rule_by_name("mup", decltype(models::mlp3_bias)::hidden_layers), {.D = D, .N = n, .C = 1}, {.seed = 1});
    const auto g = testing::gradient_of(net, data, ad::loss_kind::mse);
    std::vector<double> r;
    for (std::size_t i = 0; i < g.size(); ++i) {
      double s = 0;
      for (double x : g[i]) s += x * x;
      r.push_back(std::sqrt(s / double(g[i].size())) / net.gradient_scales()[i]);
    }
    rms.push_back(r);
  }
  for (std::size_t i = 0; i < rms[0].size(); ++i) {
    INFO("parameter " << i << ": RMS gradient/scale " << rms[0][i] << " at N = 128, " << rms[1][i] << " at N = 2048");
    CHECK(rms[1][i] / rms[0][i] > 1.0 / 3);
    CHECK(rms[1][i] / rms[0][i] < 3.0);
  }
}

TEST_CASE("optimizers: bad hyper-parameters are refused with the flag named", "[train][optimizer]") {
  CHECK_THROWS_WITH(optimizer_options{.beta1 = 1.0}.validate(), Catch::Contains("--beta1"));
  CHECK_THROWS_WITH(optimizer_options{.beta2 = -0.1}.validate(), Catch::Contains("--beta2"));
  CHECK_THROWS_WITH(optimizer_options{.eps = -1}.validate(), Catch::Contains("--eps"));
  CHECK_THROWS_WITH(optimizer_options{.momentum = 1.5}.validate(), Catch::Contains("--momentum"));
  CHECK_THROWS_WITH(optimizer_options{.weight_decay = -1}.validate(), Catch::Contains("--weight-decay"));
  CHECK_THROWS_WITH((optimizer_options{.kind = optimizer_kind::adam, .weight_decay = 0.1}.validate()), Catch::Contains("adamw"));
  CHECK_THROWS_WITH(parse_optimizer("lion"), Catch::Contains("--optimizer = lion"));
}
