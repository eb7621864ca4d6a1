// ResNet-18/34 baselines (reference models/resnet.py, torchvision BasicBlock) with the 1-channel
// 7x7 conv1 (stride 2, padding 2), no fc layers, 512-d pooled embedding and a linear classifier.
// Init as the reference: conv kaiming-normal (fan_out, relu), BN 1/0, Linear N(0, 0.01) and bias 0.
// (The reference then overwrites most weights with ImageNet ones downloaded at run time; that
// cannot be reproduced offline, see README.)
//
// The binary-weight variant (bnn.md §3.2) is the same module tree with chosen groups of convs built
// as nn::BinaryConv2d (latent weights under the same state_dict keys, the same init draws): 'blocks'
// (the 3x3 convs of layer1-4), 'shortcuts' (the 1x1 downsample convs), 'stem' (conv1). Named
// options for both: widthMult scales every width (stem, blocks, embedding = 512 widthMult), and
// activation 'prelu' replaces each ReLU module by nn.PReLU(C) (init 0.25) under the same name, so a
// block's one PReLU serves both of its activations as its `relu` module would.
#pragma once
#include "models/speaker_model.h"
#include "nn/binary_conv.h"
#include "nn/layers.h"

namespace autospeech::models {

struct ResNetOptions {
  int64_t depth = 18;
  int64_t numClasses = 1251;
  int64_t baseWidth = 64;  // 64 x widthMult: the stem's and layer1's channels
  bool prelu = false;
  bool binaryStem = false, binaryBlocks = false, binaryShortcuts = false;
  nn::BinaryConvOptions binary;
};

class BasicBlock : public nn::Layer {
 public:
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, bool downsample, const ResNetOptions& o, const std::string& path);
  at::Tensor forward(const at::Tensor& x) override;

 private:
  at::Tensor act(const at::Tensor& x);
  nn::LayerPtr conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<nn::PReLU> prelu_;
  std::shared_ptr<nn::Sequential> downsample_;
};

class ResNet : public SpeakerModel {
 public:
  explicit ResNet(const ResNetOptions& o);
  ResNet(int64_t depth, int64_t numClasses) : ResNet(ResNetOptions{depth, numClasses}) {}
  at::Tensor embed(const at::Tensor& input, Trace* trace = nullptr) override;
  at::Tensor classify(const at::Tensor& embedding) override { return classifier_->forward(embedding); }
  std::string kind() const override { return "resnet"; }

 private:
  nn::LayerPtr conv1_;
  std::shared_ptr<nn::BatchNorm2d> bn1_;
  std::shared_ptr<nn::PReLU> prelu_;
  std::vector<std::shared_ptr<nn::Sequential>> layers_;
  std::shared_ptr<nn::Linear> classifier_;
};

}  // namespace autospeech::models
