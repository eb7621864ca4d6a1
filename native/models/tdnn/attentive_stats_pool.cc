#include "models/tdnn/attentive_stats_pool.h"

#include <ATen/ATen.h>

namespace autospeech::models::tdnn {

AttentiveStatsPool::AttentiveStatsPool(int64_t channels, bool standalone) {
  linear1_ = registerModule("linear1", std::make_shared<DynamicConv1d>(channels, kBottleneck, 1, 1, standalone));
  linear2_ = registerModule("linear2", std::make_shared<DynamicConv1d>(kBottleneck, channels, 1, 1, standalone));
}

void AttentiveStatsPool::configure(int64_t channels) {
  linear1_->configure(Select::first(channels), Select::first(kBottleneck));
  linear2_->configure(Select::first(kBottleneck), Select::first(channels));
}

at::Tensor AttentiveStatsPool::forward(const at::Tensor& x) const {
  at::Tensor alpha = at::softmax(linear2_->forward(at::tanh(linear1_->forward(x))), 2);
  at::Tensor mean = at::sum(alpha * x, {2});
  at::Tensor residuals = at::sum(alpha * at::pow(x, 2), {2}) - at::pow(mean, 2);
  at::Tensor stdev = at::sqrt(residuals.clamp_min(1e-9));
  return at::cat({mean, stdev}, 1);
}

void AttentiveStatsPool::copyInto(AttentiveStatsPool& dst) const {
  linear1_->copyInto(*dst.linear1_);
  linear2_->copyInto(*dst.linear2_);
}

}  // namespace autospeech::models::tdnn
