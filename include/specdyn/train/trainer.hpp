// Full-batch gradient descent and mini-batch SGD for a bound model, or any optimizer of
// train/optimizer.hpp (momentum, Nesterov, Adam, AdamW, sign descent) through train_options::optimizer. Buffers (one workspace for the
// batch, one for the whole training set, one for test points) are sized at construction; a step
// allocates nothing. The run stops with divergence_error when the training loss becomes non-finite
// (naming the step and the first layer where a non-finite number appears) or rises above
// divergence_factor × max(initial loss, 1e-3) (default 1e4: far above edge-of-stability
// catapults, which rise by factors of 10–100, and reached within a few steps by a genuine blow-up);
// the loss history recorded so far stays in the trainer and no observer sees the blown-up weights.
//   specdyn::trainer tr(net, data, {.steps = 100, .batch = 0, .centre = true});
//   tr.run([](std::size_t t, auto& tr) { /* observe at t = 0..steps */ });
#pragma once

#include <cmath>
#include <cstdio>
#include <cstddef>
#include <limits>
#include <numeric>
#include <optional>
#include <vector>

#include "specdyn/ad/loss.hpp"
#include "specdyn/data/batches.hpp"
#include "specdyn/data/dataset.hpp"
#include "specdyn/errors.hpp"
#include "specdyn/train/model.hpp"
#include "specdyn/train/optimizer.hpp"

namespace specdyn {

/// Spike vectors of the weight updates (for the semi-empirical outlier determinant,
/// spectra/outlier_equation.hpp): step s changes the effective weight of each logged layer i by
///   W_eff^i(s+1) − W_eff^i(s) = theta[k] · delta[k][s] · input[k][s]ᵀ,   delta [rows, B], input [cols, B].
struct spike_log {
  std::vector<std::size_t> layers;               // weight indices to log (0 = input weight)
  std::vector<std::vector<matrix>> delta, input;  // [k][s]
  std::vector<double> theta;                      // [k]
};

struct train_options {
  std::size_t steps = 100;
  std::size_t batch = 0;  // 0: full batch (GD); otherwise mini-batch SGD without replacement per epoch
  bool centre = false;    // train the centred network f(θ) − f(θ0) (docs/conventions.md §1)
  ad::loss_kind loss = ad::loss_kind::mse;
  std::uint64_t seed = 0;  // mini-batch order
  // mini-batch SGD only: the full-batch training loss is evaluated every this many steps (and at the
  // last), NaN elsewhere. Each evaluation is a forward pass over all P points, P/B steps' worth.
  std::size_t loss_every = 1;
  double divergence_factor = 1e4;  // stop when the loss exceeds this × max(initial loss, 1e-3); 0: only NaN/Inf
  spike_log* spikes = nullptr;      // log the update vectors of some layers (allocates; analysis only)
  optimizer_options optimizer{};    // sgd (the default): the fused GD/SGD update; others: train/optimizer.hpp
};

template <class Decl>
class trainer {
 public:
  using workspace_type = ad::workspace<Decl>;

