// Optimizers beyond gradient descent: heavy-ball and Nesterov momentum, Adam, AdamW and sign descent,
// each with runtime hyper-parameters and per-tensor rates from the scaling rule (docs/optimizers.md).
// The state (velocities, moments) is allocated once when the trainer is built; a step allocates
// nothing. Each parameter's update runs as soon as the reverse pass has formed its gradient, so the
// weight is no longer needed by the backward pass when it changes (the same order as the fused GD
// update of ad::update_sink).
//   train_options o;  o.optimizer = {.kind = optimizer_kind::adam, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
// Rates: parameter i trains at lr_i (the rule's SGD rate, model::learning_rates()) with momentum and
// at lr_i · s_i with ε_i = ε · s_i for Adam and sign descent, s_i the scale of its gradient entries
// (model::gradient_scales()). Weight decay is decoupled, w ← (1 − ηλ) w every step with the
// function-space η of --lr (one factor for every weight matrix; biases and gains are not decayed).
#pragma once

#include "specdyn/core.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "specdyn/ad/blas.hpp"
#include "specdyn/ad/program.hpp"
#include "specdyn/errors.hpp"
#include "specdyn/train/helper_thread.hpp"

namespace specdyn {

enum class optimizer_kind { sgd, momentum, nesterov, adam, adamw, sign };

constexpr std::string_view to_string(optimizer_kind k) {
  switch (k) {
    case optimizer_kind::sgd: return "sgd";
    case optimizer_kind::momentum: return "momentum";
    case optimizer_kind::nesterov: return "nesterov";
    case optimizer_kind::adam: return "adam";
    case optimizer_kind::adamw: return "adamw";
    case optimizer_kind::sign: return "sign";
  }
  return "?";
}

/// --optimizer NAME; usage_error naming the value otherwise.
inline optimizer_kind parse_optimizer(const std::string& name) {
  for (auto k : {optimizer_kind::sgd, optimizer_kind::momentum, optimizer_kind::nesterov, optimizer_kind::adam,
                 optimizer_kind::adamw, optimizer_kind::sign})
    if (name == to_string(k)) return k;
  throw usage_error("--optimizer = " + name + ": use sgd, momentum, nesterov, adam, adamw or sign");
}

/// Entrywise optimizers normalise each gradient entry (Adam, sign descent).
constexpr bool entrywise(optimizer_kind k) {
  return k == optimizer_kind::adam || k == optimizer_kind::adamw || k == optimizer_kind::sign;
}

struct optimizer_options {
  optimizer_kind kind = optimizer_kind::sgd;
  double momentum = 0.9;                  // heavy-ball and Nesterov: v ← μ v + g
  double beta1 = 0.9, beta2 = 0.999;      // Adam's moment decays
  double eps = 1e-8;                      // Adam's ε, in units of the gradient scale s_i
  double weight_decay = 0.0;              // λ: w ← (1 − ηλ) w each step (decoupled)

  /// Plain GD/SGD without decay: the trainer's fused update, unchanged.
  [[nodiscard]] bool plain() const { return kind == optimizer_kind::sgd && weight_decay == 0.0; }

