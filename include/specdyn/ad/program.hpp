// The finite-width step generated from a declaration's block tree (dsl/blocks.hpp). Each block
// kind has one step rule here — forward, reverse and the two tangent passes — and a workspace of
// its own buffers, sized once when the model is bound. The passes are compile-time recursions over
// the tree (repeat<K> bodies run as a loop over K copies of one instantiation), so the sequence of
// BLAS calls and fused elementwise kernels is fixed by the declaration's type: no tape, nothing
// virtual, nothing allocated in a step. For a chain (input, dense | φ, …, readout) the calls are
// exactly those of the chain engine the project started with, so its results stay bit for bit.
//   pre = s W in (+ s_b b),  post = φ(pre)                      dense [| bias] | φ
//   out = in + m_L · body(in)                                    residual(body…)
//   out = γ ⊙ (h − mean h)/√(var h + ε)   (over the width)       layernorm [| gain]
// The reverse pass hands each parameter's adjoint to a Sink (accumulate a gradient, apply an
// update in place, record it, or nothing), always after the adjoint below it has been formed from
// the parameter's old value.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "specdyn/ad/blas.hpp"
#include "specdyn/ad/pointwise.hpp"
#include "specdyn/dsl/network.hpp"

namespace specdyn::ad {

using matrix = xt::xtensor<double, 2>;

/// Calls f(integral_constant<I>) for I = 0..N-1 (Forward) or N-1..0 (reverse).
template <std::size_t N, class F>
constexpr void static_for(F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) { (f(std::integral_constant<std::size_t, I>{}), ...); }
  (std::make_index_sequence<N>{});
}
template <std::size_t N, class F>
constexpr void static_for_reverse(F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) { (f(std::integral_constant<std::size_t, N - 1 - I>{}), ...); }
  (std::make_index_sequence<N>{});
}

/// What a parameter tensor is, for scaling rules, spectra and records.
enum class param_kind { input, hidden, readout, bias, gain };

inline const char* to_string(param_kind k) {
  switch (k) {
    case param_kind::input: return "input";
    case param_kind::hidden: return "hidden";
    case param_kind::readout: return "readout";
    case param_kind::bias: return "bias";
    case param_kind::gain: return "gain";
  }
  return "?";
}

/// One parameter tensor of a bound network: a weight matrix [rows, cols] (W_eff = scale · w maps
/// an input of width cols to width rows), or a per-neuron vector [rows, 1] (bias, layer-norm gain).
struct param_info {
  param_kind kind = param_kind::hidden;
  std::string name;               // W0 (input), W1, …, readout; b<k> (bias of W<k>); g<j> (j-th layer norm's gain)
  std::size_t rows = 0, cols = 0;
  double fan_in_ratio = 1;        // fan-in / N (hidden and readout), 1 otherwise
  double fan_out_ratio = 1;       // rows / N (rows / C for the readout)
  bool in_branch = false;         // inside a residual body: the depth rule applies
  std::size_t block = 0;          // residual block index (0-based) for branch parameters
  [[nodiscard]] bool is_matrix() const { return kind == param_kind::input || kind == param_kind::hidden || kind == param_kind::readout; }
};

/// Runtime sizes of a network: input dimension D, base width N, outputs C, the count of repeat<any_depth>.
struct dims {
  std::size_t D = 0, N = 0, C = 1, depth = 1;
};

/// Raw parameters, their forward multipliers, and the residual branch multiplier m_L.
struct parameters {
  std::vector<matrix> w;        // raw tensors, in forward order
  std::vector<double> scale;    // effective tensor = scale[i] · w[i]
  double branch = 1.0;          // m_L = β L^{-α_L}
};

/// Sinks: what the reverse pass does with parameter i's adjoint.
/// weight: d(sWX)/dW = s Ḡ Xᵀ;  bias: d(s b 1ᵀ)/db = s Ḡ 1;  gain: d(s γ ⊙ x̂)/dγ = s (Ḡ ⊙ x̂) 1.
struct no_sink {
  static constexpr bool active = false;
  void weight(std::size_t, double, const matrix&, const matrix&) const {}
  void bias(std::size_t, double, const matrix&) const {}
  void gain(std::size_t, double, const matrix&, const matrix&) const {}
};

namespace detail {
/// out[i] = alpha · Σ_μ a(i, μ) (· b(i, μ)) + beta · out[i]: row sums of [rows, B], for biases and gains.
inline void row_sums(double alpha, const matrix& a, const matrix* b, double beta, matrix& out) {
  const std::size_t rows = a.shape(0), cols = a.shape(1);
  for (std::size_t i = 0; i < rows; ++i) {
    const double* ai = a.data() + i * cols;
    double s = 0;
    if (b) {
      const double* bi = b->data() + i * cols;
      for (std::size_t j = 0; j < cols; ++j) s += ai[j] * bi[j];
    } else {
      for (std::size_t j = 0; j < cols; ++j) s += ai[j];
    }
    out(i, 0) = alpha * s + (beta == 0 ? 0.0 : beta * out(i, 0));
  }
}
}  // namespace detail

/// grad[i] += (the adjoint of parameter i)
struct gradient_sink {
  static constexpr bool active = true;
  std::vector<matrix>* grad;
  void weight(std::size_t i, double scale, const matrix& delta, const matrix& in) const {
    blas::gemm(false, true, scale, delta, in, 1.0, (*grad)[i]);
  }
  void bias(std::size_t i, double scale, const matrix& delta) const { detail::row_sums(scale, delta, nullptr, 1.0, (*grad)[i]); }
  void gain(std::size_t i, double scale, const matrix& delta, const matrix& xhat) const { detail::row_sums(scale, delta, &xhat, 1.0, (*grad)[i]); }
};
/// w[i] −= lr[i] · (the adjoint of parameter i): the gradient step written straight into the weights.
struct update_sink {
  static constexpr bool active = true;
  std::vector<matrix>* w;
  const std::vector<double>* lr;
  void weight(std::size_t i, double scale, const matrix& delta, const matrix& in) const {
    blas::gemm(false, true, -(*lr)[i] * scale, delta, in, 1.0, (*w)[i]);
  }
  void bias(std::size_t i, double scale, const matrix& delta) const { detail::row_sums(-(*lr)[i] * scale, delta, nullptr, 1.0, (*w)[i]); }
  void gain(std::size_t i, double scale, const matrix& delta, const matrix& xhat) const {
    detail::row_sums(-(*lr)[i] * scale, delta, &xhat, 1.0, (*w)[i]);
  }
};

