// Graceful interruption: while an interrupt_guard lives, SIGINT and SIGTERM only set a flag that
// long loops poll (throw_if_interrupted), so a run can stop at a safe point and write what it has
// computed; the previous handlers come back when the guard is destroyed, also on exceptions.
// Exit codes follow the shell convention, 128 + signal: 130 for SIGINT, 143 for SIGTERM.
//   specdyn::io::interrupt_guard guard;
//   for (...) { specdyn::io::throw_if_interrupted("at step 12"); ... }
#pragma once

#include "specdyn/core.hpp"

#include <atomic>
#include <csignal>
#include <stdexcept>
#include <string>

namespace specdyn {

/// A run stopped by SIGINT or SIGTERM; `signal` is the signal number.
struct interrupted_error : std::runtime_error {
  interrupted_error(int sig, const std::string& where)
      : std::runtime_error(std::string("interrupted by ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + " " + where), signal(sig) {}
  int signal;
};

namespace io {

namespace detail {
inline std::atomic<int> pending_signal{0};
inline void on_signal(int sig) { pending_signal = sig; }
}  // namespace detail

class interrupt_guard {
 public:
  interrupt_guard() {
    detail::pending_signal = 0;
    old_int_ = std::signal(SIGINT, detail::on_signal);
    old_term_ = std::signal(SIGTERM, detail::on_signal);
  }
  ~interrupt_guard() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  interrupt_guard(const interrupt_guard&) = delete;
  interrupt_guard& operator=(const interrupt_guard&) = delete;

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

/// The signal received since the guard was installed (0: none).
inline int pending_interrupt() { return detail::pending_signal.load(); }

SPECDYN_CORE_FN void throw_if_interrupted(const std::string& where)
#if SPECDYN_CORE_BODIES
{
  if (const int sig = pending_interrupt()) throw interrupted_error(sig, where);
}
#else
;
#endif

/// 130 for SIGINT, 143 for SIGTERM.
inline int exit_code_for_signal(int sig) { return 128 + sig; }

}  // namespace io
}  // namespace specdyn
