// The equation printer: the DMFT closure of a declared network under a rule, as Markdown with
// LaTeX, one block per layer with that layer's boundary terms (input source, readout source,
// which responses exist), so a user reads the theory of the network they declared.
#pragma once

#include <sstream>
#include <string>

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