/// The per-block step rules. Each specialisation provides
///   ws, tws                                   its buffers (values/adjoints; tangents)
///   count(d)                                  parameter tensors it holds
///   info(d, ctx, out)                         appends their param_info in forward order
///   make(ws, d, width_in, cols, base)         sizes buffers; base: its first parameter index
///   forward(p, ws, in) → out                  (a reference into ws, or `in` itself)
///   reverse(p, ws, in, adj_out, sink) → adj_in (the adjoint of `in`; unused for the first block)
///   forward_tangent / reverse_tangent         the same for a direction v of the parameters
/// First: the block reads the data x (the network's first dense layer): no adjoint of its input.
template <class B, bool First = false>
struct step;

/// "No parameter" in visit().
inline constexpr std::size_t npos = std::size_t(-1);

/// What info() needs to know about where a block sits.
struct info_context {
  std::size_t width_in = 0;     // the stream's width (D for the first block)
  bool in_branch = false;
  std::size_t block = 0;        // index of the residual block being described
  std::size_t matrices = 0;     // weight matrices named so far (W<k>)
  std::size_t norms = 0;        // layer norms named so far (g<j>)
  std::size_t residuals = 0;    // residual blocks seen so far
};

/// The width a dense layer maps to, (Num/Den)·N.
template <class Layer>
std::size_t dense_width(const dims& d) {
  using W = typename Layer::width;
  return std::size_t(d.N * std::size_t(W::num) / std::size_t(W::den));
}

// ---------------------------------------------------------------- a sequence of blocks
template <bool FirstIsData, class... Bs>
struct sequence {
  template <std::size_t I>
  using at = std::tuple_element_t<I, std::tuple<Bs...>>;
  template <std::size_t I>
  using rule = step<at<I>, FirstIsData && I == 0>;
  static constexpr std::size_t n = sizeof...(Bs);
  template <class Seq> struct tuples;
  template <std::size_t... I>
  struct tuples<std::index_sequence<I...>> {
    using ws = std::tuple<typename rule<I>::ws...>;
    using tws = std::tuple<typename rule<I>::tws...>;
  };
  using ws = typename tuples<std::make_index_sequence<n>>::ws;
  using tws = typename tuples<std::make_index_sequence<n>>::tws;

  static std::size_t count(const dims& d) { return (std::size_t{0} + ... + step<Bs>::count(d)); }
  static void info(const dims& d, info_context& ctx, std::vector<param_info>& out) {
    static_for<n>([&](auto i) {
      rule<i>::info(d, ctx, out);
      ctx.width_in = rule<i>::width_out(d, ctx.width_in);
    });
  }
  static std::size_t width_out(const dims& d, std::size_t w) {
    static_for<n>([&](auto i) { w = rule<i>::width_out(d, w); });
    return w;
  }
  static void make(ws& w, const dims& d, std::size_t width, std::size_t cols, std::size_t base) {
    static_for<n>([&](auto i) {
      rule<i>::make(std::get<i>(w), d, width, cols, base);
      base += rule<i>::count(d);
      width = rule<i>::width_out(d, width);
    });
  }
  static void make_tangent(tws& t, const dims& d, std::size_t width, std::size_t cols) {
    static_for<n>([&](auto i) {
      rule<i>::make_tangent(std::get<i>(t), d, width, cols);
      width = rule<i>::width_out(d, width);
    });
  }
  static const matrix& forward(const parameters& p, ws& w, const matrix& in) {
    const matrix* cur = &in;
    static_for<n>([&](auto i) { cur = &rule<i>::forward(p, std::get<i>(w), *cur); });
    return *cur;
  }
  /// f(what, param, value) for each block's fields in forward order (param: its parameter, or npos).
  template <class F>
  static void visit(const ws& w, F&& f) {
    static_for<n>([&](auto i) { rule<i>::visit(std::get<i>(w), f); });
  }
  /// Inputs of each block are the outputs of the one before (recomputed as references, not stored).
  template <std::size_t I>
  static const matrix& input_of(const ws& w, const matrix& in) {
    if constexpr (I == 0) return in;
    else return rule<I - 1>::output(std::get<I - 1>(w), input_of<I - 1>(w, in));
  }
  static const matrix& output(const ws& w, const matrix& in) { return input_of<n>(w, in); }
  template <class Sink>
  static const matrix& reverse(const parameters& p, ws& w, const matrix& in, const matrix& adj_out, const Sink& sink) {
    const matrix* adj = &adj_out;
    static_for_reverse<n>([&](auto i) { adj = &rule<i>::reverse(p, std::get<i>(w), input_of<i>(w, in), *adj, sink); });
    return *adj;
  }
  static const matrix& forward_tangent(const parameters& p, const std::vector<matrix>& v, const ws& w, tws& t, const matrix& in,
                                       const matrix& in_dot) {
    const matrix* cur = &in_dot;
    static_for<n>([&](auto i) { cur = &rule<i>::forward_tangent(p, v, std::get<i>(w), std::get<i>(t), input_of<i>(w, in), *cur); });
    return *cur;
  }
  static const matrix& tangent_output(const ws& w, const tws& t, const matrix& in, const matrix& in_dot) {
    return tangent_input_of<n>(w, t, in, in_dot);
  }
  template <std::size_t I>
  static const matrix& tangent_input_of(const ws& w, const tws& t, const matrix& in, const matrix& in_dot) {
    if constexpr (I == 0) return in_dot;
    else return rule<I - 1>::tangent_output(std::get<I - 1>(w), std::get<I - 1>(t), input_of<I - 1>(w, in), tangent_input_of<I - 1>(w, t, in, in_dot));
  }
  static const matrix& reverse_tangent(const parameters& p, const std::vector<matrix>& v, const ws& w, tws& t, const matrix& in,
                                       const matrix& in_dot, const matrix& adj_out, const matrix& adj_out_dot, std::vector<matrix>& hv) {
    const matrix* adj_dot = &adj_out_dot;
    const matrix* adj = &adj_out;
    static_for_reverse<n>([&](auto i) {
      const matrix& x = input_of<i>(w, in);
      const matrix& xd = tangent_input_of<i>(w, t, in, in_dot);
      const matrix* next_adj = &rule<i>::adjoint_of_input(std::get<i>(w), x, *adj);
      adj_dot = &rule<i>::reverse_tangent(p, v, std::get<i>(w), std::get<i>(t), x, xd, *adj, *adj_dot, hv);
      adj = next_adj;
    });
    return *adj_dot;
  }
};

