// Activation functions: one struct each, read by both the trainer and the theory.
// Every activation gives φ, φ', φ'' as scalar functions; the built-in ones also give fused xtensor
// expressions (phi_expr, dphi_expr with access to φ(h) so tanh reuses it) and, where they exist,
// the closed-form Gaussian kernels E[φ(u)φ(v)] and E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[q1, c], [c, q2]]).
// Expression forms (optional; the engine falls back to a scalar loop over phi/dphi/d2phi):
//   phi_expr(h), dphi_expr(h, phi), d2phi_expr(h, phi), with h the pre-activation and phi = φ(h).
// A user activation needs only name, phi, dphi, d2phi:
//   struct cube { static constexpr std::string_view name = "cube";
//     static double phi(double x) { return x*x*x; } static double dphi(double x) { return 3*x*x; }
//     static double d2phi(double x) { return 6*x; } };
//   auto layer = specdyn::dsl::dense | cube{};
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string_view>
#include <type_traits>

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

namespace specdyn::dsl {

template <class A>
concept activation = requires(double x) {
  { A::name } -> std::convertible_to<std::string_view>;
  { A::phi(x) } -> std::convertible_to<double>;
  { A::dphi(x) } -> std::convertible_to<double>;
  { A::d2phi(x) } -> std::convertible_to<double>;
};

/// Activations with closed-form Gaussian kernels (docs/conventions.md §7).
template <class A>
concept gaussian_kernel_activation = activation<A> && requires(double q) {
  { A::gauss_phi_phi(q, q, q) } -> std::convertible_to<double>;
  { A::gauss_dphi_dphi(q, q, q) } -> std::convertible_to<double>;
};

struct linear_t {
  static constexpr std::string_view name = "linear";
  static constexpr bool is_identity = true;
  static double phi(double x) { return x; }
  static double dphi(double) { return 1.0; }
  static double d2phi(double) { return 0.0; }
  static double gauss_phi_phi(double, double, double c) { return c; }
  static double gauss_dphi_dphi(double, double, double) { return 1.0; }
};

struct relu_t {
  static constexpr std::string_view name = "relu";
  static double phi(double x) { return x > 0 ? x : 0.0; }
  static double dphi(double x) { return x > 0 ? 1.0 : 0.0; }
  static double d2phi(double) { return 0.0; }
  template <class H> static auto phi_expr(const H& h) { return xt::maximum(h, 0.0); }
  template <class H, class F> static auto dphi_expr(const H& h, const F&) { return xt::where(h > 0.0, 1.0, 0.0); }
  template <class H, class F> static auto d2phi_expr(const H& h, const F&) { return 0.0 * h; }
  /// Cho & Saul arc-cosine kernels of degree 1 and 0.
  static double gauss_phi_phi(double q1, double q2, double c) {
    const double s = std::sqrt(q1 * q2), theta = std::acos(std::clamp(c / s, -1.0, 1.0));
    return s * (std::sin(theta) + (std::numbers::pi - theta) * std::cos(theta)) / (2 * std::numbers::pi);
  }
  static double gauss_dphi_dphi(double q1, double q2, double c) {
    const double theta = std::acos(std::clamp(c / std::sqrt(q1 * q2), -1.0, 1.0));
    return (std::numbers::pi - theta) / (2 * std::numbers::pi);
  }
};

struct tanh_t {
  static constexpr std::string_view name = "tanh";
  static double phi(double x) { return std::tanh(x); }
  static double dphi(double x) { const double t = std::tanh(x); return 1 - t * t; }
  static double d2phi(double x) { const double t = std::tanh(x); return -2 * t * (1 - t * t); }
  template <class H> static auto phi_expr(const H& h) { return xt::tanh(h); }
  // φ' = 1 − φ², φ'' = −2φ(1 − φ²): both from the stored φ(h), no second tanh.
  template <class H, class F> static auto dphi_expr(const H&, const F& phi) { return 1.0 - phi * phi; }
  template <class H, class F> static auto d2phi_expr(const H&, const F& phi) { return -2.0 * phi * (1.0 - phi * phi); }
};

struct erf_t {
  static constexpr std::string_view name = "erf";
  static double phi(double x) { return std::erf(x); }
  static double dphi(double x) { return 2 / std::sqrt(std::numbers::pi) * std::exp(-x * x); }
  static double d2phi(double x) { return -2 * x * dphi(x); }
  template <class H> static auto phi_expr(const H& h) { return xt::erf(h); }
  template <class H, class F> static auto dphi_expr(const H& h, const F&) {
    return (2 / std::sqrt(std::numbers::pi)) * xt::exp(-h * h);
  }
  template <class H, class F> static auto d2phi_expr(const H& h, const F&) {
    return (-4 / std::sqrt(std::numbers::pi)) * h * xt::exp(-h * h);
  }
  /// Williams (1997).
  static double gauss_phi_phi(double q1, double q2, double c) {
    return 2 / std::numbers::pi * std::asin(2 * c / std::sqrt((1 + 2 * q1) * (1 + 2 * q2)));
  }
  static double gauss_dphi_dphi(double q1, double q2, double c) {
    return 4 / std::numbers::pi / std::sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * c * c);
  }
};

struct softplus_t {
  static constexpr std::string_view name = "softplus";
  static double phi(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }
  static double dphi(double x) { return 1 / (1 + std::exp(-x)); }
  static double d2phi(double x) { const double s = dphi(x); return s * (1 - s); }
  template <class H> static auto phi_expr(const H& h) {
    return xt::maximum(h, 0.0) + xt::log1p(xt::exp(-xt::abs(h)));
  }
  template <class H, class F> static auto dphi_expr(const H& h, const F&) { return 1.0 / (1.0 + xt::exp(-h)); }
  template <class H, class F> static auto d2phi_expr(const H& h, const F&) {
    return 1.0 / (1.0 + xt::exp(-h)) * (1.0 - 1.0 / (1.0 + xt::exp(-h)));
  }
};

inline constexpr linear_t linear{};
inline constexpr relu_t relu{};
inline constexpr tanh_t tanh{};
inline constexpr erf_t erf{};
inline constexpr softplus_t softplus{};

template <class A>
inline constexpr bool is_identity_activation = requires { requires A::is_identity; };

}  // namespace specdyn::dsl
