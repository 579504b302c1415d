// The library's error types. usage_error: a bad value from the user (the CLI prints its one-line
// message and exits with code 2). divergence_error: NaN/Inf during training, naming the step and
// layer. solver_error: a theory solver that did not converge or met a singular system; it carries
// its residuals in the message.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace specdyn {

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Training blew up. `where` names the first place found: "the loss" or "layer W1 (weights)".
struct divergence_error : std::runtime_error {
  divergence_error(std::size_t step_, std::string where_, const std::string& what)
      : std::runtime_error("diverged at step " + std::to_string(step_) + " in " + where_ + ": " + what),
        step(step_), where(std::move(where_)) {}
  std::size_t step;
  std::string where;
};

struct solver_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Throws usage_error("<what> = <value>: <fix>") unless ok.
template <class V>
void require(bool ok, const std::string& what, const V& value, const std::string& fix) {
  if (!ok) {
    if constexpr (std::is_convertible_v<V, std::string>) throw usage_error(what + " = " + std::string(value) + ": " + fix);
    else throw usage_error(what + " = " + std::to_string(value) + ": " + fix);
  }
}

}  // namespace specdyn