// ---------------------------------------------------------------- dense [| bias] [| φ]
template <class Act, std::intmax_t Num, std::intmax_t Den, bool Bias, bool HasAct, bool First>
struct step<dsl::dense_layer<Act, Num, Den, Bias, HasAct>, First> {
  using layer = dsl::dense_layer<Act, Num, Den, Bias, HasAct>;
  static constexpr bool identity = dsl::is_identity_activation<Act>;
  struct ws {
    std::size_t base = 0;                // index of W (and W + 1 of the bias)
    matrix pre, post, adj_pre, adj_in;   // [width, B]; post, adj_pre empty where φ = id; adj_in [width_in, B], empty for the first
  };
  struct tws { matrix pre_dot, post_dot, adj_pre_dot, adj_in_dot; };

  static std::size_t count(const dims&) { return Bias ? 2 : 1; }
  static std::size_t width_out(const dims& d, std::size_t) { return dense_width<layer>(d); }
  static void info(const dims& d, info_context& ctx, std::vector<param_info>& out) {
    param_info w;
    w.kind = First ? param_kind::input : param_kind::hidden;
    w.name = "W" + std::to_string(ctx.matrices++);
    w.rows = dense_width<layer>(d);
    w.cols = ctx.width_in;
    w.fan_in_ratio = First ? 1.0 : double(ctx.width_in) / double(d.N);
    w.fan_out_ratio = double(w.rows) / double(d.N);
    w.in_branch = ctx.in_branch;
    w.block = ctx.block;
    out.push_back(w);
    if constexpr (Bias) {
      param_info b = w;
      b.kind = param_kind::bias;
      b.name = "b" + w.name.substr(1);
      b.cols = 1;
      b.fan_in_ratio = 1;
      out.push_back(b);
    }
  }
  static void make(ws& w, const dims& d, std::size_t width_in, std::size_t cols, std::size_t base) {
    const std::size_t n = dense_width<layer>(d);
    w.base = base;
    w.pre = matrix({n, cols});
    if constexpr (!identity) {
      w.post = matrix({n, cols});
      w.adj_pre = matrix({n, cols});
    }
    if constexpr (!First) w.adj_in = matrix({width_in, cols});
  }
  static void make_tangent(tws& t, const dims& d, std::size_t width_in, std::size_t cols) {
    const std::size_t n = dense_width<layer>(d);
    t.pre_dot = matrix({n, cols});
    if constexpr (!identity) {
      t.post_dot = matrix({n, cols});
      t.adj_pre_dot = matrix({n, cols});
    }
    if constexpr (!First) t.adj_in_dot = matrix({width_in, cols});
  }
  static const matrix& output(const ws& w, const matrix&) {
    if constexpr (identity) return w.pre;
    else return w.post;
  }
  template <class F>
  static void visit(const ws& w, F&& f) { f("pre-activations", w.base, w.pre); }
  static const matrix& forward(const parameters& p, ws& w, const matrix& in) {
    const std::size_t i = w.base;
    blas::gemm(false, false, p.scale[i], p.w[i], in, 0.0, w.pre);  // pre = s W in
    if constexpr (Bias) add_bias(p.scale[i + 1], p.w[i + 1], w.pre);
    if constexpr (!identity) pointwise<Act>::forward(w.pre, w.post);
    return output(w, in);
  }
  /// The adjoint at pre (= the block's output adjoint where φ = id), formed by reverse().
  static const matrix& adj_pre_of(const ws& w, const matrix& adj_out) {
    if constexpr (identity) return adj_out;
    else return w.adj_pre;
  }
  static const matrix& adjoint_of_input(const ws& w, const matrix&, const matrix&) { return w.adj_in; }
  template <class Sink>
  static const matrix& reverse(const parameters& p, ws& w, const matrix& in, const matrix& adj_out, const Sink& sink) {
    const std::size_t i = w.base;
    if constexpr (!identity) pointwise<Act>::reverse(w.pre, w.post, adj_out, w.adj_pre);  // Ḡ_pre = φ'(pre) ⊙ Ḡ_post
    const matrix& delta = adj_pre_of(w, adj_out);
    if constexpr (!First) blas::gemm(true, false, p.scale[i], p.w[i], delta, 0.0, w.adj_in);  // d(s W in)/d in = s Wᵀ Ḡ
    if constexpr (Sink::active) {
      sink.weight(i, p.scale[i], delta, in);
      if constexpr (Bias) sink.bias(i + 1, p.scale[i + 1], delta);
    }
    return w.adj_in;
  }
  // (s W in + s_b b)˙ = s (V in + W in˙) + s_b v_b;  post˙ = φ'(pre) pre˙
  static const matrix& forward_tangent(const parameters& p, const std::vector<matrix>& v, const ws& w, tws& t, const matrix& in,
                                       const matrix& in_dot) {
    const std::size_t i = w.base;
    blas::gemm(false, false, p.scale[i], v[i], in, 0.0, t.pre_dot);
    if constexpr (!First) blas::gemm(false, false, p.scale[i], p.w[i], in_dot, 1.0, t.pre_dot);
    if constexpr (Bias) add_bias(p.scale[i + 1], v[i + 1], t.pre_dot);
    if constexpr (!identity) pointwise<Act>::forward_tangent(w.pre, w.post, t.pre_dot, t.post_dot);
    return tangent_output(w, t, in, in_dot);
  }
  static const matrix& tangent_output(const ws&, const tws& t, const matrix&, const matrix&) {
    if constexpr (identity) return t.pre_dot;
    else return t.post_dot;
  }
  // (s Wᵀ Ḡ)˙ = s (Vᵀ Ḡ + Wᵀ Ḡ˙);  (s Ḡ inᵀ)˙ = s (Ḡ˙ inᵀ + Ḡ in˙ᵀ);  (s_b Ḡ 1)˙ = s_b Ḡ˙ 1
  static const matrix& reverse_tangent(const parameters& p, const std::vector<matrix>& v, const ws& w, tws& t, const matrix& in,
                                       const matrix& in_dot, const matrix& adj_out, const matrix& adj_out_dot, std::vector<matrix>& hv) {
    const std::size_t i = w.base;
    if constexpr (!identity)
      pointwise<Act>::reverse_tangent(w.pre, w.post, t.pre_dot, adj_out, adj_out_dot, t.adj_pre_dot);
    const matrix& delta = adj_pre_of(w, adj_out);
    const matrix& delta_dot = identity ? adj_out_dot : t.adj_pre_dot;
    if constexpr (!First) {
      blas::gemm(true, false, p.scale[i], v[i], delta, 0.0, t.adj_in_dot);
      blas::gemm(true, false, p.scale[i], p.w[i], delta_dot, 1.0, t.adj_in_dot);
      blas::gemm(false, true, p.scale[i], delta_dot, in, 0.0, hv[i]);
      blas::gemm(false, true, p.scale[i], delta, in_dot, 1.0, hv[i]);
    } else {
      blas::gemm(false, true, p.scale[i], delta_dot, in, 0.0, hv[i]);
    }
    if constexpr (Bias) detail::row_sums(p.scale[i + 1], delta_dot, nullptr, 0.0, hv[i + 1]);
    return t.adj_in_dot;
  }

