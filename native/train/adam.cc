#include "train/adam.h"

#include <ATen/ATen.h>

#include <cmath>

namespace autospeech::train {

Adam::Adam(std::vector<at::Tensor> params, AdamOptions options)
    : params_(std::move(params)), state_(params_.size()), options_(options) {}

void Adam::zeroGrad() {
  for (auto& p : params_) {
    if (p.grad().defined()) {
      p.mutable_grad().detach_();
      p.mutable_grad().zero_();
    }
  }
}

void Adam::step() {
  at::NoGradGuard noGrad;
  const auto& o = options_;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    at::Tensor grad = p.grad();
    ParamState& s = state_[i];
    if (s.step == 0) {
      s.expAvg = at::zeros_like(p, at::MemoryFormat::Preserve);
      s.expAvgSq = at::zeros_like(p, at::MemoryFormat::Preserve);
    }
    s.step += 1;
    if (o.weightDecay != 0) grad = grad.add(p, o.weightDecay);
    s.expAvg.mul_(o.beta1).add_(grad, 1 - o.beta1);
    s.expAvgSq.mul_(o.beta2).addcmul_(grad, grad, 1 - o.beta2);
    const double biasCorrection1 = 1 - std::pow(o.beta1, static_cast<double>(s.step));
    const double biasCorrection2 = 1 - std::pow(o.beta2, static_cast<double>(s.step));
    const double stepSize = o.lr / biasCorrection1;
    at::Tensor denom = (s.expAvgSq.sqrt() / std::sqrt(biasCorrection2)).add_(o.eps);
    p.addcdiv_(s.expAvg, denom, -stepSize);
  }
}

}  // namespace autospeech::train
