// Verdicts of the scaling rules (docs/conventions.md §2; TP4 Theorems 3.3–3.4) and the exact rationals
// they rest on. Every check here is also a static_assert-able constant expression.
#include <catch2/catch.hpp>

#include "specdyn/dsl.hpp"

using namespace specdyn::dsl;
namespace dsl = specdyn::dsl;

static_assert(rational{1, 2} + rational{1, 2} == rational{1});
static_assert(rational{-2, 4} == rational{1, -2});
static_assert(classify(mup_t::table, 2) == verdict::feature_learning, "μP must be feature learning at compile time");

TEST_CASE("named rules get TP4's verdicts at every depth", "[dsl][scaling]") {
  for (std::size_t depth : {1u, 2u, 3u, 5u}) {
    INFO("hidden layers " << depth);
    CHECK(classify(rules::mup_table, depth) == verdict::feature_learning);
    CHECK(classify(rules::mup_tp4_table, depth) == verdict::feature_learning);
    CHECK(mean_field_t::verdict_for<3> == verdict::feature_learning);
    CHECK(classify(rules::ntk_table, depth) == verdict::kernel);
    CHECK(classify(rules::sp_table, depth) == verdict::unstable);
    CHECK(classify(rules::sp_lr_table, depth) == verdict::kernel);
  }
}

TEST_CASE("r exponents match the checks of docs/conventions.md §2", "[dsl][scaling]") {
  CHECK(r_exponent(rules::mup_table, 3) == rational{0});
  CHECK(r_exponent(rules::ntk_table, 3) == rational{1, 2});
  CHECK(r_exponent(rules::sp_table, 3) == rational{-1});
  CHECK(r_exponent(rules::sp_lr_table, 3) == rational{1, 2});
}

TEST_CASE("the abc symmetry preserves r and the verdict", "[dsl][scaling]") {
  // (a, b, c) → (a + θ, b − θ, c − 2θ) for every layer leaves training unchanged.
  for (const exponents& e : {rules::mup_table, rules::ntk_table, rules::sp_table, rules::sp_lr_table}) {
    for (const rational theta : {rational{-1, 2}, rational{1, 2}, rational{1}}) {
      const exponents s{e.a_input + theta, e.a_hidden + theta, e.a_readout + theta,
                        e.b_input - theta, e.b_hidden - theta, e.b_readout - theta, e.c - rational{2} * theta};
      CHECK(r_exponent(s, 3) == r_exponent(e, 3));
      CHECK(classify(s, 3) == classify(e, 3));
    }
  }
  // θ = −1/2 maps the §1.1 form of μP onto TP4's table.
  const rational t{-1, 2};
  const exponents e = rules::mup_table;
  CHECK(exponents{e.a_input + t, e.a_hidden + t, e.a_readout + t, e.b_input - t, e.b_hidden - t, e.b_readout - t,
                  e.c - rational{2} * t, e.a_bias + t, e.b_bias - t} == rules::mup_tp4_table);
}

TEST_CASE("a user rule with too large a learning rate is unstable, a too small one trivial", "[dsl][scaling]") {
  exponents fast = rules::mup_table;
  fast.c = rational{-2};  // learning rate η γ0² N²
  CHECK(classify(fast, 2) == verdict::unstable);
  exponents slow = rules::mup_table;
  slow.c = rational{0};  // learning rate η γ0²: features and output both freeze
  CHECK(classify(slow, 2) == verdict::trivial);
  using custom = scaling_rule<"my_rule", exponents{.a_input = 0, .a_hidden = rational{1, 2}, .a_readout = 1, .c = -1}>;
  static_assert(custom::name == "my_rule");
  CHECK(custom::verdict_for<2> == verdict::feature_learning);
}

TEST_CASE("declarations expose depth and activations", "[dsl]") {
  constexpr auto net = network(input, dense | dsl::tanh, dense | relu, dense | linear, readout);
  using N = decltype(net);
  static_assert(N::hidden_layers == 3);
  static_assert(std::is_same_v<N::activation<1>, relu_t>);
  CHECK(N::describe() == "input → dense|tanh → dense|relu → dense|linear → readout");
}
