// The torch.nn layers the reference uses, as functional ATen with PyTorch's default init.
#pragma once
#include <array>
#include <optional>

#include "nn/module.h"

namespace autospeech::nn {

using Pair = std::array<int64_t, 2>;
inline Pair pair(int64_t v) { return {v, v}; }

struct Conv2dOptions {
  int64_t in, out;
  Pair kernel;
  Pair stride = {1, 1};
  Pair padding = {0, 0};
  Pair dilation = {1, 1};
  int64_t groups = 1;
  bool bias = false;
};

// nn.Conv2d; weight init kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)) as in PyTorch.
class Conv2d : public Layer {
 public:
  explicit Conv2d(const Conv2dOptions& options);
  at::Tensor forward(const at::Tensor& x) override;
  // forward(relu(x)) as one fused native op, or undefined where that does not apply.
  at::Tensor forwardRectified(const at::Tensor& x);
  at::Tensor& weight() { return *weight_; }
  const Conv2dOptions& options() const { return o_; }

 private:
  Conv2dOptions o_;
  at::Tensor* weight_;
  at::Tensor* bias_ = nullptr;
};

// nn.BatchNorm2d(C, affine): eps 1e-5, momentum 0.1, tracks running stats and num_batches_tracked.
class BatchNorm2d : public Layer {
 public:
  BatchNorm2d(int64_t channels, bool affine = true);
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor& weight() { return *weight_; }
  at::Tensor& bias() { return *bias_; }

 private:
  at::Tensor* weight_ = nullptr;
  at::Tensor* bias_ = nullptr;
  at::Tensor* runningMean_;
  at::Tensor* runningVar_;
  at::Tensor* numBatchesTracked_;
};

class Linear : public Layer {
 public:
  Linear(int64_t in, int64_t out);
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor& weight() { return *weight_; }
  at::Tensor& bias() { return *bias_; }

 private:
  at::Tensor* weight_;
  at::Tensor* bias_;
};

class ReLU : public Layer {
 public:
  at::Tensor forward(const at::Tensor& x) override;
};

// nn.PReLU(num_parameters = channels, init = 0.25): one slope per channel of (N, C, ...) input.
class PReLU : public Layer {
 public:
  explicit PReLU(int64_t channels, double init = 0.25);
  at::Tensor forward(const at::Tensor& x) override;

 private:
  at::Tensor* weight_;
};

class MaxPool2d : public Layer {
 public:
  MaxPool2d(int64_t kernel, int64_t stride, int64_t padding) : k_(kernel), s_(stride), p_(padding) {}
  at::Tensor forward(const at::Tensor& x) override;

 private:
  int64_t k_, s_, p_;
};

// nn.AvgPool2d with count_include_pad as given (the reference uses False).
class AvgPool2d : public Layer {
 public:
  AvgPool2d(int64_t kernel, int64_t stride, int64_t padding, bool countIncludePad)
      : k_(kernel), s_(stride), p_(padding), countIncludePad_(countIncludePad) {}
  at::Tensor forward(const at::Tensor& x) override;

 private:
  int64_t k_, s_, p_;
  bool countIncludePad_;
};

// nn.Sequential: children named "0", "1", ... in order.
class Sequential : public Layer {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<LayerPtr> layers);
  void push(LayerPtr layer);
  at::Tensor forward(const at::Tensor& x) override;
  size_t size() const { return layers_.size(); }
  const LayerPtr& at(size_t i) const { return layers_.at(i); }

 private:
  std::vector<LayerPtr> layers_;
};

}  // namespace autospeech::nn
