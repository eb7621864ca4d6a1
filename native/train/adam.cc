#include "train/adam.h"

#include <ATen/ATen.h>

#include <cmath>

#include "train/fused_adam.h"

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
    const at::Tensor& grad = p.grad();
    ParamState& s = state_[i];
    if (s.step == 0) {
      s.expAvg = at::zeros_like(p, at::MemoryFormat::Preserve);
      s.expAvgSq = at::zeros_like(p, at::MemoryFormat::Preserve);
    }
    s.step += 1;
    const double biasCorrection1 = 1 - std::pow(o.beta1, static_cast<double>(s.step));
    const double biasCorrection2 = 1 - std::pow(o.beta2, static_cast<double>(s.step));
    const double stepSize = o.lr / biasCorrection1;
    const AdamScalars scalars{o.beta1, o.beta2, o.eps, o.weightDecay, std::sqrt(biasCorrection2), stepSize};
    adamUpdate(p, grad, s.expAvg, s.expAvgSq, scalars);
  }
}

}  // namespace autospeech::train
