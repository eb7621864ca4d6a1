// sugar's DynamicAttentiveStatsPool: alpha = softmax_t(linear2(tanh(linear1(x)))) per channel,
// mu = sum_t alpha x, sigma = sqrt(clamp(sum_t alpha x^2 - mu^2, 1e-9)), output [mu, sigma].
// linear1/linear2 are bias-free 1x1 convs through a bottleneck fixed at 128; no global context.
#pragma once
#include <memory>

#include "models/tdnn/dynamic_conv1d.h"

namespace autospeech::models::tdnn {

class AttentiveStatsPool : public nn::Module {
 public:
  static constexpr int64_t kBottleneck = 128;
  AttentiveStatsPool(int64_t channels, bool standalone);
  void configure(int64_t channels);
  at::Tensor forward(const at::Tensor& x) const;
  void copyInto(AttentiveStatsPool& dst) const;

 private:
  std::shared_ptr<DynamicConv1d> linear1_, linear2_;
};

}  // namespace autospeech::models::tdnn
