// expect: specdyn: hessian keeps a reference to the model
#include "specdyn/spectra/hessian.hpp"
#include "mlp3_tanh.hpp"
int main() {
  using namespace specdyn;
  const matrix x = xt::ones<double>({4, 8}), y = xt::ones<double>({1, 8});
  spectra::hessian<std::remove_cvref_t<decltype(models::mlp3_tanh)>> h(
      bind(models::mlp3_tanh, dsl::mup, {.D = 4, .N = 8, .C = 1}, {}), x, y, nullptr, ad::loss_kind::mse);
  return int(h.dim());
}