  trainer(model<Decl>& net, const dataset& data, train_options opt)
      : net_(net), data_(data), opt_(opt) {
    const auto& s = net.sizes();
    const std::size_t p = data.samples();
    require(p >= 1, "samples", p, "the training set is empty");
    require(data.x.shape(0) == s.D, "input dimension of the data", data.x.shape(0),
            "must equal D = " + std::to_string(s.D));
    require(data.y.shape(0) == s.C && data.y.shape(1) == p, "targets rows", data.y.shape(0),
            "targets must be [C = " + std::to_string(s.C) + ", P = " + std::to_string(p) + "]");
    require(opt.batch <= p, "batch", opt.batch, "must be at most the number of samples " + std::to_string(p));
    require(opt.loss == ad::loss_kind::mse || s.C > 1, "outputs for cross-entropy", s.C, "softmax cross-entropy needs C > 1");
    full_ = net.make_workspace(p);
    softmax_max_.reserve(p);
    softmax_sum_.reserve(p);
    if (data.has_test()) test_ = net.make_workspace(data.x_test.shape(1));
    if (batched()) {
      batch_ = net.make_workspace(opt.batch);
      xb_ = matrix({s.D, opt.batch});
      yb_ = matrix({s.C, opt.batch});
      f0b_ = matrix({s.C, opt.batch});
      batches_ = batch_schedule(p, opt.batch, opt.seed);
    }
    if (opt.centre) {
      net.forward(data.x, full_);
      f0_ = full_.out;
      if (data.has_test()) {
        net.forward(data.x_test, test_);
        f0_test_ = test_.out;
      }
    }
    train_loss_.reserve(opt.steps + 1);
    if (!opt.optimizer.plain()) {
      require(opt.spikes == nullptr, "--optimizer", std::string(to_string(opt.optimizer.kind)),
              "spike logging (the semi-empirical outlier determinant) describes GD/SGD updates only; use --optimizer sgd");
      optim_ = optimizer_state(net.parameter_info(), net.learning_rates(), net.gradient_scales(), net.hyper_params().eta, opt.optimizer);
    }
  }

  /// The trainer keeps a reference to the data (a Fashion-MNIST set is hundreds of MB), so a
  /// temporary data set would dangle: refuse it at compile time.
  template <class D = Decl>
  trainer(model<Decl>&, dataset&&, train_options) {
    static_assert(sizeof(D) == 0, "specdyn: trainer keeps a reference to its data set; pass a named dataset, not a temporary");
  }

  [[nodiscard]] bool batched() const { return opt_.batch > 0 && opt_.batch < data_.samples(); }
  [[nodiscard]] std::size_t step_index() const { return t_; }
  [[nodiscard]] const std::vector<double>& train_loss() const { return train_loss_; }
  [[nodiscard]] model<Decl>& net() { return net_; }
  [[nodiscard]] const dataset& data() const { return data_; }
  [[nodiscard]] const train_options& options() const { return opt_; }
  [[nodiscard]] const matrix* initial_outputs() const { return opt_.centre ? &f0_ : nullptr; }
  /// The optimizer's state (empty for plain GD/SGD).
  [[nodiscard]] const optimizer_state& optimizer() const { return optim_; }

  /// Forward on the whole training set at the current weights; returns the training loss.
  /// The workspace then holds every layer's fields (for NTK, spectra, theory comparisons).
  double evaluate_train() {
    if (!full_fresh_) net_.forward(data_.x, full_);
    full_fresh_ = true;
    return loss_value(full_.out, initial_outputs(), data_.y);
  }
  [[nodiscard]] const workspace_type& train_fields() const { return full_; }
  [[nodiscard]] workspace_type& train_fields() { return full_; }

  /// Loss on the held-out points (NaN when there are none).
  double evaluate_test() {
    if (!data_.has_test()) return std::numeric_limits<double>::quiet_NaN();
    net_.forward(data_.x_test, test_);
    return loss_value(test_.out, opt_.centre ? &f0_test_ : nullptr, data_.y_test);
  }
  /// Outputs (centred when training centred) on the held-out points at the last evaluate_test().
  void test_outputs(matrix& out) const {
    out = test_.out;
    if (opt_.centre) out -= f0_test_;
  }
  /// Outputs (centred when training centred) on the training set at the last evaluate_train().
  void train_outputs(matrix& out) const {
    out = full_.out;
    if (opt_.centre) out -= f0_;
  }

