// The candidate operations of the AutoSpeech search space, exactly as the reference's
// operations.py: bias-free convs, BN with the affine flag, ReLU first, un-shifted
// FactorizedReduce by default. makeOperation() is the one registry by op name.
#pragma once
#include <string>
#include <vector>

#include "nn/layers.h"

namespace autospeech::ops {

using nn::LayerPtr;

// Zero: 0*x at stride 1, 0*x[:, :, ::s, ::s] otherwise (keeps NaN propagation like x.mul(0.)).
class Zero : public nn::Layer {
 public:
  explicit Zero(int64_t stride) : stride_(stride) {}
  at::Tensor forward(const at::Tensor& x) override;

 private:
  int64_t stride_;
};

class Identity : public nn::Layer {
 public:
  at::Tensor forward(const at::Tensor& x) override { return x; }
  bool isIdentity() const override { return true; }
};

// ReLU -> two 1x1 stride-2 convs (Cout/2 each) -> concat -> BN. The reference feeds both convs
// the same input (the DARTS x[:, :, 1:, 1:] shift is commented out); `shifted` restores DARTS.
class FactorizedReduce : public nn::Layer {
 public:
  FactorizedReduce(int64_t in, int64_t out, bool affine, bool shifted = false);
  at::Tensor forward(const at::Tensor& x) override;

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn_;
  bool shifted_;
};

// A module whose only child is the Sequential "op" (ReLUConvBN, SepConv, DilConv and variants).
class OpSequence : public nn::Layer {
 public:
  explicit OpSequence(std::vector<LayerPtr> layers);
  at::Tensor forward(const at::Tensor& x) override { return op_->forward(x); }

 private:
  std::shared_ptr<nn::Sequential> op_;
};

// ReLU -> Conv(k, s, p) -> BN
LayerPtr reluConvBn(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool affine);
// ReLU -> depthwise Conv(k, s, p, dilation) -> 1x1 Conv -> BN   (kernel/padding/dilation per axis)
LayerPtr dilConv(int64_t in, int64_t out, nn::Pair kernel, int64_t stride, nn::Pair padding, nn::Pair dilation,
                 bool affine);
// two stacked depthwise-separable units, the second at stride 1
LayerPtr sepConv(int64_t in, int64_t out, nn::Pair kernel, int64_t stride, nn::Pair padding, bool affine);

struct OperationOptions {
  bool shiftedFactorizedReduce = false;
};

// A cell's input preprocessing: preprocess0 halves the map with a FactorizedReduce when the
// previous cell was a reduction (ReLUConvBN 1x1 otherwise); preprocess1 is always a ReLUConvBN 1x1.
LayerPtr cellPreprocess0(int64_t Cpp, int64_t C, bool reductionPrev, bool affine, const OperationOptions& options);
LayerPtr cellPreprocess1(int64_t Cp, int64_t C, bool affine);

// Builds the op `name` of the reference OPS table for C channels, stride and affine flag.
// Throws a clear error for an unknown name.
LayerPtr makeOperation(const std::string& name, int64_t C, int64_t stride, bool affine,
                       const OperationOptions& options = {});

// Every op name the registry knows, in the reference table's order.
const std::vector<std::string>& operationNames();

}  // namespace autospeech::ops