 private:
  static void add_bias(double s, const matrix& b, matrix& pre) {
    const std::size_t rows = pre.shape(0), cols = pre.shape(1);
    for (std::size_t r = 0; r < rows; ++r) {
      const double v = s * b(r, 0);
      double* row = pre.data() + r * cols;
      for (std::size_t c = 0; c < cols; ++c) row[c] += v;
    }
  }
};

// ---------------------------------------------------------------- an activation as a block
template <class Act, bool First>
struct step<dsl::activation_block<Act>, First> {
  static_assert(!First, "specdyn: the first block after the input must be a dense layer");
  static constexpr bool identity = dsl::is_identity_activation<Act>;
  struct ws { matrix post, adj_in; };   // empty where φ = id
  struct tws { matrix post_dot, adj_in_dot; };
  static std::size_t count(const dims&) { return 0; }
  static std::size_t width_out(const dims&, std::size_t w) { return w; }
  static void info(const dims&, info_context&, std::vector<param_info>&) {}
  static void make(ws& w, const dims&, std::size_t width, std::size_t cols, std::size_t) {
    if constexpr (!identity) {
      w.post = matrix({width, cols});
      w.adj_in = matrix({width, cols});
    }
  }
  static void make_tangent(tws& t, const dims&, std::size_t width, std::size_t cols) {
    if constexpr (!identity) {
      t.post_dot = matrix({width, cols});
      t.adj_in_dot = matrix({width, cols});
    }
  }
  static const matrix& output(const ws& w, const matrix& in) {
    if constexpr (identity) return in;
    else return w.post;
  }
  template <class F>
  static void visit(const ws& w, F&& f) {
    if constexpr (!identity) f("activations", npos, w.post);
  }
  static const matrix& forward(const parameters&, ws& w, const matrix& in) {
    if constexpr (!identity) pointwise<Act>::forward(in, w.post);
    return output(w, in);
  }
  static const matrix& adjoint_of_input(const ws& w, const matrix&, const matrix& adj_out) {
    if constexpr (identity) return adj_out;
    else return w.adj_in;
  }
  template <class Sink>
  static const matrix& reverse(const parameters&, ws& w, const matrix& in, const matrix& adj_out, const Sink&) {
    if constexpr (!identity) pointwise<Act>::reverse(in, w.post, adj_out, w.adj_in);
    return adjoint_of_input(w, in, adj_out);
  }
  static const matrix& forward_tangent(const parameters&, const std::vector<matrix>&, const ws& w, tws& t, const matrix& in,
                                       const matrix& in_dot) {
    if constexpr (!identity) pointwise<Act>::forward_tangent(in, w.post, in_dot, t.post_dot);
    return tangent_output(w, t, in, in_dot);
  }
  static const matrix& tangent_output(const ws&, const tws& t, const matrix&, const matrix& in_dot) {
    if constexpr (identity) return in_dot;
    else return t.post_dot;
  }
  static const matrix& reverse_tangent(const parameters&, const std::vector<matrix>&, const ws& w, tws& t, const matrix& in,
                                       const matrix& in_dot, const matrix& adj_out, const matrix& adj_out_dot, std::vector<matrix>&) {
    if constexpr (identity) {
      return adj_out_dot;
    } else {
      pointwise<Act>::reverse_tangent(in, w.post, in_dot, adj_out, adj_out_dot, t.adj_in_dot);
      return t.adj_in_dot;
    }
  }
};

// ---------------------------------------------------------------- layernorm [| gain]
/// ε inside √(var + ε), as in PyTorch's LayerNorm; the theory uses the same value.
inline constexpr double layernorm_epsilon = 1e-5;

namespace detail {
/// Column statistics of h [N, B]: mean and 1/√(var + ε) per column.
inline void column_moments(const matrix& h, std::vector<double>& mean, std::vector<double>& rstd) {
  const std::size_t n = h.shape(0), b = h.shape(1);
  mean.assign(b, 0.0);
  rstd.assign(b, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double* r = h.data() + i * b;
    for (std::size_t c = 0; c < b; ++c) mean[c] += r[c];
  }
  for (auto& m : mean) m /= double(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double* r = h.data() + i * b;
    for (std::size_t c = 0; c < b; ++c) rstd[c] += (r[c] - mean[c]) * (r[c] - mean[c]);
  }
  for (auto& v : rstd) v = 1.0 / std::sqrt(v / double(n) + layernorm_epsilon);
}
/// out = J a with the layer norm's Jacobian J = r (I − 11ᵀ/N − x̂ x̂ᵀ/N) per column (symmetric).
/// avg_a, avg_xa: scratch [B].
inline void layernorm_jacobian(const matrix& xhat, const std::vector<double>& rstd, const matrix& a, matrix& out,
                               std::vector<double>& avg_a, std::vector<double>& avg_xa) {
  const std::size_t n = a.shape(0), b = a.shape(1);
  avg_a.assign(b, 0.0);
  avg_xa.assign(b, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double *ar = a.data() + i * b, *xr = xhat.data() + i * b;
    for (std::size_t c = 0; c < b; ++c) {
      avg_a[c] += ar[c];
      avg_xa[c] += ar[c] * xr[c];
    }
  }
  for (std::size_t c = 0; c < b; ++c) {
    avg_a[c] /= double(n);
    avg_xa[c] /= double(n);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double *ar = a.data() + i * b, *xr = xhat.data() + i * b;
    double* o = out.data() + i * b;
    for (std::size_t c = 0; c < b; ++c) o[c] = rstd[c] * (ar[c] - avg_a[c] - xr[c] * avg_xa[c]);
  }
}
}  // namespace detail