  /// usage_error for values outside their range, naming the flag.
  void validate() const {
    require(momentum >= 0 && momentum < 1, "--momentum", momentum, "use 0 ≤ μ < 1");
    require(beta1 >= 0 && beta1 < 1, "--beta1", beta1, "use 0 ≤ β1 < 1");
    require(beta2 >= 0 && beta2 < 1, "--beta2", beta2, "use 0 ≤ β2 < 1");
    require(eps >= 0 && std::isfinite(eps), "--eps", eps, "use a non-negative finite ε");
    require(weight_decay >= 0 && std::isfinite(weight_decay), "--weight-decay", weight_decay, "use a non-negative finite λ");
    if (kind == optimizer_kind::adam && weight_decay > 0)
      throw usage_error("--weight-decay = " + std::to_string(weight_decay) +
                        ": adam has no weight decay (an L2 term inside Adam's normalisation is not width-consistent); use --optimizer adamw");
  }
};

/// The state of one optimizer over a model's parameters, and the reverse-pass sink that updates them.
class optimizer_state {
 public:
  optimizer_state() = default;
  /// info: the model's parameters; lr: their SGD rates; gscale: their gradient scales; eta: the
  /// function-space learning rate (weight decay's unit).
  optimizer_state(const std::vector<ad::param_info>& info, const std::vector<double>& lr, const std::vector<double>& gscale,
                  double eta, optimizer_options o)
      : opt_(o) {
    o.validate();
    const std::size_t n = info.size();
    rate_.resize(n);
    eps_.resize(n);
    decay_.resize(n);
    std::size_t largest = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const bool matrix_param = info[i].kind == ad::param_kind::input || info[i].kind == ad::param_kind::hidden ||
                                info[i].kind == ad::param_kind::readout;
      rate_[i] = entrywise(o.kind) ? lr[i] * gscale[i] : lr[i];
      eps_[i] = o.eps * gscale[i];
      decay_[i] = matrix_param && o.kind != optimizer_kind::adam ? 1.0 - eta * o.weight_decay : 1.0;
      largest = std::max(largest, info[i].rows * info[i].cols);
    }
    auto zeros = [&](std::vector<matrix>& v) {
      v.resize(n);
      for (std::size_t i = 0; i < n; ++i) v[i] = xt::zeros<double>({info[i].rows, info[i].cols});
    };
    if (o.kind == optimizer_kind::momentum || o.kind == optimizer_kind::nesterov) zeros(first_);
    if (o.kind == optimizer_kind::adam || o.kind == optimizer_kind::adamw) {
      zeros(first_);
      zeros(second_);
    }
    grad_.assign(largest, 0.0);
    // a second thread for the streaming updates where BLAS itself runs on more than one
    if (largest >= split_threshold && blas::num_threads() > 1) helper_.start();
  }

  [[nodiscard]] const optimizer_options& options() const { return opt_; }
  /// Steps taken (Adam's bias corrections use it).
  [[nodiscard]] std::size_t steps() const { return t_; }
  /// The step rate of parameter i (lr_i, or lr_i s_i for entrywise optimizers) and its ε.
  [[nodiscard]] double rate(std::size_t i) const { return rate_[i]; }
  [[nodiscard]] double epsilon(std::size_t i) const { return eps_[i]; }
  /// First-moment / velocity and second-moment buffers (empty where the optimizer has none).
  [[nodiscard]] const std::vector<matrix>& first_moments() const { return first_; }
  [[nodiscard]] const std::vector<matrix>& second_moments() const { return second_; }
  /// Adam's preconditioner of parameter i, entrywise: the step is −rate · m̂/(√v̂ + ε) = −P⁻¹ m̂ with
  /// P = (√v̂ + ε)/rate. Writes P's diagonal (after the last step) into out, same shape as the parameter.
  void preconditioner(std::size_t i, matrix& out) const {
    const double bc2 = 1.0 - std::pow(opt_.beta2, double(t_));
    out = second_[i];
    for (auto& v : out) v = (std::sqrt(v / bc2) + eps_[i]) / rate_[i];
  }

  /// Called once before each step's reverse pass.
  void begin_step() {
    ++t_;
    if (opt_.kind == optimizer_kind::adam || opt_.kind == optimizer_kind::adamw) {
      const double bc1 = 1.0 - std::pow(opt_.beta1, double(t_)), bc2 = 1.0 - std::pow(opt_.beta2, double(t_));
      adam_step_ = std::sqrt(bc2) / bc1;
      adam_eps_ = std::sqrt(bc2);
    }
  }

  /// The reverse-pass sink: forms parameter i's gradient and applies this optimizer's update to w[i].
  struct sink {
    static constexpr bool active = true;
    optimizer_state* st;
    std::vector<matrix>* w;
    void weight(std::size_t i, double scale, const matrix& delta, const matrix& in) const { st->weight(i, scale, delta, in, (*w)[i]); }
    void bias(std::size_t i, double scale, const matrix& delta) const { st->vector_param(i, scale, delta, nullptr, (*w)[i]); }
    void gain(std::size_t i, double scale, const matrix& delta, const matrix& xhat) const { st->vector_param(i, scale, delta, &xhat, (*w)[i]); }
  };
  [[nodiscard]] sink make_sink(std::vector<matrix>& w) { return {this, &w}; }

