// The network as a chain of matrix-level nodes generated from its declaration. For a declaration
// with L dense layers the chain is
//   pre_0 = s_0 W^0 X,  post_i = φ_i(pre_i),  pre_i = s_i W^i post_{i-1},  F = s_L W^L post_{L-1}
// (pre_i is THEORY's h^{i+1}, s_i the scaling rule's multiplier). forward / reverse / the two
// tangent passes are folds over compile-time layer indices: the sequence of BLAS calls and fused
// elementwise kernels is fixed by the declaration's type; there is no tape and nothing virtual.
// The reverse pass hands each weight's adjoint to a Sink (accumulate a gradient, apply a GD
// update in place, or nothing), so a training step is exactly 3 GEMMs per weight matrix.
#pragma once

#include <array>
#include <cstddef>
#include <utility>

#include "specdyn/ad/blas.hpp"
#include "specdyn/ad/pointwise.hpp"
#include "specdyn/dsl/network.hpp"

namespace specdyn::ad {

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

/// Weights of a declared network and their forward multipliers.
template <std::size_t L>
struct parameters {
  std::array<matrix, L + 1> w;      // w[0]: [N, D], w[i]: [N, N], w[L]: [C, N]  (raw weights)
  std::array<double, L + 1> scale;  // W_eff^i = scale[i] · w[i]
};

template <class Decl, std::size_t I>
inline constexpr bool identity_at = dsl::is_identity_activation<typename Decl::template activation<I>>;

/// Whether every dense layer of Decl is linear (a deep linear network).
template <class Decl>
constexpr bool all_linear() {
  bool all = true;
  static_for<Decl::hidden_layers>([&](auto i) { all = all && identity_at<Decl, i>; });
  return all;
}

/// Activations and adjoints of one pass over B columns (samples); sized once, reused every step.
template <class Decl>
struct workspace {
  static constexpr std::size_t L = Decl::hidden_layers;
  std::size_t cols = 0;
  std::array<matrix, L> pre, post, adj_post, adj_pre;  // [N, B]; post, adj_pre empty where φ = id
  matrix out, adj_out;                                 // [C, B]