  /// One GD/SGD step. Returns the loss on the batch before the step.
  double step() {
    double loss;
    if (!batched()) {
      loss = evaluate_train();
      check_finite(loss, full_, &data_.x);
      loss_adjoint(full_.out, initial_outputs(), data_.y, full_.adj_out);
      update(data_.x, full_);
    } else {
      gather_batch();
      net_.forward(xb_, batch_);
      if (opt_.loss == ad::loss_kind::cross_entropy) {  // value and adjoint in one softmax pass
        loss = ad::cross_entropy::value_and_adjoint(batch_.out, opt_.centre ? &f0b_ : nullptr, yb_, batch_.adj_out, softmax_max_, softmax_sum_);
        check_finite(loss, batch_, &xb_);
      } else {
        loss = loss_value(batch_.out, opt_.centre ? &f0b_ : nullptr, yb_);
        check_finite(loss, batch_, &xb_);
        loss_adjoint(batch_.out, opt_.centre ? &f0b_ : nullptr, yb_, batch_.adj_out);
      }
      update(xb_, batch_);
    }
    full_fresh_ = false;
    ++t_;
    return loss;
  }

  /// Runs opt.steps steps. observe(t, *this) is called at t = 0..steps before each step (and once
  /// after the last) and may evaluate anything; the full-batch training loss is recorded at every t
  /// (with mini-batches and loss_every > 1: at its multiples and the last step, NaN elsewhere; a
  /// non-finite batch loss still stops the run at its step).
  template <class Observer>
  void run(Observer&& observe) {
    for (std::size_t k = 0; k <= opt_.steps; ++k) {
      if (loss_due(k)) {
        const double loss = evaluate_train();
        train_loss_.push_back(loss);
        if (!std::isfinite(loss)) check_finite(loss, full_, &data_.x);
        check_growth(loss);
      } else {
        train_loss_.push_back(std::numeric_limits<double>::quiet_NaN());
      }
      observe(t_, *this);
      if (k < opt_.steps) step();
    }
  }
  /// Whether run() evaluates the full training loss at step k.
  [[nodiscard]] bool loss_due(std::size_t k) const {
    return !batched() || opt_.loss_every <= 1 || k % opt_.loss_every == 0 || k == opt_.steps;
  }
  /// The last evaluated full-batch training loss (NaN before the first).
  [[nodiscard]] double last_train_loss() const {
    for (auto it = train_loss_.rbegin(); it != train_loss_.rend(); ++it)
      if (!std::isnan(*it)) return *it;
    return std::numeric_limits<double>::quiet_NaN();
  }
  void run() {
    run([](std::size_t, trainer&) {});
  }

 private:
  double loss_value(const matrix& f, const matrix* f0, const matrix& y) const {
    return opt_.loss == ad::loss_kind::mse ? ad::mse::value(f, f0, y) : ad::cross_entropy::value(f, f0, y);
  }
  void loss_adjoint(const matrix& f, const matrix* f0, const matrix& y, matrix& df) const {
    if (opt_.loss == ad::loss_kind::mse) ad::mse::adjoint(f, f0, y, df);
    else (void)ad::cross_entropy::value_and_adjoint(f, f0, y, df, softmax_max_, softmax_sum_);
  }

  /// The weight update from the adjoints in ws, logging spike vectors when asked.
  void update(const matrix& x, workspace_type& ws) {
    if (!opt_.optimizer.plain()) {
      optim_.begin_step();
      net_.reverse(x, ws, optim_.make_sink(net_.params().w));
      return;
    }
    if (!opt_.spikes) {
      net_.reverse_update(x, ws);
      return;
    }
    spike_log& log = *opt_.spikes;
    if (log.delta.size() != log.layers.size()) {
      log.delta.assign(log.layers.size(), {});
      log.input.assign(log.layers.size(), {});
      log.theta.assign(log.layers.size(), 0.0);
    }
    const ad::update_sink apply{&net_.params().w, &net_.learning_rates()};
    net_.reverse(x, ws, logging_sink{&apply, &log, &net_.learning_rates()});
  }