 private:
  /// Biases and gains: g_r = scale Σ_μ a(r, μ) (· b(r, μ)), then the update.
  void vector_param(std::size_t i, double scale, const matrix& a, const matrix* b, matrix& wi) {
    const std::size_t rows = a.shape(0), cols = a.shape(1);
    for (std::size_t r = 0; r < rows; ++r) {
      const double* ar = a.data() + r * cols;
      double s = 0;
      if (b) {
        const double* br = b->data() + r * cols;
        for (std::size_t j = 0; j < cols; ++j) s += ar[j] * br[j];
      } else {
        for (std::size_t j = 0; j < cols; ++j) s += ar[j];
      }
      grad_[r] = scale * s;
    }
    apply(i, grad_.data(), wi.data(), 0, rows);
  }

  void weight(std::size_t i, double scale, const matrix& delta, const matrix& in, matrix& wi) {
    const std::size_t rows = wi.shape(0), cols = wi.shape(1);
    if (opt_.kind == optimizer_kind::momentum) {  // v ← μ v + g in the product itself, then w ← d w − lr v
      blas::gemm(false, true, scale, delta, in, opt_.momentum, first_[i]);
      split(i, nullptr, wi.data(), 0, rows * cols, &optimizer_state::heavy_ball_rest);
      return;
    }
    // the whole gradient in one GEMM (OpenBLAS's threads), then the update on two threads; tiling
    // the GEMM by row blocks kept in cache measured no faster (bench_step's optim rows). The buffer
    // is kept at zero between uses (apply() clears each entry it reads), so the GEMM accumulates
    // with β = 1 and skips BLAS's separate pass that zeroes C for β = 0.
    blas::gemm(false, true, scale, delta.data(), delta.shape(0), delta.shape(1), in.data(), in.shape(0), in.shape(1), 1.0,
               grad_.data(), rows, cols);
    split(i, grad_.data(), wi.data(), 0, rows * cols, &optimizer_state::apply);
  }

  /// w ← d w − lr v after the product formed v (heavy ball); g unused.
  void heavy_ball_rest(std::size_t i, double*, double* wp, std::size_t from, std::size_t to) {
    const double d = decay_[i], lr = rate_[i];
    const double* vp = first_[i].data();
    for (std::size_t k = from; k < to; ++k) wp[k] = d * wp[k] - lr * vp[k];
  }

  using range_fn = void (optimizer_state::*)(std::size_t, double*, double*, std::size_t, std::size_t);
  /// fn over entries [from, to), in two halves on two threads when the range is long enough to pay
  /// for the hand-off. Elementwise, and the first half's length is a multiple of 8 (of every SIMD
  /// width xsimd uses for doubles), so each entry goes through the same SIMD or scalar-tail code as
  /// without the split: the result is the same bit for bit.
  void split(std::size_t i, double* g, double* wp, std::size_t from, std::size_t to, range_fn fn) {
    if (to - from < split_threshold || !helper_.parallel()) {
      (this->*fn)(i, g, wp, from, to);
      return;
    }
    struct ctx_t {
      optimizer_state* self;
      range_fn fn;
      std::size_t i;
      double* g;
      double* wp;
      std::size_t from, mid, to;
    } c{this, fn, i, g, wp, from, from + ((to - from) / 2 & ~std::size_t(7)), to};
    helper_.run(+[](void* p, int part) {
      auto& c = *static_cast<ctx_t*>(p);
      const std::size_t a = part == 0 ? c.from : c.mid, b = part == 0 ? c.mid : c.to;
      (c.self->*c.fn)(c.i, c.g ? c.g + (a - c.from) : nullptr, c.wp, a, b);
    }, &c);
  }

