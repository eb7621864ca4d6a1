#include "nn/shared_relu.h"

#include <ATen/ATen.h>

#include "nn/native_kernels.h"

namespace autospeech::nn {
namespace {
thread_local SharedReluScope* active = nullptr;
}

SharedReluScope::SharedReluScope() : outer_(active) { active = this; }
SharedReluScope::~SharedReluScope() { active = outer_; }

at::Tensor sharedRelu(const at::Tensor& x) {
  SharedReluScope* scope = active;
  if (!scope || !nativeKernelsEnabled()) return at::relu(x);
  const uint32_t version = x._version();
  for (const auto& e : scope->entries_)
    if (e.input.unsafeGetTensorImpl() == x.unsafeGetTensorImpl() && e.version == version) return e.output;
  at::Tensor y = at::relu(x);
  scope->entries_.push_back({x, y, version});
  return y;
}

}  // namespace autospeech::nn