  /// Applies the GD update and copies the spike vectors of the logged weights.
  struct logging_sink {
    static constexpr bool active = true;
    const ad::update_sink* apply;
    spike_log* log;
    const std::vector<double>* lr;
    void weight(std::size_t i, double scale, const matrix& delta, const matrix& in) const {
      for (std::size_t k = 0; k < log->layers.size(); ++k)
        if (log->layers[k] == i) {
          log->delta[k].push_back(delta);
          log->input[k].push_back(in);
          log->theta[k] = -(*lr)[i] * scale * scale;  // ΔW_eff = s ΔW = −lr s² δ inᵀ
        }
      apply->weight(i, scale, delta, in);
    }
    void bias(std::size_t i, double scale, const matrix& delta) const { apply->bias(i, scale, delta); }
    void gain(std::size_t i, double scale, const matrix& delta, const matrix& xhat) const { apply->gain(i, scale, delta, xhat); }
  };

  void gather_batch() {
    const auto& idx = batches_.next();
    for (std::size_t j = 0; j < idx.size(); ++j) {
      const std::size_t mu = idx[j];
      for (std::size_t d = 0; d < xb_.shape(0); ++d) xb_(d, j) = data_.x(d, mu);
      for (std::size_t c = 0; c < yb_.shape(0); ++c) {
        yb_(c, j) = data_.y(c, mu);
        if (opt_.centre) f0b_(c, j) = f0_(c, mu);
      }
    }
  }

  /// A finite loss that has grown by divergence_factor over its initial value is a blow-up.
  void check_growth(double loss) const {
    if (opt_.divergence_factor <= 0 || train_loss_.empty()) return;
    const double ref = std::max(train_loss_.front(), 1e-3);
    if (loss > opt_.divergence_factor * ref) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "training loss %.3g exceeds %g × max(initial loss %.3g, 1e-3); lower --lr or gamma0",
                    loss, opt_.divergence_factor, train_loss_.front());
      throw divergence_error(t_, "the loss", buf);
    }
  }

  static bool all_finite(const matrix& m) {
    for (double v : m)
      if (!std::isfinite(v)) return false;
    return true;
  }
  /// On a non-finite loss, names the first parameter or field (in forward order) that is non-finite:
  /// each block's parameters are checked before the fields it computes from them.
  void check_finite(double loss, const workspace_type& ws, const matrix*) const {
    if (std::isfinite(loss)) return;
    const auto& p = net_.params();
    std::string where = "the loss";
    bool found = false;
    std::size_t next_param = 0, dense = 0;
    ad::program<Decl>::visit(ws, [&](const char* what, std::size_t param, const matrix& value) {
      if (found) return;
      // parameters up to and including this block's own
      const std::size_t upto = param == ad::npos ? next_param : param + 1;
      for (; next_param < upto && next_param < p.w.size(); ++next_param)
        if (!all_finite(p.w[next_param])) {
          const std::string& name = net_.parameter_name(next_param);
          where = name == "readout" ? "the readout (weights)" : "layer " + name + (name[0] == 'W' ? " (weights)" : " (parameters)");
          found = true;
          return;
        }
      if (std::string(what) == "pre-activations") ++dense;
      if (!all_finite(value)) {
        if (std::string(what) == "outputs") where = "the readout (outputs)";
        else if (std::string(what) == "pre-activations")
          where = "layer " + net_.parameter_name(param) + " (pre-activations h" + std::to_string(dense) + ")";
        else where = std::string(what) + " after layer " + (next_param > 0 ? net_.parameter_name(next_param - 1) : "W0");
        found = true;
      }
    });
    throw divergence_error(t_, where, "training loss is " + std::to_string(loss) + "; lower --lr or gamma0");
  }

  model<Decl>& net_;
  const dataset& data_;
  train_options opt_;
  workspace_type full_, test_, batch_;
  matrix f0_, f0_test_, xb_, yb_, f0b_;
  mutable std::vector<double> softmax_max_, softmax_sum_;  // per-column scratch of the cross-entropy, reserved for P
  batch_schedule batches_;
  optimizer_state optim_;
  std::vector<double> train_loss_;
  std::size_t t_ = 0;
  bool full_fresh_ = false;
};

}  // namespace specdyn
