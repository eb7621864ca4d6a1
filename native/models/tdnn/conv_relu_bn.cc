#include "models/tdnn/conv_relu_bn.h"

#include <ATen/ATen.h>

namespace autospeech::models::tdnn {

ConvReLUBN::ConvReLUBN(int64_t in, int64_t out, int64_t kernel, int64_t dilation, bool standalone) {
  conv_ = registerModule("conv", std::make_shared<DynamicConv1d>(in, out, kernel, dilation, standalone));
  bn_ = registerModule("bn", std::make_shared<DynamicBatchNorm1d>(out, !standalone));
}

void ConvReLUBN::configure(const Select& in, const Select& out, int64_t kernel) {
  conv_->configure(in, out, kernel);
  bn_->configure(out);
}

at::Tensor ConvReLUBN::forward(const at::Tensor& x) { return bn_->forward(at::relu(conv_->forward(x))); }

void ConvReLUBN::copyInto(ConvReLUBN& dst, bool bumpCounters) {
  conv_->copyInto(*dst.conv_);
  bn_->copyInto(*dst.bn_, bumpCounters);
}

}  // namespace autospeech::models::tdnn