  workspace() = default;
  workspace(std::size_t n, std::size_t c, std::size_t b) : cols(b) {
    static_for<L>([&](auto i) {
      pre[i] = matrix({n, b});
      adj_post[i] = matrix({n, b});
      if constexpr (!identity_at<Decl, i>) {
        post[i] = matrix({n, b});
        adj_pre[i] = matrix({n, b});
      }
    });
    out = matrix({c, b});
    adj_out = matrix({c, b});
  }
  template <std::size_t I>
  const matrix& post_of() const {
    if constexpr (identity_at<Decl, I>) return pre[I];
    else return post[I];
  }
  template <std::size_t I>
  matrix& adj_pre_of() {
    if constexpr (identity_at<Decl, I>) return adj_post[I];
    else return adj_pre[I];
  }
  template <std::size_t I>
  const matrix& adj_pre_of() const {
    return const_cast<workspace*>(this)->template adj_pre_of<I>();
  }
};

/// What the reverse pass does with the adjoint of weight i, delta_i · input_iᵀ · scale_i.
struct no_sink {
  static constexpr bool active = false;
  void operator()(std::size_t, double, const matrix&, const matrix&) const {}
};
/// grad[i] += scale · delta · inputᵀ   (d(sWX)/dW = s Ḡ Xᵀ)
template <std::size_t L>
struct gradient_sink {
  static constexpr bool active = true;
  std::array<matrix, L + 1>* grad;
  void operator()(std::size_t i, double scale, const matrix& delta, const matrix& in) const {
    blas::gemm(false, true, scale, delta, in, 1.0, (*grad)[i]);
  }
};
/// w[i] −= lr[i] · scale · delta · inputᵀ: the gradient step written straight into the weights.
template <std::size_t L>
struct update_sink {
  static constexpr bool active = true;
  std::array<matrix, L + 1>* w;
  const std::array<double, L + 1>* lr;
  void operator()(std::size_t i, double scale, const matrix& delta, const matrix& in) const {
    blas::gemm(false, true, -(*lr)[i] * scale, delta, in, 1.0, (*w)[i]);
  }
};

/// The matrix weight I multiplies: the data for I = 0, post_{I-1} otherwise.
template <std::size_t I, class Decl>
const matrix& layer_input(const matrix& x, const workspace<Decl>& ws) {
  if constexpr (I == 0) return x;
  else return ws.template post_of<I - 1>();
}

/// Forward pass: fills ws.pre, ws.post, ws.out from x [D, B].
template <class Decl>
void forward(const parameters<Decl::hidden_layers>& p, const matrix& x, workspace<Decl>& ws) {
  constexpr std::size_t L = Decl::hidden_layers;
  static_for<L>([&](auto i) {
    blas::gemm(false, false, p.scale[i], p.w[i], layer_input<i>(x, ws), 0.0, ws.pre[i]);  // pre_i = s_i W^i in
    if constexpr (!identity_at<Decl, i>)
      pointwise<typename Decl::template activation<i>>::forward(ws.pre[i], ws.post[i]);
  });
  blas::gemm(false, false, p.scale[L], p.w[L], ws.template post_of<L - 1>(), 0.0, ws.out);  // F = s_L W^L post
}

/// Reverse pass from ws.adj_out (dℒ/dF or a seed): fills adj_post / adj_pre and calls sink for
/// every weight after the adjoint below it has been formed from the weight's old value.
template <class Decl, class Sink>
void reverse(const parameters<Decl::hidden_layers>& p, const matrix& x, workspace<Decl>& ws, const Sink& sink) {
  constexpr std::size_t L = Decl::hidden_layers;
  // d(s W post)/d post = s Wᵀ Ḡ
  blas::gemm(true, false, p.scale[L], p.w[L], ws.adj_out, 0.0, ws.adj_post[L - 1]);
  if constexpr (Sink::active) sink(L, p.scale[L], ws.adj_out, ws.template post_of<L - 1>());
  static_for_reverse<L>([&](auto i) {
    if constexpr (!identity_at<Decl, i>)
      pointwise<typename Decl::template activation<i>>::reverse(ws.pre[i], ws.post[i], ws.adj_post[i], ws.adj_pre[i]);
    const matrix& delta = ws.template adj_pre_of<i>();
    if constexpr (i > 0) {
      blas::gemm(true, false, p.scale[i], p.w[i], delta, 0.0, ws.adj_post[i - 1]);  // s Wᵀ Ḡ
      if constexpr (Sink::active) sink(i, p.scale[i], delta, ws.template post_of<i - 1>());
    } else {
      if constexpr (Sink::active) sink(0, p.scale[0], delta, x);  // the data needs no adjoint
    }
  });
}

/// Tangents along a direction V of the weights (forward-over-reverse), for Hessian-vector products.
template <class Decl>
struct tangent_workspace {
  static constexpr std::size_t L = Decl::hidden_layers;
  std::array<matrix, L> pre_dot, post_dot, adj_post_dot, adj_pre_dot;  // [N, B]
  matrix out_dot, adj_out_dot;                                         // [C, B]
  tangent_workspace() = default;
  tangent_workspace(std::size_t n, std::size_t c, std::size_t b) {
    static_for<L>([&](auto i) {
      pre_dot[i] = matrix({n, b});
      adj_post_dot[i] = matrix({n, b});
      if constexpr (!identity_at<Decl, i>) {
        post_dot[i] = matrix({n, b});
        adj_pre_dot[i] = matrix({n, b});
      }
    });
    out_dot = matrix({c, b});
    adj_out_dot = matrix({c, b});
  }
  template <std::size_t I>
  const matrix& post_dot_of() const {
    if constexpr (identity_at<Decl, I>) return pre_dot[I];
    else return post_dot[I];
  }
  template <std::size_t I>
  const matrix& adj_pre_dot_of() const {
    if constexpr (identity_at<Decl, I>) return adj_post_dot[I];
    else return adj_pre_dot[I];
  }
};

/// Forward tangent: out_dot = dF[W + εV]/dε at ε = 0. Needs a completed forward().
template <class Decl>
void forward_tangent(const parameters<Decl::hidden_layers>& p, const std::array<matrix, Decl::hidden_layers + 1>& v,
                     const matrix& x, const workspace<Decl>& ws, tangent_workspace<Decl>& tw) {
  constexpr std::size_t L = Decl::hidden_layers;
  static_for<L>([&](auto i) {
    if constexpr (i == 0) {
      blas::gemm(false, false, p.scale[0], v[0], x, 0.0, tw.pre_dot[0]);
    } else {
      // (s W post)˙ = s (V post + W post˙)
      blas::gemm(false, false, p.scale[i], v[i], ws.template post_of<i - 1>(), 0.0, tw.pre_dot[i]);
      blas::gemm(false, false, p.scale[i], p.w[i], tw.template post_dot_of<i - 1>(), 1.0, tw.pre_dot[i]);
    }
    if constexpr (!identity_at<Decl, i>)
      pointwise<typename Decl::template activation<i>>::forward_tangent(ws.pre[i], ws.post[i], tw.pre_dot[i],
                                                                        tw.post_dot[i]);
  });
  blas::gemm(false, false, p.scale[L], v[L], ws.template post_of<L - 1>(), 0.0, tw.out_dot);
  blas::gemm(false, false, p.scale[L], p.w[L], tw.template post_dot_of<L - 1>(), 1.0, tw.out_dot);
}

/// Reverse tangent: hv[i] = d(∇_{W^i} ℒ)[W + εV]/dε, given forward(), reverse() with no_sink,
/// forward_tangent() and tw.adj_out_dot (the loss's adjoint tangent).
template <class Decl>
void reverse_tangent(const parameters<Decl::hidden_layers>& p, const std::array<matrix, Decl::hidden_layers + 1>& v,
                     const matrix& x, const workspace<Decl>& ws, tangent_workspace<Decl>& tw,
                     std::array<matrix, Decl::hidden_layers + 1>& hv) {
  constexpr std::size_t L = Decl::hidden_layers;
  // (s Wᵀ Ḡ)˙ = s (Vᵀ Ḡ + Wᵀ Ḡ˙);  (s Ḡ postᵀ)˙ = s (Ḡ˙ postᵀ + Ḡ post˙ᵀ)
  blas::gemm(true, false, p.scale[L], v[L], ws.adj_out, 0.0, tw.adj_post_dot[L - 1]);
  blas::gemm(true, false, p.scale[L], p.w[L], tw.adj_out_dot, 1.0, tw.adj_post_dot[L - 1]);
  blas::gemm(false, true, p.scale[L], tw.adj_out_dot, ws.template post_of<L - 1>(), 0.0, hv[L]);
  blas::gemm(false, true, p.scale[L], ws.adj_out, tw.template post_dot_of<L - 1>(), 1.0, hv[L]);
  static_for_reverse<L>([&](auto i) {
    if constexpr (!identity_at<Decl, i>)
      pointwise<typename Decl::template activation<i>>::reverse_tangent(
          ws.pre[i], ws.post[i], tw.pre_dot[i], ws.adj_post[i], tw.adj_post_dot[i], tw.adj_pre_dot[i]);
    const matrix& delta = ws.template adj_pre_of<i>();
    const matrix& delta_dot = tw.template adj_pre_dot_of<i>();
    if constexpr (i > 0) {
      blas::gemm(true, false, p.scale[i], v[i], delta, 0.0, tw.adj_post_dot[i - 1]);
      blas::gemm(true, false, p.scale[i], p.w[i], delta_dot, 1.0, tw.adj_post_dot[i - 1]);
      blas::gemm(false, true, p.scale[i], delta_dot, ws.template post_of<i - 1>(), 0.0, hv[i]);
      blas::gemm(false, true, p.scale[i], delta, tw.template post_dot_of<i - 1>(), 1.0, hv[i]);
    } else {
      blas::gemm(false, true, p.scale[0], delta_dot, x, 0.0, hv[0]);
    }
  });
}

}  // namespace specdyn::ad
