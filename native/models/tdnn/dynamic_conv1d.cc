#include "models/tdnn/dynamic_conv1d.h"

#include <ATen/ATen.h>

#include <cmath>

#include "binding/guard.h"

namespace autospeech::models::tdnn {

DynamicConv1d::DynamicConv1d(int64_t in, int64_t out, int64_t kernel, int64_t dilation, bool standalone)
    : in_(in), out_(out), kernel_(kernel), dilation_(dilation), activeKernel_(kernel) {
  if (kernel < 1 || kernel % 2 == 0 || kernel > 7)
    throw ArgumentError("tdnn: kernel sizes must be 1, 3, 5 or 7, got " + std::to_string(kernel));
  // Registration order is the reference's: k75, k53, k31 (own parameters), then conv.weight.
  if (!standalone) {
    if (kernel > 5) k75_ = &registerParameter("k75", at::eye(5));
    if (kernel > 3) k53_ = &registerParameter("k53", at::eye(3));
    if (kernel > 1) k31_ = &registerParameter("k31", at::eye(1));
  }
  TensorHolder* h = holder(!standalone, "conv");
  // PyTorch's default init: kaiming_uniform(a = sqrt(5)) = U(+-1/sqrt(fan_in)).
  const double bound = 1.0 / std::sqrt(static_cast<double>(in * kernel));
  weight_ = &param(h, "weight", at::empty({out, in, kernel}).uniform_(-bound, bound));
  inSel_ = Select::first(in);
  outSel_ = Select::first(out);
}

void DynamicConv1d::configure(const Select& in, const Select& out, int64_t kernel) {
  if (kernel == 0) kernel = kernel_;
  if (in.count < 1 || in.count > in_ || out.count < 1 || out.count > out_ || kernel < 1 || kernel > kernel_ || kernel % 2 == 0)
    throw ArgumentError("tdnn: conv (" + std::to_string(in_) + " -> " + std::to_string(out_) + ", kernel " + std::to_string(kernel_) +
                        ") cannot run " + std::to_string(in.count) + " -> " + std::to_string(out.count) + " at kernel " + std::to_string(kernel));
  if (kernel < kernel_ && !k31_) throw ArgumentError("tdnn: a standalone conv has no kernel transforms (kernel " + std::to_string(kernel) + ")");
  inSel_ = in;
  outSel_ = out;
  activeKernel_ = kernel;
}

bool DynamicConv1d::isFull() const { return activeKernel_ == kernel_ && inSel_.count == in_ && outSel_.count == out_; }

at::Tensor DynamicConv1d::weight() const {
  if (isFull()) return *weight_;
  at::Tensor w = outSel_.apply(inSel_.apply(*weight_, 1), 0);
  auto shrink = [&](const at::Tensor& t, const at::Tensor& k) { return at::matmul(t.narrow(2, 1, t.size(2) - 2), k); };
  if (kernel_ > 5 && activeKernel_ < 7) w = shrink(w, *k75_);
  if (kernel_ > 3 && activeKernel_ < 5) w = shrink(w, *k53_);
  if (kernel_ > 1 && activeKernel_ < 3) w = shrink(w, *k31_);
  return w;
}

at::Tensor DynamicConv1d::forward(const at::Tensor& x) const {
  const int64_t padding = ((activeKernel_ - 1) / 2) * dilation_;
  return at::conv1d(x, weight(), {}, {1}, {padding}, {dilation_});
}

void DynamicConv1d::copyInto(DynamicConv1d& dst) const {
  at::NoGradGuard noGrad;
  at::Tensor w = weight();
  TORCH_CHECK(dst.rawWeight().sizes() == w.sizes(), "tdnn clone: conv weight ", w.sizes(), " into ", dst.rawWeight().sizes());
  dst.rawWeight().copy_(w);
}

}  // namespace autospeech::models::tdnn
