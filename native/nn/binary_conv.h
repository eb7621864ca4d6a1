// Binary-weight convolution (BWN, XNOR-Net's weight binarisation; bnn.md §3.1). The latent real
// weight W is the parameter; every forward (train and eval) convolves with W_b = alpha * s, where
//   s = bin(W), bin(w) = +1 if w >= 0 else -1   (so +0.0 and -0.0 -> +1; never sign(): sign(0) = 0)
//   alpha_o = mean over (C_in, kh, kw) of |W_o|  ('channel'), one mean|W| ('layer'), or 1 ('none').
// The backward is a custom autograd node with the straight-through estimator, for filter o with
// n = C_in kh kw and g = dL/dW_b:
//   dL/dW_j = alpha_o g_j 1{|W_j| <= 1} + d|W_j|/dW_j (1/n) sum_{i in o} g_i s_i
// (the mask is 1 with ste 'identity'; the second term only with alphaGrad; d|w|/dw is PyTorch's abs
// convention: +1, -1, and 0 at 0). The latent weight is never modified by the binariser; an
// optional latentClip clamps it to [-c, c] after each optimiser step (BinaryConnect).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "nn/layers.h"

namespace autospeech::nn {

enum class BinaryScale { Channel, Layer, None };
enum class BinarySte { Clip, Identity };

struct BinaryConvOptions {
  BinaryScale scale = BinaryScale::Channel;
  BinarySte ste = BinarySte::Clip;
  bool alphaGrad = true;
  double latentClip = 0.0;  // 0 = none; else clamp the latent weight to [-c, c] after each step
};

BinaryScale parseBinaryScale(const std::string& s);  // 'channel' | 'layer' | 'none'
BinarySte parseBinarySte(const std::string& s);      // 'clip' | 'identity'
const char* binaryScaleName(BinaryScale s);
const char* binarySteName(BinarySte s);

// alpha of a latent weight [C_out, C_in, kh, kw] in its dtype: [C_out] ('channel'), [1] ('layer'),
// undefined ('none'). The values the forward uses, computed by the same ops.
at::Tensor binaryAlpha(const at::Tensor& w, BinaryScale scale);

// W_b = alpha * bin(W) as a differentiable function of W with the STE backward above. Throws an
// error naming `layer` and the first offending index when W holds NaN or infinity.
at::Tensor binarizeWeight(const at::Tensor& w, const BinaryConvOptions& o, const std::string& layer);

// The backward runs as one fused pass per filter on contiguous CPU weights (default) or as ATen
// ops (the same formula; the filter sums of g s round differently: double there, ATen's float
// reduction here); the switch exists to compare the two.
void setFusedBinaryBackward(bool on);

// nn.Conv2d (same weight name, shape and initialisation draws) whose forward binarises the weight.
class BinaryConv2d : public Conv2d {
 public:
  BinaryConv2d(const Conv2dOptions& conv, const BinaryConvOptions& binary, std::string name);
  at::Tensor forward(const at::Tensor& x) override;
  const BinaryConvOptions& binaryOptions() const { return b_; }
  const std::string& name() const { return name_; }
  // W_b of the current latent weight, without autograd (the values the forward convolves with).
  at::Tensor binarizedWeight();
  // Applies latentClip (after an optimiser step); no-op without one.
  void clampLatent();

 private:
  BinaryConvOptions b_;
  std::string name_;
};

// Every BinaryConv2d below `root` with its module path ("layer1.0.conv1"), in state_dict order.
std::vector<std::pair<std::string, BinaryConv2d*>> binaryConvs(const Module& root);

}  // namespace autospeech::nn
