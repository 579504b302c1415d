// The registry of built-in architectures: name, declaration, and the commands instantiated for
// it. Each model's commands are compiled in their own translation unit (generated from
// models/instance.cpp.in), so adding a model is one header plus one name in models/CMakeLists.txt.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "specdyn/run/compare.hpp"
#include "specdyn/run/coord_check.hpp"
#include "specdyn/dmft/printer.hpp"
#include "specdyn/run/outliers.hpp"
#include "specdyn/run/experiment.hpp"

namespace specdyn::models {

struct model_entry {
  std::string name;
  std::string declaration;
  std::size_t hidden_layers;
  std::function<run_result(const run_config&)> train;
  std::function<run::theory_result(const run_config&, const run::theory_options&)> theory;
  std::function<run::compare_result(const run_config&, const run::theory_options&, const run::compare_options&)> compare;
  std::function<std::string(const run_config& cfg, std::optional<std::size_t> width)> equations;
  std::function<run::outliers_result(const run_config&, const run::theory_options&, const run::outliers_options&)> outliers;
  bool depth_generic = false;  // repeat<any_depth>: --depth / --depths apply
  std::function<double(const run_config&)> memory;  // estimate_train_bytes at the config's sizes
  std::function<run::coord_result(const run_config&, const run::coord_options&)> coord_check;
};

const std::vector<model_entry>& registry();

/// Where the plotting scripts live (specdyn's source tree, or the installed package's share/).
/// Defined with the registry, in the executable's own generated registry.cpp, so that the command
/// line compiled once into the `specdyn::cli` library serves every install prefix.
const char* scripts_dir();

/// `specdyn outliers` for models with a hidden N×N weight; a usage error for the others.
template <class Decl>
run::outliers_result outliers_for(Decl decl, const run_config& c, const run::theory_options& t, const run::outliers_options& o) {
  if constexpr (Decl::hidden_layers >= 2) return run::run_outliers(decl, c, t, o);
  else throw usage_error("--model = " + c.model + ": it has no hidden N×N weight (one dense layer); use a model with two or more dense layers");
}

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
