// Elementwise nodes: an activation applied to a whole pre-activation matrix, with its reverse
// and tangent rules. Each rule is one fused xtensor expression evaluated with xt::noalias (SIMD
// through xsimd); activations without expression forms fall back to a plain loop over the scalar
// φ, φ', φ'' of the same struct.
#pragma once

#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

#include "specdyn/dsl/activations.hpp"

namespace specdyn::ad {

using matrix = xt::xtensor<double, 2>;

template <class A>
concept has_expressions = requires(const matrix& m) {
  A::phi_expr(m);
  A::dphi_expr(m, m);
  A::d2phi_expr(m, m);
};

template <class Act>
struct pointwise {
  // post = φ(pre)
  static void forward(const matrix& pre, matrix& post) {
    if constexpr (has_expressions<Act>) {
      xt::noalias(post) = Act::phi_expr(pre);
    } else {
      for (std::size_t i = 0; i < pre.size(); ++i) post.data()[i] = Act::phi(pre.data()[i]);
    }
  }
  // d φ(h)/dh: adj_pre = adj_post ⊙ φ'(pre)
  static void reverse(const matrix& pre, const matrix& post, const matrix& adj_post, matrix& adj_pre) {
    if constexpr (has_expressions<Act>) {
      xt::noalias(adj_pre) = adj_post * Act::dphi_expr(pre, post);
    } else {
      for (std::size_t i = 0; i < pre.size(); ++i) adj_pre.data()[i] = adj_post.data()[i] * Act::dphi(pre.data()[i]);
    }
  }
  // tangent of the forward: post_dot = φ'(pre) ⊙ pre_dot
  static void forward_tangent(const matrix& pre, const matrix& post, const matrix& pre_dot, matrix& post_dot) {
    reverse(pre, post, pre_dot, post_dot);
  }
  // tangent of the reverse: adj_pre_dot = adj_post_dot ⊙ φ'(pre) + adj_post ⊙ φ''(pre) ⊙ pre_dot
  static void reverse_tangent(const matrix& pre, const matrix& post, const matrix& pre_dot, const matrix& adj_post,
                              const matrix& adj_post_dot, matrix& adj_pre_dot) {
    if constexpr (has_expressions<Act>) {
      xt::noalias(adj_pre_dot) =
          adj_post_dot * Act::dphi_expr(pre, post) + adj_post * Act::d2phi_expr(pre, post) * pre_dot;
    } else {
      for (std::size_t i = 0; i < pre.size(); ++i) {
        const double h = pre.data()[i];
        adj_pre_dot.data()[i] = adj_post_dot.data()[i] * Act::dphi(h) + adj_post.data()[i] * Act::d2phi(h) * pre_dot.data()[i];
      }
    }
  }
};

}  // namespace specdyn::ad
