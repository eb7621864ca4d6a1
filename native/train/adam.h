// Adam exactly as torch.optim.Adam of the reference's torch 1.5 (and 1.13's single-tensor path):
// L2 weight decay added to the gradient (not AdamW), bias corrections from the step count in
// double precision, zero_grad() zeroes gradients in place (they stay defined, so a parameter that
// once had a gradient keeps being stepped, as in torch 1.5).
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace autospeech::train {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weightDecay = 0.0;
};

class Adam {
 public:
  Adam(std::vector<at::Tensor> params, AdamOptions options);

  void zeroGrad();
  void step();
  void setLr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }
  const AdamOptions& options() const { return options_; }
  const std::vector<at::Tensor>& params() const { return params_; }

  // State per parameter i: step count and the two moment tensors (undefined before its first step).
  struct ParamState {
    int64_t step = 0;
    at::Tensor expAvg, expAvgSq;
  };
  std::vector<ParamState>& state() { return state_; }

 private:
  std::vector<at::Tensor> params_;
  std::vector<ParamState> state_;
  AdamOptions options_;
};

}  // namespace autospeech::train
