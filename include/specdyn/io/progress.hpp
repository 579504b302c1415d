// A one-line progress bar with loss and ETA on stderr, shown only when stderr is a terminal and
// the run is not quiet; it redraws at most ten times a second.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include <unistd.h>

namespace specdyn::io {

class progress {
 public:
  progress(std::string label, std::size_t total, bool quiet)
      : label_(std::move(label)), total_(total), enabled_(!quiet && ::isatty(2)), start_(clock::now()), last_(start_) {}
  ~progress() { finish(); }

  void update(std::size_t done, double loss) {
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
  clock::time_point start_, last_;
};

}  // namespace specdyn::io
