#include "nn/layers.h"

#include "nn/batch_norm.h"
#include "nn/depthwise_conv.h"
#include "nn/native_kernels.h"
#include "nn/one_thread_conv.h"
#include "nn/pool_kernels.h"
#include "nn/shared_relu.h"

#include <ATen/ATen.h>

#include <cmath>

namespace autospeech::nn {

// PyTorch's default weight init, kaiming_uniform_(a = sqrt(5)), with the bound computed in the
// same double-precision steps as torch.nn.init so a shared seed gives the same draws.
static at::Tensor kaimingUniformInit(at::IntArrayRef shape, int64_t fanIn) {
  const double a = std::sqrt(5.0);
  const double gain = std::sqrt(2.0 / (1 + a * a));
  const double bound = std::sqrt(3.0) * (gain / std::sqrt(static_cast<double>(fanIn)));
  return at::empty(shape, at::kFloat).uniform_(-bound, bound);
}

// PyTorch's default bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
static at::Tensor biasInit(at::IntArrayRef shape, int64_t fanIn) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fanIn));
  return at::empty(shape, at::kFloat).uniform_(-bound, bound);
}

Conv2d::Conv2d(const Conv2dOptions& o) : o_(o) {
  TORCH_CHECK(o.in > 0 && o.out > 0, "Conv2d: channels must be positive (in=", o.in, ", out=", o.out, ")");
  TORCH_CHECK(o.groups > 0 && o.in % o.groups == 0 && o.out % o.groups == 0, "Conv2d: channels not divisible by groups");
  int64_t fanIn = (o.in / o.groups) * o.kernel[0] * o.kernel[1];
  weight_ = &registerParameter("weight", kaimingUniformInit({o.out, o.in / o.groups, o.kernel[0], o.kernel[1]}, fanIn));
  if (o.bias) bias_ = &registerParameter("bias", biasInit({o.out}, fanIn));
}

at::Tensor Conv2d::forward(const at::Tensor& x) {
  if (!bias_ && o_.groups > 1) {
    at::Tensor y = depthwiseConvNative(x, *weight_, o_);
    if (y.defined()) return y;
  }
  return conv2dAvoidingOneThreadFallback(x, *weight_, bias_ ? *bias_ : at::Tensor(), o_.stride, o_.padding, o_.dilation, o_.groups);
}

BatchNorm2d::BatchNorm2d(int64_t channels, bool affine) {
  TORCH_CHECK(channels > 0, "BatchNorm2d: channels must be positive");
  if (affine) {
    weight_ = &registerParameter("weight", at::ones({channels}, at::kFloat));
    bias_ = &registerParameter("bias", at::zeros({channels}, at::kFloat));
  }
  runningMean_ = &registerBuffer("running_mean", at::zeros({channels}, at::kFloat));
  runningVar_ = &registerBuffer("running_var", at::ones({channels}, at::kFloat));
  numBatchesTracked_ = &registerBuffer("num_batches_tracked", at::zeros({}, at::kLong));
}

at::Tensor BatchNorm2d::forward(const at::Tensor& x) {
  bool training = isTraining();
  if (training) {
    at::NoGradGuard noGrad;
    numBatchesTracked_->add_(1);
  }
  if (training) {
    if (auto sync = activeSyncBatchNorm())
      return sync(x, weight_ ? *weight_ : at::Tensor(), bias_ ? *bias_ : at::Tensor(), *runningMean_, *runningVar_, 0.1, 1e-5);
    at::Tensor y = batchNormTrainNative(x, weight_ ? *weight_ : at::Tensor(), bias_ ? *bias_ : at::Tensor(), *runningMean_,
                                        *runningVar_, 0.1, 1e-5);
    if (y.defined()) return y;
  }
  return at::batch_norm(x, weight_ ? *weight_ : at::Tensor(), bias_ ? *bias_ : at::Tensor(), *runningMean_,
                        *runningVar_, training, 0.1, 1e-5, /*cudnn_enabled=*/true);
}

Linear::Linear(int64_t in, int64_t out) {
  TORCH_CHECK(in > 0 && out > 0, "Linear: sizes must be positive (in=", in, ", out=", out, ")");
  weight_ = &registerParameter("weight", kaimingUniformInit({out, in}, in));
  bias_ = &registerParameter("bias", biasInit({out}, in));
}

at::Tensor Linear::forward(const at::Tensor& x) { return at::linear(x, *weight_, *bias_); }

at::Tensor ReLU::forward(const at::Tensor& x) { return sharedRelu(x); }

PReLU::PReLU(int64_t channels, double init) {
  TORCH_CHECK(channels > 0, "PReLU: channels must be positive");
  weight_ = &registerParameter("weight", at::full({channels}, init, at::kFloat));
}

at::Tensor PReLU::forward(const at::Tensor& x) { return at::prelu(x, *weight_); }

// The native kernels give ATen's values faster: without autograd (eval, the search's unselected
// ops) the forward alone; with it, a forward that keeps one-byte argmax taps and an exact backward.
at::Tensor MaxPool2d::forward(const at::Tensor& x) {
  if (at::GradMode::is_enabled() && x.requires_grad())
    return nativeKernelsEnabled() ? maxPool2dTrain(x, k_, s_, p_) : at::max_pool2d(x, {k_, k_}, {s_, s_}, {p_, p_});
  return maxPool2dNoGrad(x, k_, s_, p_);
}

at::Tensor AvgPool2d::forward(const at::Tensor& x) {
  if (at::GradMode::is_enabled() && x.requires_grad())
    return at::avg_pool2d(x, {k_, k_}, {s_, s_}, {p_, p_}, /*ceil_mode=*/false, countIncludePad_);
  return avgPool2dNoGrad(x, k_, s_, p_, countIncludePad_);
}

Sequential::Sequential(std::vector<LayerPtr> layers) {
  for (auto& layer : layers) push(std::move(layer));
}

void Sequential::push(LayerPtr layer) {
  registerModule(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

at::Tensor Conv2d::forwardRectified(const at::Tensor& x) {
  if (bias_ || o_.groups == 1) return {};
  return depthwiseConvNative(x, *weight_, o_, /*reluInput=*/true);
}

// A ReLU followed by a depthwise convolution (sep_conv, dil_conv) runs as one fused native op when
// the kernels apply: the same values, one memory pass and one autograd node fewer.
at::Tensor Sequential::forward(const at::Tensor& x) {
  at::Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (i + 1 < layers_.size() && dynamic_cast<ReLU*>(layers_[i].get())) {
      if (auto* conv = dynamic_cast<Conv2d*>(layers_[i + 1].get())) {
        at::Tensor y = conv->forwardRectified(h);
        if (y.defined()) {
          h = y;
          ++i;
          continue;
        }
      }
    }
    h = layers_[i]->forward(h);
  }
  return h;
}

}  // namespace autospeech::nn
