#include "models/tdnn/dynamic_linear.h"

#include <ATen/ATen.h>

#include <cmath>

#include "binding/guard.h"

namespace autospeech::models::tdnn {

DynamicLinear::DynamicLinear(int64_t in, int64_t out, bool standalone)
    : in_(in), out_(out), inSel_(Select::first(in)), outSel_(Select::first(out)) {
  TensorHolder* h = holder(!standalone, "linear");
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));  // PyTorch's default Linear init
  weight_ = &param(h, "weight", at::empty({out, in}).uniform_(-bound, bound));
  bias_ = &param(h, "bias", at::empty({out}).uniform_(-bound, bound));
}

void DynamicLinear::configure(const Select& in, const Select& out) {
  if (in.count < 1 || in.count > in_ || out.count < 1 || out.count > out_)
    throw ArgumentError("tdnn: linear (" + std::to_string(in_) + " -> " + std::to_string(out_) + ") cannot run " +
                        std::to_string(in.count) + " -> " + std::to_string(out.count));
  inSel_ = in;
  outSel_ = out;
}

at::Tensor DynamicLinear::selectedWeight() const {
  if (inSel_.count == in_ && outSel_.count == out_) return *weight_;
  return outSel_.apply(inSel_.apply(*weight_, 1), 0);
}

at::Tensor DynamicLinear::selectedBias() const { return outSel_.count == out_ ? *bias_ : outSel_.apply(*bias_, 0); }

at::Tensor DynamicLinear::forward(const at::Tensor& x) const { return at::linear(x, selectedWeight(), selectedBias()); }

void DynamicLinear::copyInto(DynamicLinear& dst) const {
  at::NoGradGuard noGrad;
  at::Tensor w = selectedWeight(), b = selectedBias();
  TORCH_CHECK(dst.weight_->sizes() == w.sizes(), "tdnn clone: linear weight ", w.sizes(), " into ", dst.weight_->sizes());
  dst.weight_->copy_(w);
  dst.bias_->copy_(b);
}

}  // namespace autospeech::models::tdnn