template <bool Gain, bool First>
struct step<dsl::layernorm_block<Gain>, First> {
  static_assert(!First, "specdyn: layernorm cannot act on the input x");
  struct ws {
    std::size_t base = 0;
    matrix xhat, out, adj_xhat, adj_in;        // [N, B]; out, adj_xhat only with a gain
    std::vector<double> mean, rstd, s1, s2;    // [B]
  };
  struct tws {
    matrix xhat_dot, out_dot, a_dot, adj_in_dot, scratch;
    std::vector<double> s1, s2, xh;            // [B]
  };
  static std::size_t count(const dims&) { return Gain ? 1 : 0; }
  static std::size_t width_out(const dims&, std::size_t w) { return w; }
  static void info(const dims& d, info_context& ctx, std::vector<param_info>& out) {
    const std::size_t j = ctx.norms++;
    if constexpr (Gain) {
      param_info g;
      g.kind = param_kind::gain;
      g.name = "g" + std::to_string(j);
      g.rows = ctx.width_in;
      g.cols = 1;
      g.fan_out_ratio = double(ctx.width_in) / double(d.N);
      g.in_branch = ctx.in_branch;
      g.block = ctx.block;
      out.push_back(g);
    }
  }
  static void make(ws& w, const dims&, std::size_t width, std::size_t cols, std::size_t base) {
    w.base = base;
    w.xhat = matrix({width, cols});
    w.adj_in = matrix({width, cols});
    if constexpr (Gain) {
      w.out = matrix({width, cols});
      w.adj_xhat = matrix({width, cols});
    }
    w.mean.reserve(cols);
    w.rstd.reserve(cols);
    w.s1.reserve(cols);
    w.s2.reserve(cols);
  }
  static void make_tangent(tws& t, const dims&, std::size_t width, std::size_t cols) {
    for (auto* m : {&t.xhat_dot, &t.out_dot, &t.a_dot, &t.adj_in_dot, &t.scratch}) *m = matrix({width, cols});
    t.s1.reserve(cols);
    t.s2.reserve(cols);
    t.xh.reserve(cols);
  }
  static const matrix& output(const ws& w, const matrix&) {
    if constexpr (Gain) return w.out;
    else return w.xhat;
  }
  template <class F>
  static void visit(const ws& w, F&& f) { f("layer norm", Gain ? w.base : npos, output(w, w.xhat)); }
  static const matrix& forward(const parameters& p, ws& w, const matrix& in) {
    detail::column_moments(in, w.mean, w.rstd);
    const std::size_t n = in.shape(0), b = in.shape(1);
    for (std::size_t i = 0; i < n; ++i) {
      const double* h = in.data() + i * b;
      double* x = w.xhat.data() + i * b;
      for (std::size_t c = 0; c < b; ++c) x[c] = (h[c] - w.mean[c]) * w.rstd[c];
    }
    if constexpr (Gain) scale_rows(p.scale[w.base], p.w[w.base], w.xhat, w.out);
    return output(w, in);
  }
  static const matrix& adjoint_of_input(const ws& w, const matrix&, const matrix&) { return w.adj_in; }
  template <class Sink>
  static const matrix& reverse(const parameters& p, ws& w, const matrix&, const matrix& adj_out, const Sink& sink) {
    const matrix* a = &adj_out;
    if constexpr (Gain) {
      scale_rows(p.scale[w.base], p.w[w.base], adj_out, w.adj_xhat);  // Ḡ_x̂ = γ ⊙ Ḡ_out
      a = &w.adj_xhat;
    }
    detail::layernorm_jacobian(w.xhat, w.rstd, *a, w.adj_in, w.s1, w.s2);  // Ḡ_h = J Ḡ_x̂
    if constexpr (Gain && Sink::active) sink.gain(w.base, p.scale[w.base], adj_out, w.xhat);
    return w.adj_in;
  }
  // x̂˙ = J h˙;  out˙ = γ˙ ⊙ x̂ + γ ⊙ x̂˙
  static const matrix& forward_tangent(const parameters& p, const std::vector<matrix>& v, const ws& w, tws& t, const matrix&,
                                       const matrix& in_dot) {
    detail::layernorm_jacobian(w.xhat, w.rstd, in_dot, t.xhat_dot, t.s1, t.s2);
    if constexpr (Gain) {
      scale_rows(p.scale[w.base], p.w[w.base], t.xhat_dot, t.out_dot);
      accumulate_rows(p.scale[w.base], v[w.base], w.xhat, t.out_dot);
    }
    return tangent_output(w, t, w.xhat, in_dot);
  }
  static const matrix& tangent_output(const ws&, const tws& t, const matrix&, const matrix&) {
    if constexpr (Gain) return t.out_dot;
    else return t.xhat_dot;
  }
  // Ḡ_h = J a with a = γ ⊙ Ḡ_out. Differentiating J = r(I − 11ᵀ/N − x̂x̂ᵀ/N) along the tangent
  // (r˙ = −r ⟨x̂ h˙⟩ r, per column): (J a)˙ = J a˙ − r⟨x̂ h˙⟩ (J a) − r (x̂˙ ⟨x̂ a⟩ + x̂ ⟨x̂˙ a⟩), with ⟨·⟩ the
  // mean over the width, a˙ = γ˙ ⊙ Ḡ_out + γ ⊙ Ḡ_out˙; the gain's (s Ḡ_out ⊙ x̂ 1)˙ = s (Ḡ_out˙ ⊙ x̂ + Ḡ_out ⊙ x̂˙) 1.
  static const matrix& reverse_tangent(const parameters& p, const std::vector<matrix>& v, const ws& w, tws& t, const matrix&,
                                       const matrix& in_dot, const matrix& adj_out, const matrix& adj_out_dot, std::vector<matrix>& hv) {
    const std::size_t n = in_dot.shape(0), b = in_dot.shape(1);
    const matrix* a = &adj_out;
    const matrix* a_dot = &adj_out_dot;
    if constexpr (Gain) {
      a = &w.adj_xhat;
      scale_rows(p.scale[w.base], p.w[w.base], adj_out_dot, t.a_dot);
      accumulate_rows(p.scale[w.base], v[w.base], adj_out, t.a_dot);
      a_dot = &t.a_dot;
      // hv_g = s Σ_μ (Ḡ_out˙ ⊙ x̂ + Ḡ_out ⊙ x̂˙)
      detail::row_sums(p.scale[w.base], adj_out_dot, &w.xhat, 0.0, hv[w.base]);
      for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t c = 0; c < b; ++c) s += adj_out(i, c) * t.xhat_dot(i, c);
        hv[w.base](i, 0) += p.scale[w.base] * s;
      }
    }
    detail::layernorm_jacobian(w.xhat, w.rstd, *a_dot, t.adj_in_dot, t.s1, t.s2);  // J a˙
    // ⟨x̂ h˙⟩, ⟨x̂ a⟩, ⟨x̂˙ a⟩ per column
    t.xh.assign(b, 0.0);
    t.s1.assign(b, 0.0);
    t.s2.assign(b, 0.0);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < b; ++c) {
        t.xh[c] += w.xhat(i, c) * in_dot(i, c);
        t.s1[c] += w.xhat(i, c) * (*a)(i, c);
        t.s2[c] += t.xhat_dot(i, c) * (*a)(i, c);
      }
    for (std::size_t c = 0; c < b; ++c) {
      t.xh[c] /= double(n);
      t.s1[c] /= double(n);
      t.s2[c] /= double(n);
    }
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < b; ++c) {
        const double r = w.rstd[c];
        t.adj_in_dot(i, c) += -r * t.xh[c] * w.adj_in(i, c) - r * (t.xhat_dot(i, c) * t.s1[c] + w.xhat(i, c) * t.s2[c]);
      }
    return t.adj_in_dot;
  }

 private:
  // out(i, :) = s g_i · x(i, :)
  static void scale_rows(double s, const matrix& g, const matrix& x, matrix& out) {
    const std::size_t n = x.shape(0), b = x.shape(1);
    for (std::size_t i = 0; i < n; ++i) {
      const double gi = s * g(i, 0);
      const double* xr = x.data() + i * b;
      double* o = out.data() + i * b;
      for (std::size_t c = 0; c < b; ++c) o[c] = gi * xr[c];
    }
  }
  static void accumulate_rows(double s, const matrix& g, const matrix& x, matrix& out) {
    const std::size_t n = x.shape(0), b = x.shape(1);
    for (std::size_t i = 0; i < n; ++i) {
      const double gi = s * g(i, 0);
      const double* xr = x.data() + i * b;
      double* o = out.data() + i * b;
      for (std::size_t c = 0; c < b; ++c) o[c] += gi * xr[c];
    }
  }
};

