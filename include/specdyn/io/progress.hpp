// A one-line progress bar with loss and ETA on stderr, shown only when stderr is a terminal and
// the run is not quiet; it redraws at most ten times a second.
// For programs driving specdyn (the Python module): with SPECDYN_PROGRESS_FD=k in the environment
// every bar also writes "label<TAB>done<TAB>total<TAB>loss\n" to file descriptor k, quiet or not,
// at most ten times a second and always at the last step.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace specdyn::io {

class progress {
 public:
  progress(std::string label, std::size_t total, bool quiet)
      : label_(std::move(label)), total_(total), enabled_(!quiet && ::isatty(2)), start_(clock::now()), last_(start_) {
    if (const char* fd = std::getenv("SPECDYN_PROGRESS_FD")) {
      char* end = nullptr;
      const long v = std::strtol(fd, &end, 10);
      if (end != fd && *end == '\0' && v >= 0) fd_ = int(v);
    }
  }
  ~progress() { finish(); }

  void update(std::size_t done, double loss) {
    if (fd_ >= 0) {
      const auto now = clock::now();
      if (done >= total_ || now - last_fd_ >= std::chrono::milliseconds(100)) {
        last_fd_ = now;
        char line[512];
        const int n = std::snprintf(line, sizeof line, "%s\t%zu\t%zu\t%.17g\n", label_.c_str(), done, total_, loss);
        if (n > 0 && ::write(fd_, line, std::size_t(std::min(n, int(sizeof line) - 1))) < 0) fd_ = -1;  // reader gone: stop
      }
    }
    if (!enabled_) return;
    const auto now = clock::now();
    if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double frac = total_ ? double(done) / double(total_) : 1.0;
    const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
    const int width = 30, filled = int(frac * width);
    std::fprintf(stderr, "\r%s [%s%s] %3d%% step %zu/%zu loss %.3e ETA %.0fs   ", label_.c_str(),
                 std::string(std::size_t(filled), '#').c_str(), std::string(std::size_t(width - filled), '.').c_str(),
                 int(frac * 100), done, total_, loss, eta);
    drawn_ = true;
  }
  void finish() {
    if (enabled_ && drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  using clock = std::chrono::steady_clock;
  std::string label_;
  std::size_t total_;
  bool enabled_, drawn_ = false;
  clock::time_point start_, last_, last_fd_{};
  int fd_ = -1;
};

}  // namespace specdyn::io
