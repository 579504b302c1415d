// Deterministic random numbers: xoshiro256** seeded through splitmix64, with independent streams
// per (seed, purpose) so that, e.g., layer 2's initial weights do not depend on the width of
// layer 1. Normal deviates by the Marsaglia polar method. Same seed, same numbers, on any machine.
//   specdyn::rng gen(seed, specdyn::rng::stream::weights, layer);
//   double z = gen.normal();
#pragma once

#include <cmath>
#include <cstdint>

namespace specdyn {

class rng {
 public:
  enum class stream : std::uint64_t { weights = 1, data = 2, batches = 3, test_data = 4, teacher = 5, lanczos = 6, particles = 7 };

  explicit rng(std::uint64_t seed, stream purpose = stream::weights, std::uint64_t index = 0) {
    std::uint64_t x = seed ^ (0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(purpose) + 1)) ^
                      (0xD1B54A32D192ED03ULL * (index + 1));
    for (auto& s : state_) s = splitmix64(x);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  /// Uniform on [0, 1).
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) { return std::uint64_t(uniform() * double(n)); }
  /// Standard normal.
  double normal() {
    if (has_spare_) { has_spare_ = false; return spare_; }
    double u, v, s;
    do {
      u = 2 * uniform() - 1;
      v = 2 * uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    const double f = std::sqrt(-2 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t state_[4]{};
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace specdyn