// ---------------------------------------------------------------- residual(body…)
template <class... Body, bool First>
struct step<dsl::residual_block<Body...>, First> {
  static_assert(!First, "specdyn: the first block after the input must be a dense layer");
  using body = sequence<false, Body...>;
  struct ws {
    typename body::ws inner;
    matrix out, adj_branch, adj_in;  // [N, B]
  };
  struct tws {
    typename body::tws inner;
    matrix out_dot, adj_branch_dot, adj_in_dot;
  };
  static std::size_t count(const dims& d) { return body::count(d); }
  static std::size_t width_out(const dims&, std::size_t w) { return w; }
  static void info(const dims& d, info_context& ctx, std::vector<param_info>& out) {
    const bool outer = ctx.in_branch;
    const std::size_t outer_block = ctx.block, w = ctx.width_in;
    ctx.in_branch = true;
    ctx.block = ctx.residuals++;
    body::info(d, ctx, out);
    ctx.in_branch = outer;
    ctx.block = outer_block;
    ctx.width_in = w;
  }
  static void make(ws& w, const dims& d, std::size_t width, std::size_t cols, std::size_t base) {
    body::make(w.inner, d, width, cols, base);
    w.out = matrix({width, cols});
    w.adj_branch = matrix({width, cols});
    w.adj_in = matrix({width, cols});
  }
  static void make_tangent(tws& t, const dims& d, std::size_t width, std::size_t cols) {
    body::make_tangent(t.inner, d, width, cols);
    t.out_dot = matrix({width, cols});
    t.adj_branch_dot = matrix({width, cols});
    t.adj_in_dot = matrix({width, cols});
  }
  static const matrix& output(const ws& w, const matrix&) { return w.out; }
  template <class F>
  static void visit(const ws& w, F&& f) {
    body::visit(w.inner, f);
    f("residual stream", npos, w.out);
  }
  static const matrix& forward(const parameters& p, ws& w, const matrix& in) {
    const matrix& branch = body::forward(p, w.inner, in);
    xt::noalias(w.out) = in + p.branch * branch;  // h + m_L body(h)
    return w.out;
  }
  static const matrix& adjoint_of_input(const ws& w, const matrix&, const matrix&) { return w.adj_in; }
  template <class Sink>
  static const matrix& reverse(const parameters& p, ws& w, const matrix& in, const matrix& adj_out, const Sink& sink) {
    xt::noalias(w.adj_branch) = p.branch * adj_out;
    const matrix& adj_body = body::reverse(p, w.inner, in, w.adj_branch, sink);
    xt::noalias(w.adj_in) = adj_out + adj_body;  // the skip path and the branch
    return w.adj_in;
  }
  static const matrix& forward_tangent(const parameters& p, const std::vector<matrix>& v, const ws& w, tws& t, const matrix& in,
                                       const matrix& in_dot) {
    const matrix& branch_dot = body::forward_tangent(p, v, w.inner, t.inner, in, in_dot);
    xt::noalias(t.out_dot) = in_dot + p.branch * branch_dot;
    return t.out_dot;
  }
  static const matrix& tangent_output(const ws&, const tws& t, const matrix&, const matrix&) { return t.out_dot; }
  static const matrix& reverse_tangent(const parameters& p, const std::vector<matrix>& v, const ws& w, tws& t, const matrix& in,
                                       const matrix& in_dot, const matrix&, const matrix& adj_out_dot, std::vector<matrix>& hv) {
    xt::noalias(t.adj_branch_dot) = p.branch * adj_out_dot;
    const matrix& body_dot = body::reverse_tangent(p, v, w.inner, t.inner, in, in_dot, w.adj_branch, t.adj_branch_dot, hv);
    xt::noalias(t.adj_in_dot) = adj_out_dot + body_dot;
    return t.adj_in_dot;
  }
};

