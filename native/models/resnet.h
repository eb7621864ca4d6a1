// ResNet-18/34 baselines (reference models/resnet.py, torchvision BasicBlock) with the 1-channel
// 7x7 conv1 (stride 2, padding 2), no fc layers, 512-d pooled embedding and a linear classifier.
// Init as the reference: conv kaiming-normal (fan_out, relu), BN 1/0, Linear N(0, 0.01) and bias 0.
// (The reference then overwrites most weights with ImageNet ones downloaded at run time; that
// cannot be reproduced offline, see README.)
#pragma once
#include "models/speaker_model.h"
#include "nn/layers.h"

namespace autospeech::models {

class BasicBlock : public nn::Layer {
 public:
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, bool downsample);
  at::Tensor forward(const at::Tensor& x) override;

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<nn::Sequential> downsample_;
};

class ResNet : public SpeakerModel {
 public:
  ResNet(int64_t depth, int64_t numClasses);
  at::Tensor embed(const at::Tensor& input, Trace* trace = nullptr) override;
  at::Tensor classify(const at::Tensor& embedding) override { return classifier_->forward(embedding); }
  std::string kind() const override { return "resnet"; }

 private:
  std::shared_ptr<nn::Conv2d> conv1_;
  std::shared_ptr<nn::BatchNorm2d> bn1_;
  std::vector<std::shared_ptr<nn::Sequential>> layers_;
  std::shared_ptr<nn::Linear> classifier_;
};

}  // namespace autospeech::models
