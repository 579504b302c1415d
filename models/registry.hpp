// The registry of built-in architectures: name, declaration, and the commands instantiated for
// it. Each model's commands are compiled in their own translation unit (generated from
// models/instance.cpp.in), so adding a model is one header plus one name in models/CMakeLists.txt.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "specdyn/run/compare.hpp"
#include "specdyn/dmft/printer.hpp"
#include "specdyn/run/experiment.hpp"

namespace specdyn::models {

struct model_entry {
  std::string name;
  std::string declaration;
  std::size_t hidden_layers;
  std::function<run_result(const run_config&)> train;
  std::function<run::theory_result(const run_config&, const run::theory_options&)> theory;
  std::function<run::compare_result(const run_config&, const run::theory_options&, const run::compare_options&)> compare;
  std::function<std::string(const std::string& rule, double gamma0, std::optional<std::size_t> width)> equations;
};

const std::vector<model_entry>& registry();

/// The entry for `name`, or usage_error listing the known names.
inline const model_entry& find_model(const std::string& name) {
  std::string known;
  for (const auto& e : registry()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  throw usage_error("--model = " + name + ": unknown model; built-in models are " + known + " (see specdyn list)");
}

}  // namespace specdyn::models