// ---------------------------------------------------------------- repeat<K>(body…)
template <std::size_t K, class... Body, bool First>
struct step<dsl::repeat_block<K, Body...>, First> {
  static_assert(!First, "specdyn: the first block after the input must be a dense layer");
  using body = sequence<false, Body...>;
  static std::size_t copies(const dims& d) { return K == dsl::any_depth ? d.depth : K; }
  struct ws {
    std::vector<typename body::ws> copy;
    std::vector<const matrix*> inputs;  // reverse(): the input of each copy (sized once)
  };
  struct tws {
    std::vector<typename body::tws> copy;
  };
  static std::size_t count(const dims& d) { return copies(d) * body::count(d); }
  static std::size_t width_out(const dims& d, std::size_t w) { return body::width_out(d, w); }
  static void info(const dims& d, info_context& ctx, std::vector<param_info>& out) {
    const std::size_t w = ctx.width_in;
    for (std::size_t k = 0; k < copies(d); ++k) {
      ctx.width_in = w;
      body::info(d, ctx, out);
    }
    ctx.width_in = w;
  }
  static void make(ws& w, const dims& d, std::size_t width, std::size_t cols, std::size_t base) {
    w.copy.resize(copies(d));
    w.inputs.resize(copies(d));
    for (auto& c : w.copy) {
      body::make(c, d, width, cols, base);
      base += body::count(d);
    }
  }
  static void make_tangent(tws& t, const dims& d, std::size_t width, std::size_t cols) {
    t.copy.resize(copies(d));
    for (auto& c : t.copy) body::make_tangent(c, d, width, cols);
  }
  static const matrix& output(const ws& w, const matrix& in) { return body::output(w.copy.back(), input_of(w, w.copy.size() - 1, in)); }
  /// The input of copy k: the output of copy k − 1 (in for k = 0).
  static const matrix& input_of(const ws& w, std::size_t k, const matrix& in) {
    const matrix* cur = &in;
    for (std::size_t j = 0; j < k; ++j) cur = &body::output(w.copy[j], *cur);
    return *cur;
  }
  static const matrix& forward(const parameters& p, ws& w, const matrix& in) {
    const matrix* cur = &in;
    for (auto& c : w.copy) cur = &body::forward(p, c, *cur);
    return *cur;
  }
  template <class F>
  static void visit(const ws& w, F&& f) {
    for (const auto& c : w.copy) body::visit(c, f);
  }
  static const matrix& adjoint_of_input(const ws& w, const matrix& in, const matrix& adj_out) {
    return body::template rule<0>::adjoint_of_input(std::get<0>(w.copy.front()), in, adj_out);
  }
  template <class Sink>
  static const matrix& reverse(const parameters& p, ws& w, const matrix& in, const matrix& adj_out, const Sink& sink) {
    const matrix* cur = &in;
    for (std::size_t k = 0; k < w.copy.size(); ++k) {
      w.inputs[k] = cur;
      cur = &body::output(w.copy[k], *cur);
    }
    const matrix* adj = &adj_out;
    for (std::size_t k = w.copy.size(); k-- > 0;) adj = &body::reverse(p, w.copy[k], *w.inputs[k], *adj, sink);
    return *adj;
  }
  static const matrix& forward_tangent(const parameters& p, const std::vector<matrix>& v, const ws& w, tws& t, const matrix& in,
                                       const matrix& in_dot) {
    const matrix* cur = &in;
    const matrix* cur_dot = &in_dot;
    for (std::size_t k = 0; k < w.copy.size(); ++k) {
      cur_dot = &body::forward_tangent(p, v, w.copy[k], t.copy[k], *cur, *cur_dot);
      cur = &body::output(w.copy[k], *cur);
    }
    return *cur_dot;
  }
  static const matrix& tangent_output(const ws& w, const tws& t, const matrix& in, const matrix& in_dot) {
    const matrix* cur = &in;
    const matrix* cur_dot = &in_dot;
    for (std::size_t k = 0; k < w.copy.size(); ++k) {
      cur_dot = &body::tangent_output(w.copy[k], t.copy[k], *cur, *cur_dot);
      cur = &body::output(w.copy[k], *cur);
    }
    return *cur_dot;
  }
  static const matrix& reverse_tangent(const parameters& p, const std::vector<matrix>& v, const ws& w, tws& t, const matrix& in,
                                       const matrix& in_dot, const matrix& adj_out, const matrix& adj_out_dot, std::vector<matrix>& hv) {
    std::vector<const matrix*> ins, ins_dot, adjs(w.copy.size() + 1);
    const matrix* cur = &in;
    const matrix* cur_dot = &in_dot;
    for (std::size_t k = 0; k < w.copy.size(); ++k) {
      ins.push_back(cur);
      ins_dot.push_back(cur_dot);
      cur_dot = &body::tangent_output(w.copy[k], t.copy[k], *cur, *cur_dot);
      cur = &body::output(w.copy[k], *cur);
    }
    // adjoints at each copy's output: the stored reverse adjoints of the copy after it
    adjs[w.copy.size()] = &adj_out;
    for (std::size_t k = w.copy.size(); k-- > 1;) adjs[k] = &body::template rule<0>::adjoint_of_input(std::get<0>(w.copy[k]), *ins[k], *adjs[k + 1]);
    const matrix* adj_dot = &adj_out_dot;
    for (std::size_t k = w.copy.size(); k-- > 0;)
      adj_dot = &body::reverse_tangent(p, v, w.copy[k], t.copy[k], *ins[k], *ins_dot[k], *adjs[k + 1], *adj_dot, hv);
    return *adj_dot;
  }
};

// ---------------------------------------------------------------- the whole network
/// Activations and adjoints of one pass over B columns (samples); sized once, reused every step.
template <class Decl>
struct program;

template <class... Blocks>
struct program<dsl::network_decl<Blocks...>> {
  using decl = dsl::network_decl<Blocks...>;
  using body = sequence<true, Blocks...>;

