// Full-batch gradient descent and mini-batch SGD for a bound model. Buffers (one workspace for the
// batch, one for the whole training set, one for test points) are sized at construction; a step
// allocates nothing. On NaN/Inf the step throws divergence_error naming the step and the first
// layer where a non-finite number appears; the loss history recorded so far stays in the trainer.
//   specdyn::trainer tr(net, data, {.steps = 100, .batch = 0, .centre = true});
//   tr.run([](std::size_t t, auto& tr) { /* observe at t = 0..steps */ });
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <optional>
#include <vector>

#include "specdyn/ad/loss.hpp"
#include "specdyn/errors.hpp"
#include "specdyn/train/model.hpp"

namespace specdyn {

/// Training inputs x [D, P], targets y [C, P] and optional held-out points.
struct dataset {
  matrix x, y;
  matrix x_test, y_test;  // empty when the task has no test set
  [[nodiscard]] std::size_t samples() const { return x.shape(1); }
  [[nodiscard]] bool has_test() const { return x_test.size() > 0; }
};

struct train_options {
  std::size_t steps = 100;
  std::size_t batch = 0;  // 0: full batch (GD); otherwise mini-batch SGD without replacement per epoch
  bool centre = false;    // train the centred network f(θ) − f(θ0) (THEORY.md §1.1)
  ad::loss_kind loss = ad::loss_kind::mse;
  std::uint64_t seed = 0;  // mini-batch order
};

template <class Decl>
class trainer {
 public:
  static constexpr std::size_t L = Decl::hidden_layers;
  using workspace_type = ad::workspace<Decl>;

  trainer(model<Decl>& net, const dataset& data, train_options opt)
      : net_(net), data_(data), opt_(opt), batch_rng_(opt.seed, rng::stream::batches) {
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
    if (data.has_test()) test_ = net.make_workspace(data.x_test.shape(1));
    if (batched()) {
      batch_ = net.make_workspace(opt.batch);
      xb_ = matrix({s.D, opt.batch});
      yb_ = matrix({s.C, opt.batch});
      f0b_ = matrix({s.C, opt.batch});
      order_.resize(p);
      std::iota(order_.begin(), order_.end(), std::size_t{0});
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
  }

  [[nodiscard]] bool batched() const { return opt_.batch > 0 && opt_.batch < data_.samples(); }
  [[nodiscard]] std::size_t step_index() const { return t_; }
  [[nodiscard]] const std::vector<double>& train_loss() const { return train_loss_; }
  [[nodiscard]] model<Decl>& net() { return net_; }
  [[nodiscard]] const dataset& data() const { return data_; }
  [[nodiscard]] const train_options& options() const { return opt_; }
  [[nodiscard]] const matrix* initial_outputs() const { return opt_.centre ? &f0_ : nullptr; }

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
      net_.reverse_update(data_.x, full_);
    } else {
      gather_batch();
      net_.forward(xb_, batch_);
      loss = loss_value(batch_.out, opt_.centre ? &f0b_ : nullptr, yb_);
      check_finite(loss, batch_, &xb_);
      loss_adjoint(batch_.out, opt_.centre ? &f0b_ : nullptr, yb_, batch_.adj_out);
      net_.reverse_update(xb_, batch_);
    }
    full_fresh_ = false;
    ++t_;
    return loss;
  }

  /// Runs opt.steps steps. observe(t, *this) is called at t = 0..steps before each step (and once
  /// after the last) and may evaluate anything; the full-batch training loss is recorded at every t.
  template <class Observer>
  void run(Observer&& observe) {
    for (std::size_t k = 0; k <= opt_.steps; ++k) {
      const double loss = evaluate_train();
      train_loss_.push_back(loss);
      if (!std::isfinite(loss)) check_finite(loss, full_, &data_.x);
      observe(t_, *this);
      if (k < opt_.steps) step();
    }
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
    else ad::cross_entropy::adjoint(f, f0, y, df);
  }

  void gather_batch() {
    const std::size_t p = data_.samples(), b = opt_.batch;
    if (cursor_ + b > p || t_ == 0) {  // new epoch: Fisher–Yates shuffle in place
      for (std::size_t i = p - 1; i > 0; --i) std::swap(order_[i], order_[batch_rng_.below(i + 1)]);
      cursor_ = 0;
    }
    for (std::size_t j = 0; j < b; ++j) {
      const std::size_t mu = order_[cursor_ + j];
      for (std::size_t d = 0; d < xb_.shape(0); ++d) xb_(d, j) = data_.x(d, mu);
      for (std::size_t c = 0; c < yb_.shape(0); ++c) {
        yb_(c, j) = data_.y(c, mu);
        if (opt_.centre) f0b_(c, j) = f0_(c, mu);
      }
    }
    cursor_ += b;
  }

  static bool all_finite(const matrix& m) {
    for (double v : m)
      if (!std::isfinite(v)) return false;
    return true;
  }
  /// On a non-finite loss, names the first weight or field (in forward order) that is non-finite.
  void check_finite(double loss, const workspace_type& ws, const matrix*) const {
    if (std::isfinite(loss)) return;
    const auto& p = net_.params();
    std::string where = "loss";
    bool found = false;
    ad::static_for<L>([&](auto i) {
      if (found) return;
      if (!all_finite(p.w[i])) { where = model<Decl>::layer_name(i) + " (weights)"; found = true; }
      else if (!all_finite(ws.pre[i])) { where = model<Decl>::layer_name(i) + " (pre-activations h" + std::to_string(i + 1) + ")"; found = true; }
    });
    if (!found && !all_finite(p.w[L])) { where = "readout (weights)"; found = true; }
    if (!found && !all_finite(ws.out)) { where = "readout (outputs)"; found = true; }
    throw divergence_error(t_, where, "training loss is " + std::to_string(loss) + "; lower --lr or gamma0");
  }

  model<Decl>& net_;
  const dataset& data_;
  train_options opt_;
  rng batch_rng_;
  workspace_type full_, test_, batch_;
  matrix f0_, f0_test_, xb_, yb_, f0b_;
  std::vector<std::size_t> order_;
  std::vector<double> train_loss_;
  std::size_t cursor_ = 0, t_ = 0;
  bool full_fresh_ = false;
};

}  // namespace specdyn
