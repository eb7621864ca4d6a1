#include "models/resnet.h"

#include <ATen/ATen.h>

#include <cmath>

#include "binding/guard.h"

namespace autospeech::models {

// A conv of the network: nn::Conv2d, or nn::BinaryConv2d when its group is binarised. Both draw
// PyTorch's default init and then kaiming_normal_(mode='fan_out', nonlinearity='relu'):
// std = sqrt(2 / (out * k * k)), so a BWN and its fp32 twin of one seed start from the same weights.
static nn::LayerPtr conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, bool binary, const ResNetOptions& o,
                         const std::string& name) {
  nn::Conv2dOptions co{in, out, nn::pair(k), nn::pair(stride), nn::pair(pad)};
  std::shared_ptr<nn::Conv2d> c = binary ? std::make_shared<nn::BinaryConv2d>(co, o.binary, name) : std::make_shared<nn::Conv2d>(co);
  at::NoGradGuard noGrad;
  c->weight().normal_(0.0, std::sqrt(2.0) / std::sqrt(static_cast<double>(out * k * k)));
  return c;
}

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, bool downsample, const ResNetOptions& o, const std::string& path) {
  conv1_ = registerModule("conv1", conv(inplanes, planes, 3, stride, 1, o.binaryBlocks, o, path + ".conv1"));
  bn1_ = registerModule("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  if (o.prelu) prelu_ = registerModule("relu", std::make_shared<nn::PReLU>(planes));
  else registerModule("relu", std::make_shared<nn::ReLU>());
  conv2_ = registerModule("conv2", conv(planes, planes, 3, 1, 1, o.binaryBlocks, o, path + ".conv2"));
  bn2_ = registerModule("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  if (downsample)
    downsample_ = registerModule("downsample", std::make_shared<nn::Sequential>(std::vector<nn::LayerPtr>{
        conv(inplanes, planes, 1, stride, 0, o.binaryShortcuts, o, path + ".downsample.0"), std::make_shared<nn::BatchNorm2d>(planes)}));
}

at::Tensor BasicBlock::act(const at::Tensor& x) { return prelu_ ? prelu_->forward(x) : at::relu(x); }

at::Tensor BasicBlock::forward(const at::Tensor& x) {
  at::Tensor out = act(bn1_->forward(conv1_->forward(x)));
  out = bn2_->forward(conv2_->forward(out));
  at::Tensor identity = downsample_ ? downsample_->forward(x) : x;
  return act(out + identity);
}

ResNet::ResNet(const ResNetOptions& o) {
  std::vector<int64_t> blocks;
  if (o.depth == 18) blocks = {2, 2, 2, 2};
  else if (o.depth == 34) blocks = {3, 4, 6, 3};
  else throw ArgumentError("resnet: depth must be 18 or 34, got " + std::to_string(o.depth));
  if (o.numClasses < 1) throw ArgumentError("resnet: NUM_CLASSES must be >= 1, got " + std::to_string(o.numClasses));
  if (o.baseWidth < 1) throw ArgumentError("resnet: the base width (64 x WIDTH_MULT) must be >= 1, got " + std::to_string(o.baseWidth));
  const int64_t base = o.baseWidth;
  conv1_ = registerModule("conv1", conv(1, base, 7, 2, 2, o.binaryStem, o, "conv1"));
  bn1_ = registerModule("bn1", std::make_shared<nn::BatchNorm2d>(base));
  if (o.prelu) prelu_ = registerModule("relu", std::make_shared<nn::PReLU>(base));
  else registerModule("relu", std::make_shared<nn::ReLU>());
  registerModule("maxpool", std::make_shared<nn::MaxPool2d>(3, 2, 1));
  int64_t inplanes = base;
  const int64_t widths[4] = {base, 2 * base, 4 * base, 8 * base};
  for (int l = 0; l < 4; ++l) {
    auto seq = std::make_shared<nn::Sequential>();
    int64_t stride = l == 0 ? 1 : 2;
    const std::string name = "layer" + std::to_string(l + 1);
    for (int64_t b = 0; b < blocks[l]; ++b) {
      bool first = b == 0;
      seq->push(std::make_shared<BasicBlock>(inplanes, widths[l], first ? stride : 1, first && (stride != 1 || inplanes != widths[l]), o,
                                             name + "." + std::to_string(b)));
      inplanes = widths[l];
    }
    layers_.push_back(registerModule(name, seq));
  }
  classifier_ = registerModule("classifier", std::make_shared<nn::Linear>(8 * base, o.numClasses));
  at::NoGradGuard noGrad;
  classifier_->weight().normal_(0.0, 0.01);
  classifier_->bias().zero_();
}

at::Tensor ResNet::embed(const at::Tensor& input, Trace* trace) {
  at::Tensor x = bn1_->forward(conv1_->forward(input.unsqueeze(1)));
  x = prelu_ ? prelu_->forward(x) : at::relu(x);
  x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  for (size_t i = 0; i < layers_.size(); ++i) {
    x = layers_[i]->forward(x);
    if (trace) trace->emplace_back("layer" + std::to_string(i + 1), x);
  }
  at::Tensor v = at::adaptive_avg_pool2d(x, {1, 1});
  return v.reshape({v.size(0), -1});
}

}  // namespace autospeech::models