  struct workspace {
    std::size_t cols = 0;
    typename body::ws blocks;
    matrix out, adj_out;       // [C, B]
    matrix adj_last;           // [N_last, B]: the readout's input adjoint
    std::size_t readout = 0;   // index of the readout weight
    const matrix* last_input = nullptr;  // x of the last forward (for reverse)
  };
  struct tangent_workspace {
    typename body::tws blocks;
    matrix out_dot, adj_out_dot, adj_last_dot, zero;
  };

  static std::size_t count(const dims& d) { return body::count(d) + 1; }
  static std::vector<param_info> info(const dims& d) {
    std::vector<param_info> out;
    info_context ctx;
    ctx.width_in = d.D;
    body::info(d, ctx, out);
    param_info r;
    r.kind = param_kind::readout;
    r.name = "readout";
    r.rows = d.C;
    r.cols = ctx.width_in;
    r.fan_in_ratio = double(ctx.width_in) / double(d.N);
    out.push_back(r);
    return out;
  }
  /// Residual blocks of the network at these sizes (L of the depth scaling).
  static std::size_t residual_blocks(const dims& d) {
    info_context ctx;
    ctx.width_in = d.D;
    std::vector<param_info> out;
    body::info(d, ctx, out);
    return ctx.residuals;
  }
  static workspace make_workspace(const dims& d, std::size_t cols) {
    workspace w;
    w.cols = cols;
    body::make(w.blocks, d, d.D, cols, 0);
    const std::size_t last = body::width_out(d, d.D);
    w.readout = body::count(d);
    w.out = matrix({d.C, cols});
    w.adj_out = matrix({d.C, cols});
    w.adj_last = matrix({last, cols});
    return w;
  }
  static tangent_workspace make_tangent_workspace(const dims& d, std::size_t cols) {
    tangent_workspace t;
    body::make_tangent(t.blocks, d, d.D, cols);
    const std::size_t last = body::width_out(d, d.D);
    t.out_dot = matrix({d.C, cols});
    t.adj_out_dot = matrix({d.C, cols});
    t.adj_last_dot = matrix({last, cols});
    t.zero = xt::zeros<double>({d.D, cols});
    return t;
  }

  /// f(what, param, value) for every field of a completed forward pass, in forward order, then the outputs.
  template <class F>
  static void visit(const workspace& w, F&& f) {
    body::visit(w.blocks, f);
    f("outputs", w.readout, w.out);
  }
  /// The last stream (the readout's input) after forward().
  static const matrix& last_stream(const workspace& w, const matrix& x) { return body::output(w.blocks, x); }

  static void forward(const parameters& p, const matrix& x, workspace& w) {
    const matrix& last = body::forward(p, w.blocks, x);
    blas::gemm(false, false, p.scale[w.readout], p.w[w.readout], last, 0.0, w.out);  // F = s_L W^L last
  }
  template <class Sink>
  static void reverse(const parameters& p, const matrix& x, workspace& w, const Sink& sink) {
    const std::size_t r = w.readout;
    const matrix& last = body::output(w.blocks, x);
    blas::gemm(true, false, p.scale[r], p.w[r], w.adj_out, 0.0, w.adj_last);  // d(s W last)/d last = s Wᵀ Ḡ
    if constexpr (Sink::active) sink.weight(r, p.scale[r], w.adj_out, last);
    body::reverse(p, w.blocks, x, w.adj_last, sink);
  }
  static void forward_tangent(const parameters& p, const std::vector<matrix>& v, const matrix& x, const workspace& w,
                              tangent_workspace& t) {
    const std::size_t r = w.readout;
    const matrix& last_dot = body::forward_tangent(p, v, w.blocks, t.blocks, x, t.zero);
    const matrix& last = body::output(w.blocks, x);
    blas::gemm(false, false, p.scale[r], v[r], last, 0.0, t.out_dot);
    blas::gemm(false, false, p.scale[r], p.w[r], last_dot, 1.0, t.out_dot);
  }
  static void reverse_tangent(const parameters& p, const std::vector<matrix>& v, const matrix& x, const workspace& w,
                              tangent_workspace& t, std::vector<matrix>& hv) {
    const std::size_t r = w.readout;
    const matrix& last = body::output(w.blocks, x);
    const matrix& last_dot = body::tangent_output(w.blocks, t.blocks, x, t.zero);
    // (s Wᵀ Ḡ)˙ = s (Vᵀ Ḡ + Wᵀ Ḡ˙);  (s Ḡ lastᵀ)˙ = s (Ḡ˙ lastᵀ + Ḡ last˙ᵀ)
    blas::gemm(true, false, p.scale[r], v[r], w.adj_out, 0.0, t.adj_last_dot);
    blas::gemm(true, false, p.scale[r], p.w[r], t.adj_out_dot, 1.0, t.adj_last_dot);
    blas::gemm(false, true, p.scale[r], t.adj_out_dot, last, 0.0, hv[r]);
    blas::gemm(false, true, p.scale[r], w.adj_out, last_dot, 1.0, hv[r]);
    body::reverse_tangent(p, v, w.blocks, t.blocks, x, t.zero, w.adj_last, t.adj_last_dot, hv);
  }
};

template <class Decl>
using workspace = typename program<Decl>::workspace;
template <class Decl>
using tangent_workspace = typename program<Decl>::tangent_workspace;

/// Every dense layer's pre-activations of a completed forward pass, in forward order (h^1, h^2, …
/// for a chain).
template <class Decl>
std::vector<const matrix*> pre_activations(const workspace<Decl>& w) {
  std::vector<const matrix*> out;
  program<Decl>::visit(w, [&](const char* what, std::size_t, const matrix& m) {
    if (std::string_view(what) == "pre-activations") out.push_back(&m);
  });
  return out;
}

template <class Decl, std::size_t I>
inline constexpr bool identity_at = dsl::is_identity_activation<typename Decl::template activation<I>>;

/// Whether a declaration is a chain of linear dense layers (a deep linear network).
template <class Decl>
constexpr bool all_linear() {
  if constexpr (!Decl::is_chain) {
    return false;
  } else {
    bool all = true;
    static_for<Decl::hidden_layers>([&](auto i) { all = all && identity_at<Decl, i>; });
    return all;
  }
}

}  // namespace specdyn::ad
