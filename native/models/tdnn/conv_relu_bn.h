// sugar's DynamicConv1dReLUBN: conv, then ReLU, then BatchNorm (the activation comes BEFORE the
// norm), as layer1 and the blocks' first/last 1x1 convs use it.
#pragma once
#include <memory>

#include "models/tdnn/dynamic_batch_norm.h"
#include "models/tdnn/dynamic_conv1d.h"

namespace autospeech::models::tdnn {

class ConvReLUBN : public nn::Module {
 public:
  ConvReLUBN(int64_t in, int64_t out, int64_t kernel, int64_t dilation, bool standalone);
  // The BN takes the conv's output selection.
  void configure(const Select& in, const Select& out, int64_t kernel = 0);
  at::Tensor forward(const at::Tensor& x);
  void copyInto(ConvReLUBN& dst, bool bumpCounters);

  DynamicConv1d& conv() { return *conv_; }

 private:
  std::shared_ptr<DynamicConv1d> conv_;
  std::shared_ptr<DynamicBatchNorm1d> bn_;
};

}  // namespace autospeech::models::tdnn
