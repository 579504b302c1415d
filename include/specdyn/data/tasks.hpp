// Synthetic tasks: Gaussian inputs x ~ N(0, I_D) (or with a power-law covariance spectrum
// λ_k ∝ k^{−a}, mean 1) with a single-index teacher y = φ*(β·x/√D) (φ* ∈ linear, tanh, relu, he2),
// a linear teacher with C outputs and label noise, or random ±1 labels; held-out points for
// teacher tasks. The teacher directions are kept (for overlaps with
// the top singular vectors). Data from .npy files lives in io/npy.hpp.
//   auto data = specdyn::make_task({.kind = task_kind::single_index, .teacher = "tanh"}, D, C, P, P_test, seed);
#pragma once

#include "specdyn/core.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "specdyn/errors.hpp"
#include "specdyn/data/rng.hpp"
#include "specdyn/data/dataset.hpp"

namespace specdyn {

enum class task_kind { single_index, linear_teacher, random_labels };

struct task_spec {
  task_kind kind = task_kind::single_index;
  std::string teacher = "tanh";  // single-index link φ*: linear, tanh, relu, he2
  double label_noise = 0.0;      // std of Gaussian noise added to teacher labels
  double covariance_decay = 0.0; // input covariance eigenvalues λ_k ∝ k^{−decay} (mean 1); 0: isotropic
};

/// The input covariance's eigenvalues (diagonal in the coordinate basis), normalised to mean 1.
SPECDYN_CORE_FN std::vector<double> covariance_spectrum(std::size_t d, double decay)
#if SPECDYN_CORE_BODIES
{
  std::vector<double> lam(d, 1.0);
  if (decay == 0) return lam;
  double mean = 0;
  for (std::size_t k = 0; k < d; ++k) mean += (lam[k] = std::pow(double(k + 1), -decay)) / double(d);
  for (auto& l : lam) l /= mean;
  return lam;
}
#else
;
#endif

struct task_data : dataset {
  matrix teacher;  // [C, D] rows: teacher directions with |row|² = D (empty for random labels)
};

SPECDYN_CORE_FN double teacher_link(const std::string& name, double z)
#if SPECDYN_CORE_BODIES
{
  if (name == "linear") return z;
  if (name == "tanh") return std::tanh(z);
  if (name == "relu") return z > 0 ? z : 0.0;
  if (name == "he2") return (z * z - 1) / std::sqrt(2.0);
  throw usage_error("teacher = " + name + ": use linear, tanh, relu or he2");
}
#else
;
#endif

SPECDYN_CORE_FN void fill_gaussian(matrix& m, rng& gen)
#if SPECDYN_CORE_BODIES
{
  for (auto& v : m) v = gen.normal();
}
#else
;
#endif

/// Inputs x [D, P] ~ N(0, I), labels by the task; test points drawn from the same law.
SPECDYN_CORE_FN task_data make_task(const task_spec& spec, std::size_t d, std::size_t c, std::size_t p, std::size_t p_test,
                                    std::uint64_t seed)
#if SPECDYN_CORE_BODIES
{
  require(p >= 1, "samples", p, "use at least one training sample");
  require(spec.label_noise >= 0 && std::isfinite(spec.label_noise), "label noise", spec.label_noise,
          "use a non-negative number");
  require(spec.covariance_decay >= 0 && spec.covariance_decay <= 10, "--covariance-decay", spec.covariance_decay,
          "use 0 (isotropic inputs) to 10");
  const auto lam = covariance_spectrum(d, spec.covariance_decay);
  auto shape_inputs = [&](matrix& x) {  // x = Λ^{1/2} z
    if (spec.covariance_decay == 0) return;
    for (std::size_t i = 0; i < x.shape(0); ++i)
      for (std::size_t mu = 0; mu < x.shape(1); ++mu) x(i, mu) *= std::sqrt(lam[i]);
  };
  if (spec.kind == task_kind::single_index) teacher_link(spec.teacher, 0.0);  // validates the name
  task_data data;
  rng gen(seed, rng::stream::data), gen_test(seed, rng::stream::test_data), gen_teacher(seed, rng::stream::teacher);
  data.x = matrix({d, p});
  fill_gaussian(data.x, gen);
  shape_inputs(data.x);
  const bool has_teacher = spec.kind != task_kind::random_labels;
  if (has_teacher) {
    const std::size_t rows = spec.kind == task_kind::single_index ? 1 : c;
    data.teacher = matrix({rows, d});
    fill_gaussian(data.teacher, gen_teacher);
    for (std::size_t r = 0; r < rows; ++r) {  // normalise each direction to |β|² = D
      double n2 = 0;
      for (std::size_t i = 0; i < d; ++i) n2 += data.teacher(r, i) * data.teacher(r, i);
      const double f = std::sqrt(double(d) / n2);
      for (std::size_t i = 0; i < d; ++i) data.teacher(r, i) *= f;
    }
    if (p_test > 0) {
      data.x_test = matrix({d, p_test});
      fill_gaussian(data.x_test, gen_test);
      shape_inputs(data.x_test);
    }
  }
  auto label = [&](const matrix& x, matrix& y, rng& noise) {
    y = matrix({c, x.shape(1)});
    for (std::size_t mu = 0; mu < x.shape(1); ++mu)
      for (std::size_t a = 0; a < c; ++a) {
        if (!has_teacher) { y(a, mu) = noise.uniform() < 0.5 ? -1.0 : 1.0; continue; }
        const std::size_t r = spec.kind == task_kind::single_index ? 0 : a;
        double z = 0;
        for (std::size_t i = 0; i < d; ++i) z += data.teacher(r, i) * x(i, mu);
        z /= std::sqrt(double(d));
        y(a, mu) = (spec.kind == task_kind::single_index ? teacher_link(spec.teacher, z) : z) +
                   spec.label_noise * noise.normal();
      }
  };
  label(data.x, data.y, gen);
  if (data.has_test()) label(data.x_test, data.y_test, gen_test);
  return data;
}
#else
;
#endif

}  // namespace specdyn
