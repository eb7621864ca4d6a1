#include "ops/operations.h"

#include <ATen/ATen.h>

#include <functional>
#include <map>

#include "binding/guard.h"
#include "nn/shared_relu.h"

namespace autospeech::ops {

using nn::Conv2d;
using nn::Pair;

at::Tensor Zero::forward(const at::Tensor& x) {
  if (stride_ == 1) return x.mul(0.);
  using at::indexing::Slice;
  return x.index({Slice(), Slice(), Slice(at::indexing::None, at::indexing::None, stride_),
                  Slice(at::indexing::None, at::indexing::None, stride_)})
      .mul(0.);
}

FactorizedReduce::FactorizedReduce(int64_t in, int64_t out, bool affine, bool shifted) : shifted_(shifted) {
  TORCH_CHECK(out % 2 == 0, "FactorizedReduce: output channels must be even, got ", out);
  registerModule("relu", std::make_shared<nn::ReLU>());
  conv1_ = registerModule("conv_1", std::make_shared<Conv2d>(nn::Conv2dOptions{in, out / 2, {1, 1}, {2, 2}}));
  conv2_ = registerModule("conv_2", std::make_shared<Conv2d>(nn::Conv2dOptions{in, out / 2, {1, 1}, {2, 2}}));
  bn_ = registerModule("bn", std::make_shared<nn::BatchNorm2d>(out, affine));
}

at::Tensor FactorizedReduce::forward(const at::Tensor& x) {
  at::Tensor r = nn::sharedRelu(x);
  at::Tensor second;
  if (shifted_) {
    using at::indexing::Slice;
    // DARTS: the second conv sees the input shifted by one pixel; pad back so both halves agree
    // in size for odd maps as well.
    at::Tensor shiftedInput = r.index({Slice(), Slice(), Slice(1, at::indexing::None), Slice(1, at::indexing::None)});
    shiftedInput = at::constant_pad_nd(shiftedInput, {0, 1, 0, 1}, 0);
    second = conv2_->forward(shiftedInput);
  } else {
    second = conv2_->forward(r);
  }
  return bn_->forward(at::cat({conv1_->forward(r), second}, 1));
}

OpSequence::OpSequence(std::vector<LayerPtr> layers) {
  op_ = registerModule("op", std::make_shared<nn::Sequential>(std::move(layers)));
}

LayerPtr reluConvBn(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool affine) {
  return std::make_shared<OpSequence>(std::vector<LayerPtr>{
      std::make_shared<nn::ReLU>(),
      std::make_shared<Conv2d>(nn::Conv2dOptions{in, out, nn::pair(kernel), nn::pair(stride), nn::pair(padding)}),
      std::make_shared<nn::BatchNorm2d>(out, affine)});
}

LayerPtr dilConv(int64_t in, int64_t out, Pair kernel, int64_t stride, Pair padding, Pair dilation, bool affine) {
  return std::make_shared<OpSequence>(std::vector<LayerPtr>{
      std::make_shared<nn::ReLU>(),
      std::make_shared<Conv2d>(nn::Conv2dOptions{in, in, kernel, nn::pair(stride), padding, dilation, in}),
      std::make_shared<Conv2d>(nn::Conv2dOptions{in, out, {1, 1}}),
      std::make_shared<nn::BatchNorm2d>(out, affine)});
}

LayerPtr sepConv(int64_t in, int64_t out, Pair kernel, int64_t stride, Pair padding, bool affine) {
  return std::make_shared<OpSequence>(std::vector<LayerPtr>{
      std::make_shared<nn::ReLU>(),
      std::make_shared<Conv2d>(nn::Conv2dOptions{in, in, kernel, nn::pair(stride), padding, {1, 1}, in}),
      std::make_shared<Conv2d>(nn::Conv2dOptions{in, in, {1, 1}}),
      std::make_shared<nn::BatchNorm2d>(in, affine),
      std::make_shared<nn::ReLU>(),
      std::make_shared<Conv2d>(nn::Conv2dOptions{in, in, kernel, {1, 1}, padding, {1, 1}, in}),
      std::make_shared<Conv2d>(nn::Conv2dOptions{in, out, {1, 1}}),
      std::make_shared<nn::BatchNorm2d>(out, affine)});
}

LayerPtr cellPreprocess0(int64_t Cpp, int64_t C, bool reductionPrev, bool affine, const OperationOptions& options) {
  if (reductionPrev) return std::make_shared<FactorizedReduce>(Cpp, C, affine, options.shiftedFactorizedReduce);
  return reluConvBn(Cpp, C, 1, 1, 0, affine);
}

LayerPtr cellPreprocess1(int64_t Cp, int64_t C, bool affine) { return reluConvBn(Cp, C, 1, 1, 0, affine); }

namespace {

using Factory = std::function<LayerPtr(int64_t C, int64_t stride, bool affine, const OperationOptions&)>;

// Same order as the reference's OPS dict.
const std::vector<std::pair<std::string, Factory>>& table() {
  static const std::vector<std::pair<std::string, Factory>> ops = {
      {"none", [](int64_t, int64_t s, bool, const OperationOptions&) -> LayerPtr { return std::make_shared<Zero>(s); }},
      {"avg_pool_3x3",
       [](int64_t, int64_t s, bool, const OperationOptions&) -> LayerPtr {
         return std::make_shared<nn::AvgPool2d>(3, s, 1, /*countIncludePad=*/false);
       }},
      {"max_pool_3x3",
       [](int64_t, int64_t s, bool, const OperationOptions&) -> LayerPtr { return std::make_shared<nn::MaxPool2d>(3, s, 1); }},
      {"skip_connect",
       [](int64_t C, int64_t s, bool a, const OperationOptions& o) -> LayerPtr {
         if (s == 1) return std::make_shared<Identity>();
         return std::make_shared<FactorizedReduce>(C, C, a, o.shiftedFactorizedReduce);
       }},
      {"sep_conv_3x3", [](int64_t C, int64_t s, bool a, const OperationOptions&) { return sepConv(C, C, {3, 3}, s, {1, 1}, a); }},
      {"sep_conv_5x5", [](int64_t C, int64_t s, bool a, const OperationOptions&) { return sepConv(C, C, {5, 5}, s, {2, 2}, a); }},
      {"sep_conv_7x7", [](int64_t C, int64_t s, bool a, const OperationOptions&) { return sepConv(C, C, {7, 7}, s, {3, 3}, a); }},
      {"sep_conv_3x1", [](int64_t C, int64_t s, bool a, const OperationOptions&) { return sepConv(C, C, {3, 1}, s, {1, 0}, a); }},
      {"sep_conv_1x3", [](int64_t C, int64_t s, bool a, const OperationOptions&) { return sepConv(C, C, {1, 3}, s, {0, 1}, a); }},
      {"dil_conv_3x3",
       [](int64_t C, int64_t s, bool a, const OperationOptions&) { return dilConv(C, C, {3, 3}, s, {2, 2}, {2, 2}, a); }},
      {"dil_conv_5x5",
       [](int64_t C, int64_t s, bool a, const OperationOptions&) { return dilConv(C, C, {5, 5}, s, {4, 4}, {2, 2}, a); }},
      {"dil_conv_3x1",
       [](int64_t C, int64_t s, bool a, const OperationOptions&) { return dilConv(C, C, {3, 1}, s, {2, 0}, {2, 1}, a); }},
      {"dil_conv_1x3",
       [](int64_t C, int64_t s, bool a, const OperationOptions&) { return dilConv(C, C, {1, 3}, s, {0, 2}, {1, 2}, a); }},
      {"conv_7x1_1x7",
       [](int64_t C, int64_t s, bool a, const OperationOptions&) -> LayerPtr {
         // The reference returns a bare nn.Sequential here (no "op" wrapper).
         return std::make_shared<nn::Sequential>(std::vector<LayerPtr>{
             std::make_shared<nn::ReLU>(),
             std::make_shared<Conv2d>(nn::Conv2dOptions{C, C, {1, 7}, {1, s}, {0, 3}}),
             std::make_shared<Conv2d>(nn::Conv2dOptions{C, C, {7, 1}, {s, 1}, {3, 0}}),
             std::make_shared<nn::BatchNorm2d>(C, a)});
       }},
  };
  return ops;
}

}  // namespace

LayerPtr makeOperation(const std::string& name, int64_t C, int64_t stride, bool affine, const OperationOptions& options) {
  if (C <= 0) throw ArgumentError("operation " + name + ": channels must be positive, got " + std::to_string(C));
  if (stride != 1 && stride != 2)
    throw ArgumentError("operation " + name + ": stride must be 1 or 2, got " + std::to_string(stride));
  for (auto& [opName, factory] : table())
    if (opName == name) return factory(C, stride, affine, options);
  std::string known;
  for (auto& [opName, factory] : table()) known += (known.empty() ? "" : ", ") + opName;
  throw ArgumentError("unknown operation '" + name + "' (known: " + known + ")");
}

const std::vector<std::string>& operationNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (auto& [name, factory] : table()) out.push_back(name);
    return out;
  }();
  return names;
}

}  // namespace autospeech::ops
