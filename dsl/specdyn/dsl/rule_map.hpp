// Scaling rules at run time: a rule chosen by name on the command line (its abc table and
// verdict), and how a rule reaches the infinite-width theory. Every stable rule is mapped onto the
// μP form (docs/conventions.md) with an effective richness γ0_eff = γ0 N^{ρ−1} (ρ = a_{L+1} +
// b_{L+1}) and per-weight learning-rate multipliers κ_i = N^{e_i} relative to μP:
//   e_input = 1 − 2ρ − c − 2a_1,  e_hidden = 2 − 2ρ − c − 2a_h,  e_readout = 1 − c − 2a_{L+1}
// (μP, MF and TP4-μP: γ0_eff = γ0, κ = 1; NTK: γ0_eff = γ0/√N, κ = 1; SP at c = 1: κ_input = 1/N).
// At N = ∞ an exponent > 0 means no stable limit, < 0 a frozen weight; γ0_eff → 0 is the lazy
// (kernel) limit. The finite-width trainer and the theory both read rules from here.
//   auto rule = specdyn::rule_from_name("ntk", 2);
//   auto eff = specdyn::map_rule(rule, 2, /*gamma0=*/1.0, /*width=*/1024);   // γ0_eff = 1/32
#pragma once

#include "specdyn/core.hpp"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "specdyn/dsl/scaling.hpp"
#include "specdyn/errors.hpp"

namespace specdyn {

/// A scaling rule as runtime data (the exponents are also available at compile time on the rule type).
struct rule_info {
  std::string name;
  dsl::exponents table;
  dsl::verdict verdict;
};

/// A named rule (mup, mup_tp4, mf, ntk, sp, sp_lr) with its verdict for `hidden_layers` layers.
SPECDYN_CORE_FN rule_info rule_from_name(const std::string& name, std::size_t hidden_layers)
#if SPECDYN_CORE_BODIES
{
  using namespace dsl;
  const exponents t = name == "mup" || name == "mf" ? rules::mup_table
                      : name == "mup_tp4"          ? rules::mup_tp4_table
                      : name == "ntk"              ? rules::ntk_table
                      : name == "sp"               ? rules::sp_table
                      : name == "sp_lr"            ? rules::sp_lr_table
                      : name == "depth_mup"        ? rules::depth_mup_table
                                                   : throw usage_error("--param = " + name + ": use mup, mup_tp4, ntk, mf, sp, sp_lr or depth_mup");
  return {name, t, classify(t, hidden_layers)};
}
#else
;
#endif

/// An exponent from the command line: an integer, a fraction p/q, or a decimal with at most 6
/// digits after the point ("1/2", "0.5", "1"). usage_error naming `flag` otherwise.
SPECDYN_CORE_FN dsl::rational parse_exponent(const std::string& text, const std::string& flag)
#if SPECDYN_CORE_BODIES
{
  auto bad = [&]() -> dsl::rational {
    throw usage_error(flag + " = " + text + ": use a number such as 0, 1/2, 0.5 or 1 (a fraction p/q or a decimal), between -4 and 4");
  };
  if (text.empty() || text.size() > 24) return bad();
  std::int64_t num = 0, den = 1;
  std::size_t i = 0;
  const bool neg = text[0] == '-';
  if (neg) ++i;
  auto digits = [&](std::int64_t& v, std::int64_t* scale) {
    const std::size_t start = i;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      v = v * 10 + (text[i] - '0');
      if (scale) *scale *= 10;
    }
    return i > start;
  };
  if (!digits(num, nullptr)) return bad();
  if (i < text.size() && text[i] == '/') {
    ++i;
    den = 0;
    if (!digits(den, nullptr) || den == 0) return bad();
  } else if (i < text.size() && text[i] == '.') {
    ++i;
    std::int64_t frac = 0, scale = 1;
    if (!digits(frac, &scale) || scale > 1000000) return bad();
    num = num * scale + frac;
    den = scale;
  }
  if (i != text.size()) return bad();
  const dsl::rational r{neg ? -num : num, den};
  if (r < dsl::rational{-4} || r > dsl::rational{4}) return bad();
  return r;
}
#else
;
#endif

/// How a scaling rule (at a width, or at N = ∞) enters the theory.
struct effective_rule {
  double gamma0_eff = 1.0;          // richness of the equivalent μP network (0: lazy limit)
  std::vector<double> kappa;        // learning-rate multiplier per weight matrix i = 0..L
  bool lazy = false;                // γ0_eff = 0: static kernels, kernel regression
  std::string description;          // for records and messages
};

/// Maps a rule onto the μP form. width: nullopt for N = ∞. Throws usage_error for rules without a
/// stable limit (e.g. SP at a width-independent learning rate).
SPECDYN_CORE_FN effective_rule map_rule(const rule_info& rule, std::size_t hidden_layers, double gamma0, std::optional<std::size_t> width)
#if SPECDYN_CORE_BODIES
{
  const auto& e = rule.table;
  if (rule.verdict == dsl::verdict::unstable)
    throw usage_error("--param = " + rule.name + ": this rule is unstable as N → ∞ (TP4 verdict), so it has no infinite-width theory; use mup, mf or ntk, or sp_lr");
  const dsl::rational rho = e.a_readout + e.b_readout;
  const dsl::rational one{1}, two{2};
  const dsl::rational g_exp = rho - one;
  std::vector<dsl::rational> ex(hidden_layers + 1);
  for (std::size_t i = 0; i <= hidden_layers; ++i) {
    if (i == 0) ex[i] = one - two * rho - e.c - two * e.a_input;
    else if (i == hidden_layers) ex[i] = one - e.c - two * e.a_readout;
    else ex[i] = two - two * rho - e.c - two * e.a_hidden;
  }
  effective_rule r;
  const double n = width ? double(*width) : INFINITY;
  for (auto x : ex) {
    if (x > dsl::rational{0})
      throw usage_error("--param = " + rule.name + ": a learning-rate exponent is positive (N^" + x.str() +
                        "), so the infinite-width limit does not exist");
    r.kappa.push_back(x == dsl::rational{0} ? 1.0 : (width ? std::pow(n, x.value()) : 0.0));
  }
  if (g_exp > dsl::rational{0}) throw usage_error("--param = " + rule.name + ": γ0_eff grows with N; no stable limit");
  r.gamma0_eff = g_exp == dsl::rational{0} ? gamma0 : (width ? gamma0 * std::pow(n, g_exp.value()) : 0.0);
  r.lazy = r.gamma0_eff == 0.0;
  r.description = "γ0_eff = γ0·N^(" + g_exp.str() + ")" + (width ? " at N = " + std::to_string(*width) : " at N = ∞");
  return r;
}
#else
;
#endif

}  // namespace specdyn
