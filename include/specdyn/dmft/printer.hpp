// The equation printer: the DMFT closure of a declared network under a rule, as Markdown with
// LaTeX, one block per layer with that layer's boundary terms (input source, readout source,
// which responses exist), so a user reads the theory of the network they declared.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <tuple>

#include "specdyn/dmft/blocks.hpp"
#include "specdyn/dmft/closure.hpp"

namespace specdyn::dmft {

template <class Decl>
std::string print_equations(const std::string& model_name, const rule_info& rule, const effective_rule& eff) {
  constexpr std::size_t L = Decl::hidden_layers;
  const auto layers = layers_of<Decl>();
  std::ostringstream o;
  o << "# DMFT closure of `" << model_name << "` under `" << rule.name << "`\n\n";
  o << "Declaration: `" << Decl::describe() << "` (L = " << L << " hidden layers).\n\n";
  o << "Rule: a = (" << rule.table.a_input.str() << ", " << rule.table.a_hidden.str() << ", " << rule.table.a_readout.str()
    << "), b = (" << rule.table.b_input.str() << ", " << rule.table.b_hidden.str() << ", " << rule.table.b_readout.str()
    << "), c = " << rule.table.c.str() << "; TP4 verdict: **" << dsl::to_string(rule.verdict) << "**. Mapped onto the μP form: "
    << eff.description << (eff.lazy ? " → the **lazy limit** (static kernels, kernel regression below)." : ".") << "\n\n";
  o << "Learning-rate multipliers relative to μP: ";
  for (std::size_t i = 0; i <= L; ++i) o << "$\\kappa_" << i << " = " << eff.kappa[i] << "$" << (i < L ? ", " : ".\n\n");
  o << "Conventions: $\\mu,\\alpha$ index the P training points, $t,s$ the GD steps, "
       "$\\langle\\cdot\\rangle$ the average over the single-site process of a layer, $\\Delta_\\alpha(s) = y_\\alpha - f_\\alpha(s)$, "
       "$K^x_{\\mu\\alpha} = x_\\mu\\cdot x_\\alpha/D$.\n\n";
  if (eff.lazy) {
    o << "## Lazy limit\n\n$$\\Phi^\\ell = \\mathbb E_{u\\sim\\mathcal N(0,\\sigma^2\\Phi^{\\ell-1})}[\\phi_\\ell(u)\\phi_\\ell(u)^\\top],\\quad "
         "G^\\ell = \\sigma^2\\,\\mathbb E[\\phi_\\ell'(u)\\phi_\\ell'(u)^\\top]\\odot G^{\\ell+1},\\quad G^{L+1}=1,\\quad \\Phi^0 = K^x$$\n\n"
         "$$K = \\sum_{i=0}^{L}\\kappa_i\\, G^{i+1}\\odot\\Phi^{i},\\qquad \\Delta(t+1) = \\Big(I - \\frac{\\eta}{P}K\\Big)\\Delta(t)$$\n";
    return o.str();
  }
  for (const auto& ly : layers) {
    const std::size_t l = ly.index;
    o << "## Layer " << l << ": $h^{" << l << "}$, activation `" << ly.activation << "`"
      << (ly.input ? " (input layer)" : "") << (ly.readout ? " (feeds the readout)" : "") << "\n\n";
    o << "$$h^{" << l << "}_\\mu(t) = u^{" << l << "}_\\mu" << (ly.input ? "" : "(t)");
    if (!ly.input) o << " + \\sum_{s<t}\\sum_\\alpha R^{\\phi," << l - 1 << "}_{\\mu\\alpha}(t,s)\\,g^{" << l << "}_\\alpha(s)";
    o << " + \\frac{\\eta\\gamma_0\\kappa_" << l - 1 << "}{P}\\sum_{s<t}\\sum_\\alpha \\Delta_\\alpha(s)\\,"
      << (ly.input ? "K^x_{\\mu\\alpha}" : "\\Phi^{" + std::to_string(l - 1) + "}_{\\mu\\alpha}(t,s)") << "\\,g^{" << l << "}_\\alpha(s)$$\n\n";
    if (ly.readout) {
      o << "$$z^{" << l << "}(t) = w(t) = r^{" << l << "} + \\frac{\\eta\\gamma_0\\kappa_" << L
        << "}{P}\\sum_{s<t}\\sum_\\alpha \\Delta_\\alpha(s)\\,\\phi(h^{" << l << "}_\\alpha(s)),\\qquad r^{" << l
        << "}\\sim\\mathcal N(0,\\sigma^2)\\ \\text{(one draw per neuron)}$$\n\n";
    } else {
      o << "$$z^{" << l << "}_\\mu(t) = r^{" << l << "}_\\mu(t) + \\sum_{s\\le t}\\sum_\\alpha R^{g," << l + 1
        << "}_{\\mu\\alpha}(t,s)\\,\\phi(h^{" << l << "}_\\alpha(s)) + \\frac{\\eta\\gamma_0\\kappa_" << l
        << "}{P}\\sum_{s<t}\\sum_\\alpha \\Delta_\\alpha(s)\\,G^{" << l + 1 << "}_{\\mu\\alpha}(t,s)\\,\\phi(h^{" << l
        << "}_\\alpha(s))$$\n\n";
    }
    o << "$$g^{" << l << "} = \\phi'(h^{" << l << "})\\,z^{" << l << "},\\quad \\Phi^{" << l << "}_{\\mu\\nu}(t,s) = \\langle\\phi(h^{" << l
      << "}_\\mu(t))\\phi(h^{" << l << "}_\\nu(s))\\rangle,\\quad G^{" << l << "}_{\\mu\\nu}(t,s) = \\langle g^{" << l << "}_\\mu(t)g^{" << l
      << "}_\\nu(s)\\rangle$$\n\n";
    o << "Sources: $u^{" << l << "}\\sim\\mathcal{GP}(0,\\sigma^2 " << (ly.input ? "K^x)$, constant in $t$" : "\\Phi^{" + std::to_string(l - 1) + "})$");
    if (!ly.readout) o << "; $r^{" << l << "}\\sim\\mathcal{GP}(0,\\sigma^2 G^{" << l + 1 << "})$, independent of $u^{" << l << "}$";
    o << ".\n\n";
    if (!ly.readout)
      o << "Response passed up: $R^{\\phi," << l << "}_{\\mu\\alpha}(t,s) = \\sigma^2\\langle\\partial\\phi(h^{" << l
        << "}_\\mu(t))/\\partial r^{" << l << "}_\\alpha(s)\\rangle$ (strictly causal).\n";
    if (!ly.input)
      o << "Response passed down: $R^{g," << l << "}_{\\mu\\alpha}(t,s) = \\sigma^2\\langle\\partial g^{" << l
        << "}_\\mu(t)/\\partial u^{" << l << "}_\\alpha(s)\\rangle$ (causal, including $s = t$).\n";
    o << "\n";
  }
  o << "## Output and kernel\n\n$$f_\\mu(t) = \\gamma_0^{-1}\\langle z^{" << L << "}(t)\\,\\phi(h^{" << L
    << "}_\\mu(t))\\rangle\\ \\text{(exact in }\\eta\\text{; centred: } f(t)-f(0)),\\qquad K(t) = \\sum_{i=0}^{" << L
    << "}\\kappa_i\\,G^{i+1}(t,t)\\odot\\Phi^{i}(t,t),\\ \\Phi^0 = K^x,\\ G^{" << L + 1 << "} = 1$$\n\n";
  o << "With $C$ outputs every backward quantity carries an output index: $z^{\\ell,c}$, $g^{\\ell,c}$, "
       "$G^\\ell_{(c\\mu),(c'\\nu)}$, and the readout source is a $C$-vector.\n";
  return o.str();
}

}  // namespace specdyn::dmft

