// Exact compile-time rationals for scaling exponents (a, b, c are multiples of 1/2 in every
// named rule, and the stability verdict compares sums of them for equality, so doubles won't do).
//   constexpr rational half{1, 2};
//   static_assert(half + half == rational{1});
#pragma once

#include <cstdint>
#include <numeric>
#include <string>

namespace specdyn::dsl {

struct rational {
  std::int64_t num = 0;
  std::int64_t den = 1;

  constexpr rational() = default;
  constexpr rational(std::int64_t n, std::int64_t d = 1) : num(n), den(d) { normalise(); }

  constexpr void normalise() {
    if (den < 0) { num = -num; den = -den; }
    const std::int64_t g = std::gcd(num < 0 ? -num : num, den);
    if (g > 1) { num /= g; den /= g; }
  }
  [[nodiscard]] constexpr double value() const { return double(num) / double(den); }

  friend constexpr rational operator+(rational x, rational y) { return {x.num * y.den + y.num * x.den, x.den * y.den}; }
  friend constexpr rational operator-(rational x, rational y) { return {x.num * y.den - y.num * x.den, x.den * y.den}; }
  friend constexpr rational operator-(rational x) { return {-x.num, x.den}; }
  friend constexpr rational operator*(rational x, rational y) { return {x.num * y.num, x.den * y.den}; }
  friend constexpr bool operator==(rational x, rational y) { return x.num * y.den == y.num * x.den; }
  friend constexpr auto operator<=>(rational x, rational y) { return x.num * y.den <=> y.num * x.den; }

  [[nodiscard]] std::string str() const {
    return den == 1 ? std::to_string(num) : std::to_string(num) + "/" + std::to_string(den);
  }
};

constexpr rational min(rational x, rational y) { return x < y ? x : y; }

}  // namespace specdyn::dsl
