// sugar's DynamicSERes2DilatedTDNNBlock and its parts:
//  * Res2 (scale 8): split the mid channels into 8 chunks x_0..x_7 of w = mid/8; y_0 = f_0(x_0),
//    y_j = f_j(x_j + y_{j-1}) for j = 1..6, output cat(y_0..y_6, x_7): the pass-through chunk is
//    the LAST one. f_j = conv (k, dilation) -> ReLU -> BN, each on the first w channels.
//  * SE: x * sigmoid(expand(relu(reduce(mean_t x)))), hidden width c0 // 4 (first-k), with biases.
//  * block: first_conv (1x1, c0 -> mid) -> Res2 -> last_conv (1x1, mid -> c0) -> SE, NO internal
//    residual (the supernet adds the dense one outside).
// Subnet selection: the mid channels are picked PER Res2 GROUP, the first mid/8 of each of the 8
// groups of the full width (mid_indices), on first_conv's outputs (and its BN) and last_conv's
// inputs; everything else is first-k.
#pragma once
#include <memory>
#include <vector>

#include "models/tdnn/conv_relu_bn.h"
#include "models/tdnn/dynamic_linear.h"

namespace autospeech::models::tdnn {

class Res2ConvReLUBN : public nn::Module {
 public:
  static constexpr int64_t kScale = 8;
  Res2ConvReLUBN(int64_t channels, int64_t kernel, int64_t dilation, bool standalone);
  void configure(int64_t width, int64_t kernel);
  at::Tensor forward(const at::Tensor& x);
  void copyInto(Res2ConvReLUBN& dst, bool bumpCounters);

 private:
  int64_t activeWidth_;
  std::vector<std::shared_ptr<DynamicConv1d>> convs_;
  std::vector<std::shared_ptr<DynamicBatchNorm1d>> bns_;
};

class SELayer : public nn::Module {
 public:
  static constexpr int64_t kReduction = 4;
  SELayer(int64_t channels, bool standalone);
  void configure(int64_t channels);
  at::Tensor forward(const at::Tensor& x) const;
  void copyInto(SELayer& dst) const;

 private:
  std::shared_ptr<DynamicLinear> reduce_, expand_;
};

class SERes2Block : public nn::Module {
 public:
  SERes2Block(int64_t channels, int64_t mid, int64_t kernel, int64_t dilation, bool standalone);
  void configure(int64_t channels, int64_t mid, int64_t kernel);
  at::Tensor forward(const at::Tensor& x);
  void copyInto(SERes2Block& dst, bool bumpCounters);

  // The first_conv output / last_conv input of mid width `mid` in a block of full width `fullMid`.
  static at::Tensor midIndices(int64_t fullMid, int64_t mid);

 private:
  int64_t mid_;
  std::shared_ptr<ConvReLUBN> firstConv_, lastConv_;
  std::shared_ptr<Res2ConvReLUBN> resconv_;
  std::shared_ptr<SELayer> se_;
};

}  // namespace autospeech::models::tdnn