namespace specdyn::dmft {

/// The closure of a block declaration (dmft/blocks.hpp), one section per block in declaration order;
/// a repeat's body is printed once, for its copy ℓ. Numbers are the rule's coefficients at N = ∞
/// (or at --width): v (source variance), c (coupling), ρ = N_B/N_A, κ (NTK weight), m_L.
namespace detail {
struct print_walk {
  std::ostringstream& o;
  const block_coefficients& co;
  const std::vector<ad::param_info>& info;
  std::size_t param = 0, pop = 0, pops = 0;
  std::optional<std::size_t> target;
  std::string indent;
  std::string stream = "h";  // the value flowing in
  std::size_t values = 0;    // names of intermediate values
  std::string fresh() { return "v_{" + std::to_string(++values) + "}"; }
};

template <class B>
void print_block(print_walk& w);

template <class... Bs>
void print_sequence(print_walk& w) {
  constexpr std::size_t n = sizeof...(Bs);
  using tuple = std::tuple<Bs...>;
  const auto target = w.target;
  w.target.reset();
  std::size_t last = n;
  ad::static_for<n>([&](auto i) {
    if constexpr (dsl::is_dense<std::tuple_element_t<i, tuple>>) last = i;
  });
  ad::static_for<n>([&](auto i) {
    if (i == last && target) w.target = target;
    print_block<std::tuple_element_t<i, tuple>>(w);
    w.target.reset();
  });
}

template <class B>
void print_block(print_walk& w) {
  auto num = [](double v) {
    std::ostringstream s;
    s.precision(4);
    s << v;
    return s.str();
  };
  if constexpr (dsl::is_dense<B>) {
    const auto& pi = w.info[w.param];
    const auto& pc = w.co.params[w.param];
    const bool input = pi.kind == ad::param_kind::input;
    const std::size_t in_pop = w.pop, out_pop = w.target ? *w.target : w.pops++;
    const std::string a = w.stream, chi = w.fresh(), k = pi.name;
    w.o << "### `" << dsl::describe_block<B>() << "` — " << k << ": population " << (input ? "x" : std::to_string(in_pop)) << " → " << out_pop
        << " (width ratio " << num(pc.nu_out) << ")\n\n";
    w.o << "$$" << chi << "(t) = u^{" << k << "}(t)";
    if (!input) w.o << " + \\sum_{s<t} R^{" << k << "}_a(t,s)\\,\\hat g_{" << chi << "}(s)";
    w.o << " + " << num(pc.coef * 1.0) << "\\sum_{s<t}\\big(" << (input ? "K^x" : "\\Phi_{" + a + "}(t,s)") << "\\circ\\Delta(s)\\big)\\hat g_{" << chi
        << "}(s)$$\n\n";
    w.o << "$u^{" << k << "}\\sim\\mathcal{GP}(0,\\," << num(pc.v) << "\\," << (input ? "K^x)$ constant in $t$" : "\\Phi_{" + a + "})$")
        << (input ? "" : ", $R^{" + k + "}_a = " + num(pc.v) + "\\,\\langle\\partial " + a + "(t)/\\partial r^{" + k + "}(s)\\rangle$") << ".";
    if (!input)
      w.o << " Backward: $\\hat g_{" << a << "}(t) \\mathrel{+}= r^{" << k << "}(t) + \\sum_{s\\le t}" << num(pc.rho) << "\\big[R^{" << k
          << "}_\\chi(t,s) + \\mathbb 1_{s<t}\\," << num(pc.coef) << "\\,G_{" << chi << "}(t,s)\\circ\\Delta(s)\\big]\\," << a << "(s)$, $r^{" << k
          << "}\\sim\\mathcal{GP}(0,\\," << num(pc.v * pc.rho) << "\\,G_{" << chi << "})$, $R^{" << k << "}_\\chi = " << num(pc.v * pc.rho)
          << "\\langle\\partial\\hat g_{" << chi << "}(t)/\\partial u^{" << k << "}(s)\\rangle$.";
    w.o << " NTK weight $\\kappa = " << num(pc.kappa) << "$.\n\n";
    ++w.param;
    if constexpr (B::has_bias) {
      const auto& bc = w.co.params[w.param++];
      w.o << "Bias: $" << chi << " \\mathrel{+}= b(t)$, $b(0)\\sim\\mathcal N(0," << num(bc.v) << ")$ per neuron, $b(t+1) = b(t) + " << num(bc.coef)
          << "\\sum_{c,\\alpha}\\Delta^c_\\alpha(t)\\,\\hat g^c_{" << chi << ",\\alpha}(t)$; NTK weight $" << num(bc.kappa) << "$ on $G_{" << chi << "}$.\n\n";
    }
    w.stream = chi;
    if constexpr (B::has_activation && !dsl::is_identity_activation<typename B::activation_type>) {
      const std::string post = w.fresh();
      w.o << "$$" << post << " = \\phi(" << chi << "),\\quad \\hat g_{" << chi << "} = \\phi'(" << chi << ")\\,\\hat g_{" << post << "},\\quad \\phi = \\text{"
          << B::activation_type::name << "}$$\n\n";
      w.stream = post;
    }
    w.pop = out_pop;
  } else if constexpr (dsl::is_activation_block<B>) {
    const std::string in = w.stream, post = w.fresh();
    w.o << "### `" << B::activation_type::name << "`\n\n$$" << post << " = \\phi(" << in << "),\\quad \\hat g_{" << in << "} = \\phi'(" << in
        << ")\\,\\hat g_{" << post << "}$$\n\n";
    w.stream = post;
  } else if constexpr (dsl::is_layernorm<B>) {
    const std::string in = w.stream, y = w.fresh();
    w.o << "### `" << dsl::describe_block<B>() << "` (population " << w.pop << ")\n\n$$\\hat x = \\frac{" << in << " - \\langle " << in
        << "\\rangle}{\\sqrt{\\langle " << in << "^2\\rangle - \\langle " << in << "\\rangle^2 + \\epsilon}},\\quad " << y << " = "
        << (B::has_gain ? "\\gamma\\,\\hat x" : "\\hat x") << ",\\quad \\hat g_{" << in << "} = \\frac{a - \\langle a\\rangle - \\hat x\\langle a\\hat x\\rangle}{s},\\ a = "
        << (B::has_gain ? "\\gamma\\," : "") << "\\hat g_{" << y << "}$$\n\n"
        << "with population averages $\\langle\\cdot\\rangle$ per sample and time (deterministic at N = ∞), $\\epsilon = "
        << ad::layernorm_epsilon << "$.";
    if constexpr (B::has_gain) {
      const auto& gc = w.co.params[w.param++];
      w.o << " Gain: $\\gamma(0) = 1$, $\\gamma(t+1) = \\gamma(t) + " << num(gc.coef) << "\\sum_{c,\\alpha}\\Delta^c_\\alpha(t)\\,\\hat g^c_{" << y
          << ",\\alpha}(t)\\hat x_\\alpha(t)$; NTK weight " << num(gc.kappa) << ".";
    }
    w.o << "\n\n";
    w.stream = y;
  } else if constexpr (dsl::is_residual<B>) {
    const std::string in = w.stream;
    const std::size_t pop = w.pop;
    w.o << "### residual block (stream population " << pop << "): $\\text{out} = " << in << " + m_L\\,\\text{branch}(" << in << ")$, $m_L = "
        << num(w.co.branch) << "$; backward $\\hat g_{" << in << "} = \\hat g_{\\text{out}} + \\text{branch}'(m_L\\,\\hat g_{\\text{out}})$\n\n";
    w.target = pop;
    [&]<class... Body>(dsl::residual_block<Body...>*) { print_sequence<Body...>(w); }(static_cast<B*>(nullptr));
    w.pop = pop;
    const std::string out = w.fresh();
    w.o << "$$" << out << " = " << in << " + " << num(w.co.branch) << "\\," << w.stream << "$$\n\n";
    w.stream = out;
  } else if constexpr (dsl::is_repeat<B>) {
    const std::size_t copies = w.co.depth_copies(B::count);
    w.o << "### " << copies << " copies of (`" << B::describe() << "`), each with its own weights and sources; copy 1:\n\n";
    const std::size_t start = w.param;
    [&]<std::size_t K, class... Body>(dsl::repeat_block<K, Body...>*) { print_sequence<Body...>(w); }(static_cast<B*>(nullptr));
    const std::size_t per = w.param - start;
    w.param = start + per * copies;
    w.o << "(copies 2 … " << copies << " repeat these equations with their own weights; their stream is the previous copy's output)\n\n";
  }
}
}  // namespace detail

template <class Decl>
std::string print_block_equations(const std::string& model_name, const rule_info& rule, const block_coefficients& co,
                                  const std::vector<ad::param_info>& info) {
  std::ostringstream o;
  o << "# DMFT closure of `" << model_name << "` under `" << rule.name << "`\n\n";
  o << "Declaration: `" << Decl::describe() << "`.\n\n";
  const auto& e = rule.table;
  o << "Rule: a = (" << e.a_input.str() << ", " << e.a_hidden.str() << ", " << e.a_readout.str() << "), b = (" << e.b_input.str() << ", "
    << e.b_hidden.str() << ", " << e.b_readout.str() << "), c = " << e.c.str() << ", biases and gains (a, b) = (" << e.a_bias.str() << ", "
    << e.b_bias.str() << "), depth α_L = " << e.alpha_depth.str() << ", c_depth = " << e.c_depth.str() << "; width verdict **"
    << dsl::to_string(rule.verdict) << "**, depth verdict **" << dsl::to_string(dsl::classify_depth(e)) << "**. " << co.description
    << (co.lazy ? " → the **lazy limit**: the kernels at t = 0 of the closure below, then kernel regression "
                  "$f(t+1) = f(t) + \\frac{\\eta}{P}K\\,\\Delta(t)$." : ".") << "\n\n";
  o << "Conventions (docs/blocks-theory.md): one single-site process per population (a width group: a residual stream and the "
       "branch outputs added to it share one); $\\hat g = \\gamma_0 N\\,\\partial f/\\partial(\\cdot)$ in μP units; "
       "$\\Phi_a(t,s) = \\langle a(t)a(s)^\\top\\rangle$, $G_\\chi(t,s) = \\langle\\hat g_\\chi(t)\\hat g_\\chi(s)^\\top\\rangle$; "
       "$\\circ\\Delta(s)$ multiplies column $\\alpha$ by the residual $\\Delta_\\alpha(s)$. Numbers are the coefficients at "
       "this rule, depth and width.\n\n";
  detail::print_walk w{o, co, info};
  [&]<class... Blocks>(dsl::network_decl<Blocks...>*) { detail::print_sequence<Blocks...>(w); }(static_cast<Decl*>(nullptr));
  const auto& ro = co.params.back();
  o << "### readout\n\n$$f(t) = " << co.out_factor << "\\,\\langle \\hat g_w(t)\\," << w.stream << "(t)\\rangle\\ \\text{(centred on }t = 0),\\quad "
    << "\\hat g_w(t+1) = \\hat g_w(t) + " << ro.coef << "\\sum_\\alpha \\Delta_\\alpha(t)\\," << w.stream << "_\\alpha(t),\\quad \\hat g_w(0)\\sim\\mathcal N(0,"
    << ro.v << ")$$\n\nNTK: $K(t) = \\sum_k \\kappa_k\\,G_{\\chi_k}(t,t)\\circ\\Phi_{a_k}(t,t)$ over the dense layers, plus " << ro.kappa
    << "$\\,\\Phi_{" << w.stream << "}$ (readout), biases on $G$, gains on $\\langle(\\hat g\\hat x)(\\hat g\\hat x)\\rangle$.\n";
  return o.str();
}

}  // namespace specdyn::dmft
