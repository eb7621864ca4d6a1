#include "models/resnet.h"

#include <ATen/ATen.h>

#include <cmath>

#include "binding/guard.h"

namespace autospeech::models {

static std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  auto c = std::make_shared<nn::Conv2d>(nn::Conv2dOptions{in, out, nn::pair(k), nn::pair(stride), nn::pair(pad)});
  // kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = sqrt(2 / (out * k * k))
  at::NoGradGuard noGrad;
  c->weight().normal_(0.0, std::sqrt(2.0) / std::sqrt(static_cast<double>(out * k * k)));
  return c;
}

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, bool downsample) {
  conv1_ = registerModule("conv1", conv(inplanes, planes, 3, stride, 1));
  bn1_ = registerModule("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  registerModule("relu", std::make_shared<nn::ReLU>());
  conv2_ = registerModule("conv2", conv(planes, planes, 3, 1, 1));
  bn2_ = registerModule("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  if (downsample)
    downsample_ = registerModule("downsample", std::make_shared<nn::Sequential>(std::vector<nn::LayerPtr>{
        conv(inplanes, planes, 1, stride, 0), std::make_shared<nn::BatchNorm2d>(planes)}));
}

at::Tensor BasicBlock::forward(const at::Tensor& x) {
  at::Tensor out = at::relu(bn1_->forward(conv1_->forward(x)));
  out = bn2_->forward(conv2_->forward(out));
  at::Tensor identity = downsample_ ? downsample_->forward(x) : x;
  return at::relu(out + identity);
}

ResNet::ResNet(int64_t depth, int64_t numClasses) {
  std::vector<int64_t> blocks;
  if (depth == 18) blocks = {2, 2, 2, 2};
  else if (depth == 34) blocks = {3, 4, 6, 3};
  else throw ArgumentError("resnet: depth must be 18 or 34, got " + std::to_string(depth));
  if (numClasses < 1) throw ArgumentError("resnet: NUM_CLASSES must be >= 1, got " + std::to_string(numClasses));
  conv1_ = registerModule("conv1", conv(1, 64, 7, 2, 2));
  bn1_ = registerModule("bn1", std::make_shared<nn::BatchNorm2d>(64));
  registerModule("relu", std::make_shared<nn::ReLU>());
  registerModule("maxpool", std::make_shared<nn::MaxPool2d>(3, 2, 1));
  int64_t inplanes = 64;
  const int64_t widths[4] = {64, 128, 256, 512};
  for (int l = 0; l < 4; ++l) {
    auto seq = std::make_shared<nn::Sequential>();
    int64_t stride = l == 0 ? 1 : 2;
    for (int64_t b = 0; b < blocks[l]; ++b) {
      bool first = b == 0;
      seq->push(std::make_shared<BasicBlock>(inplanes, widths[l], first ? stride : 1,
                                             first && (stride != 1 || inplanes != widths[l])));
      inplanes = widths[l];
    }
    layers_.push_back(registerModule("layer" + std::to_string(l + 1), seq));
  }
  classifier_ = registerModule("classifier", std::make_shared<nn::Linear>(512, numClasses));
  at::NoGradGuard noGrad;
  classifier_->weight().normal_(0.0, 0.01);
  classifier_->bias().zero_();
}

at::Tensor ResNet::embed(const at::Tensor& input, Trace* trace) {
  at::Tensor x = at::relu(bn1_->forward(conv1_->forward(input.unsqueeze(1))));
  x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  for (size_t i = 0; i < layers_.size(); ++i) {
    x = layers_[i]->forward(x);
    if (trace) trace->emplace_back("layer" + std::to_string(i + 1), x);
  }
  at::Tensor v = at::adaptive_avg_pool2d(x, {1, 1});
  return v.reshape({v.size(0), -1});
}

}  // namespace autospeech::models
