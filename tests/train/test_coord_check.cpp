// docs/conventions.md §3, the coord check: after 10 GD steps at a fixed η the RMS change of each layer's
// pre-activations is O(1) in N under μP, grows with N under SP at a fixed raw learning rate, and
// shrinks like N^{-1/2} under NTK parameterization.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <filesystem>

#include "mlp3_tanh.hpp"
#include "resnet_relu.hpp"
#include "specdyn/run/coord_check.hpp"
#include "support.hpp"

using namespace specdyn;

namespace {
const std::vector<std::size_t> widths{128, 256, 512, 1024, 2048};
constexpr std::size_t L = decltype(models::mlp3_tanh)::hidden_layers;

/// RMS of h^ℓ(10) − h^ℓ(0) over neurons and samples, per layer.
std::array<double, L> rms_change(const std::string& rule, std::size_t n, double eta) {
  const std::size_t D = 32, P = 16;
  auto net = bind(models::mlp3_tanh, testing::rule_by_name(rule, L), {.D = D, .N = n, .C = 1},
                  {.gamma0 = 1.0, .sigma = 1.0, .eta = eta, .seed = 5});
  const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, 1, P, 0, 6);
  trainer tr(net, data, {.steps = 10});
  tr.evaluate_train();
  using decl = std::remove_cvref_t<decltype(models::mlp3_tanh)>;
  std::vector<matrix> h0;
  for (const matrix* h : ad::pre_activations<decl>(tr.train_fields())) h0.push_back(*h);
  for (int t = 0; t < 10; ++t) tr.step();
  tr.evaluate_train();
  std::array<double, L> out{};
  for (std::size_t l = 0; l < L; ++l) {
    const auto& h = *ad::pre_activations<decl>(tr.train_fields())[l];
    double s = 0;
    for (std::size_t k = 0; k < h.size(); ++k) s += (h.data()[k] - h0[l].data()[k]) * (h.data()[k] - h0[l].data()[k]);
    out[l] = std::sqrt(s / double(h.size()));
  }
  return out;
}

/// Least-squares slope of log(change) against log(N).
double slope(const std::vector<double>& change) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double k = double(widths.size());
  for (std::size_t i = 0; i < widths.size(); ++i) {
    const double x = std::log(double(widths[i])), y = std::log(change[i]);
    sx += x; sy += y; sxx += x * x; sxy += x * y;
  }
  return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

std::array<std::vector<double>, L> sweep(const std::string& rule, double eta) {
  std::array<std::vector<double>, L> per_layer;
  for (std::size_t n : widths) {
    const auto c = rms_change(rule, n, eta);
    for (std::size_t l = 0; l < L; ++l) per_layer[l].push_back(c[l]);
  }
  return per_layer;
}
}  // namespace

TEST_CASE("coord check: μP pre-activation updates are width-independent", "[train][coord]") {
  const auto per_layer = sweep("mup", 0.5);
  for (std::size_t l = 0; l < L; ++l) {
    const auto [lo, hi] = std::minmax_element(per_layer[l].begin(), per_layer[l].end());
    INFO("layer h" << l + 1 << " min " << *lo << " max " << *hi);
    // Finite-width fluctuations of an O(1) quantity are O(N^{-1/2}) ≈ 9% at N = 128.
    CHECK(*hi / *lo < 1.3);
    CHECK(*lo > 0.01);  // and they are not trivially zero
  }
}

TEST_CASE("coord check: SP at a fixed raw learning rate blows up with width", "[train][coord]") {
  // The usual SP workflow: a learning rate that trains the narrowest network well, kept fixed as
  // N grows. SP's output update grows like ηN, so the wider nets leave the stable regime and
  // their features run away (while the narrow ones change by ~1e-4). At much smaller η the
  // readout fits the data before features move and the change stays flat in N over 10 steps.
  const double eta = 0.05;
  {
    auto narrow = bind(models::mlp3_tanh, testing::rule_by_name("sp", L), {.D = 32, .N = widths.front(), .C = 1},
                       {.gamma0 = 1.0, .sigma = 1.0, .eta = eta, .seed = 5});
    const auto data = make_task({.kind = task_kind::single_index, .teacher = "tanh"}, 32, 1, 16, 0, 6);
    trainer tr(narrow, data, {.steps = 10});
    tr.run();
    REQUIRE(tr.train_loss().back() < 0.5 * tr.train_loss().front());  // η is a good rate at N = 128
  }
  const auto per_layer = sweep("sp", eta);
  for (std::size_t l = 0; l < L; ++l) {
    INFO("layer h" << l + 1 << " slope " << slope(per_layer[l]));
    CHECK(slope(per_layer[l]) > 0.3);
  }
}