  /// The entrywise update of parameter i's entries [from, to) from their gradient g (indexed from `from`).
  void apply(std::size_t i, double* g, double* wp, std::size_t from, std::size_t to) {
    const double d = decay_[i], lr = rate_[i];
    g -= from;
    switch (opt_.kind) {
      case optimizer_kind::sgd:
        for (std::size_t k = from; k < to; ++k) {
          wp[k] = d * wp[k] - lr * g[k];
          g[k] = 0;
        }
        break;
      case optimizer_kind::momentum: {
        const double mu = opt_.momentum;
        double* v = first_[i].data();
        for (std::size_t k = from; k < to; ++k) {
          v[k] = mu * v[k] + g[k];
          wp[k] = d * wp[k] - lr * v[k];
          g[k] = 0;
        }
        break;
      }
      case optimizer_kind::nesterov: {  // PyTorch's form: v ← μ v + g, step g + μ v
        const double mu = opt_.momentum;
        double* v = first_[i].data();
        for (std::size_t k = from; k < to; ++k) {
          v[k] = mu * v[k] + g[k];
          wp[k] = d * wp[k] - lr * (g[k] + mu * v[k]);
          g[k] = 0;
        }
        break;
      }
      case optimizer_kind::adam:
      case optimizer_kind::adamw: {
        // m̂/(√v̂ + ε) = (√bc2/bc1) · m/(√v + ε√bc2)
        const double b1 = opt_.beta1, b2 = opt_.beta2, c1 = 1.0 - b1, c2 = 1.0 - b2;
        const double step = lr * adam_step_, e = eps_[i] * adam_eps_;
        double* m = first_[i].data();
        double* v = second_[i].data();
        if (e > 0) {
          // SIMD body; the scalar tail computes the same formula (rounding may differ by FMA contraction)
          using batch = xsimd::batch<double>;
          constexpr std::size_t W = batch::size;
          const batch vb1(b1), vc1(c1), vb2(b2), vc2(c2), vd(d), vs(step), ve(e);
          for (; from + W <= to; from += W) {
            const batch gk = batch::load_unaligned(g + from);
            batch(0.0).store_unaligned(g + from);
            const batch mk = vb1 * batch::load_unaligned(m + from) + vc1 * gk;
            const batch vk = vb2 * batch::load_unaligned(v + from) + vc2 * gk * gk;
            mk.store_unaligned(m + from);
            vk.store_unaligned(v + from);
            (vd * batch::load_unaligned(wp + from) - vs * mk / (xsimd::sqrt(vk) + ve)).store_unaligned(wp + from);
          }
          for (std::size_t k = from; k < to; ++k) {
            m[k] = b1 * m[k] + c1 * g[k];
            v[k] = b2 * v[k] + c2 * g[k] * g[k];
            wp[k] = d * wp[k] - step * m[k] / (std::sqrt(v[k]) + e);
            g[k] = 0;
          }
        } else {  // ε = 0: an entry whose gradient has always been 0 does not move
          for (std::size_t k = from; k < to; ++k) {
            m[k] = b1 * m[k] + c1 * g[k];
            v[k] = b2 * v[k] + c2 * g[k] * g[k];
            wp[k] = d * wp[k] - (v[k] > 0 ? step * m[k] / std::sqrt(v[k]) : 0.0);
            g[k] = 0;
          }
        }
        break;
      }
      case optimizer_kind::sign:
        for (std::size_t k = from; k < to; ++k) {
          wp[k] = d * wp[k] - lr * double((g[k] > 0) - (g[k] < 0));
          g[k] = 0;
        }
        break;
    }
  }

  optimizer_options opt_;
  std::vector<double> rate_, eps_, decay_;
  std::vector<matrix> first_, second_;
  std::vector<double> grad_;  // one parameter's gradient at a time (zero between uses): its update runs before the next is formed
  std::size_t t_ = 0;
  helper_thread helper_;
  static constexpr std::size_t split_threshold = std::size_t(1) << 14;
  double adam_step_ = 1.0, adam_eps_ = 1.0;
};

}  // namespace specdyn