TEST_CASE("coord check: NTK pre-activation updates shrink like N^{-1/2}", "[train][coord]") {
  const auto per_layer = sweep("ntk", 0.5);
  for (std::size_t l = 0; l < L; ++l) {
    INFO("layer h" << l + 1 << " slope " << slope(per_layer[l]));
    CHECK(std::abs(slope(per_layer[l]) + 0.5) < 0.1);
  }
}

namespace {
/// `specdyn coord-check` at N = 128 … 2048 (two seeds, five steps), its record in a scratch directory.
template <class Decl>
run::coord_result coord(Decl decl, const std::string& model, const std::string& rule, const std::string& optimizer, double lr) {
  run_config c;
  c.model = model;
  c.param = rule;
  c.optimizer = optimizer;
  c.lr = lr;
  c.steps = 5;
  c.dim = 32;
  c.quiet = true;
  if constexpr (Decl::depth_generic) c.depth = 4;
  c.out = (std::filesystem::temp_directory_path() / ("specdyn_coord_" + std::to_string(::getpid()))).string();
  run::coord_options o;
  o.widths = {128, 256, 512, 1024, 2048};
  o.seeds = 2;
  auto r = run::run_coord_check(decl, c, o);
  std::filesystem::remove_all(c.out);
  return r;
}
const run::coord_field& field(const run::coord_result& r, const std::string& name) {
  for (const auto& f : r.fields)
    if (f.name == name) return f;
  FAIL("no field " << name);
  return r.fields.front();
}
}  // namespace

TEST_CASE("coord-check: μP with SGD and with Adam is flat in N and passes; SP-Adam fails", "[train][coord]") {
  for (const char* opt : {"sgd", "adam"}) {
    const auto r = coord(models::mlp3_tanh, "mlp3_tanh", "mup", opt, 0.1);
    INFO(opt << ": " << r.verdict);
    CHECK(r.pass);
    for (const auto& f : r.fields)
      for (std::size_t t = 1; t <= 5; ++t) {
        INFO(f.name << " step " << t);
        // an O(1) coordinate with O(N^{-1/2}) fluctuations: |k| of a few hundredths over 128…2048
        CHECK(std::abs(f.change_fit[t].slope) < 0.1);
        CHECK(f.change[0][t] > 1e-3);  // it does move
      }
  }
  // residual blocks under depth-μP with Adam: the branch weights' Adam rates carry m_L (docs/optimizers.md §1)
  const auto res = coord(models::resnet_relu, "resnet_relu", "depth_mup", "adam", 0.1);
  INFO("resnet_relu depth_mup adam: " << res.verdict);
  CHECK(res.pass);
  // SP-Adam, one rate for every tensor: a sign-like first step moves the hidden pre-activations by
  // Δh_i = η Σ_j ±φ_j with coherent signs (the update sign(δ_i φ_j) times φ_j is |φ_j|): ∝ N, and the
  // readout's Δv_j = −η sign(r φ_j) moves the logits by η Σ_j |φ_j| ∝ N: k = 1 (measured 0.95–0.98;
  // the issue expected N^{1/2}, which this derivation does not give).
  const auto sp = coord(models::mlp3_tanh, "mlp3_tanh", "sp", "adam", 0.01);
  INFO("sp adam: " << sp.verdict);
  CHECK_FALSE(sp.pass);
  CHECK(std::abs(field(sp, "h(W1)").change_fit[1].slope - 1.0) < 0.15);
  CHECK(std::abs(field(sp, "logits").change_fit[1].slope - 1.0) < 0.15);
  CHECK(std::abs(field(sp, "h(W0)").change_fit[1].slope) < 0.1);  // the input layer's fan-in is D: no growth
}
