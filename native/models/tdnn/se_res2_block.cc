#include "models/tdnn/se_res2_block.h"

#include <ATen/ATen.h>

#include "binding/guard.h"

namespace autospeech::models::tdnn {

namespace {

// nn.Sequential(conv, relu, bn): the ReLU has no tensors, so only conv and bn are children.
class Res2Branch : public nn::Module {
 public:
  Res2Branch(std::shared_ptr<DynamicConv1d> conv, std::shared_ptr<DynamicBatchNorm1d> bn) {
    registerModule("conv", std::move(conv));
    registerModule("bn", std::move(bn));
  }
};

}  // namespace

Res2ConvReLUBN::Res2ConvReLUBN(int64_t channels, int64_t kernel, int64_t dilation, bool standalone) {
  if (channels % kScale != 0) throw ArgumentError("tdnn: Res2 width " + std::to_string(channels) + " is not a multiple of 8");
  activeWidth_ = channels / kScale;
  auto list = registerModule("convs", std::make_shared<nn::ModuleList>());
  for (int64_t j = 0; j < kScale - 1; ++j) {
    convs_.push_back(std::make_shared<DynamicConv1d>(activeWidth_, activeWidth_, kernel, dilation, standalone));
    bns_.push_back(std::make_shared<DynamicBatchNorm1d>(activeWidth_, !standalone));
    list->push(std::make_shared<Res2Branch>(convs_.back(), bns_.back()));
  }
}

void Res2ConvReLUBN::configure(int64_t width, int64_t kernel) {
  activeWidth_ = width;
  for (size_t j = 0; j < convs_.size(); ++j) {
    convs_[j]->configure(Select::first(width), Select::first(width), kernel);
    bns_[j]->configure(Select::first(width));
  }
}

at::Tensor Res2ConvReLUBN::forward(const at::Tensor& x) {
  std::vector<at::Tensor> chunks = x.split(activeWidth_, 1);
  TORCH_CHECK(static_cast<int64_t>(chunks.size()) == kScale, "tdnn Res2: ", x.size(1), " channels do not split into 8 chunks of ", activeWidth_);
  std::vector<at::Tensor> out;
  at::Tensor sp;
  for (size_t j = 0; j < convs_.size(); ++j) {
    at::Tensor in = j == 0 ? chunks[0] : chunks[j] + sp;
    sp = bns_[j]->forward(at::relu(convs_[j]->forward(in)));
    out.push_back(sp);
  }
  out.push_back(chunks[convs_.size()]);
  return at::cat(out, 1);
}

void Res2ConvReLUBN::copyInto(Res2ConvReLUBN& dst, bool bumpCounters) {
  for (size_t j = 0; j < convs_.size(); ++j) {
    convs_[j]->copyInto(*dst.convs_[j]);
    bns_[j]->copyInto(*dst.bns_[j], bumpCounters);
  }
}

SELayer::SELayer(int64_t channels, bool standalone) {
  if (channels % kReduction != 0) throw ArgumentError("tdnn: SE width " + std::to_string(channels) + " is not a multiple of 4");
  reduce_ = registerModule("reduce", std::make_shared<DynamicLinear>(channels, channels / kReduction, standalone));
  expand_ = registerModule("expand", std::make_shared<DynamicLinear>(channels / kReduction, channels, standalone));
}

void SELayer::configure(int64_t channels) {
  reduce_->configure(Select::first(channels), Select::first(channels / kReduction));
  expand_->configure(Select::first(channels / kReduction), Select::first(channels));
}

at::Tensor SELayer::forward(const at::Tensor& x) const {
  at::Tensor s = at::sigmoid(expand_->forward(at::relu(reduce_->forward(x.mean({2})))));
  return x * s.view({x.size(0), x.size(1), 1});
}

void SELayer::copyInto(SELayer& dst) const {
  reduce_->copyInto(*dst.reduce_);
  expand_->copyInto(*dst.expand_);
}

SERes2Block::SERes2Block(int64_t channels, int64_t mid, int64_t kernel, int64_t dilation, bool standalone) : mid_(mid) {
  firstConv_ = registerModule("first_conv", std::make_shared<ConvReLUBN>(channels, mid, 1, 1, standalone));
  resconv_ = registerModule("resconv", std::make_shared<Res2ConvReLUBN>(mid, kernel, dilation, standalone));
  lastConv_ = registerModule("last_conv", std::make_shared<ConvReLUBN>(mid, channels, 1, 1, standalone));
  se_ = registerModule("se", std::make_shared<SELayer>(channels, standalone));
}

at::Tensor SERes2Block::midIndices(int64_t fullMid, int64_t mid) {
  const int64_t w = mid / Res2ConvReLUBN::kScale;
  return at::arange(fullMid, at::kLong).view({Res2ConvReLUBN::kScale, -1}).narrow(1, 0, w).flatten();
}

void SERes2Block::configure(int64_t channels, int64_t mid, int64_t kernel) {
  if (mid < Res2ConvReLUBN::kScale || mid > mid_ || mid % Res2ConvReLUBN::kScale != 0)
    throw ArgumentError("tdnn: a block of mid width " + std::to_string(mid_) + " cannot run width " + std::to_string(mid) +
                        " (a multiple of 8 up to the full width)");
  Select midSel = Select::indices(midIndices(mid_, mid));
  firstConv_->configure(Select::first(channels), midSel, 1);
  resconv_->configure(mid / Res2ConvReLUBN::kScale, kernel);
  lastConv_->configure(midSel, Select::first(channels), 1);
  se_->configure(channels);
}

at::Tensor SERes2Block::forward(const at::Tensor& x) {
  return se_->forward(lastConv_->forward(resconv_->forward(firstConv_->forward(x))));
}

void SERes2Block::copyInto(SERes2Block& dst, bool bumpCounters) {
  firstConv_->copyInto(*dst.firstConv_, bumpCounters);
  resconv_->copyInto(*dst.resconv_, bumpCounters);
  lastConv_->copyInto(*dst.lastConv_, bumpCounters);
  se_->copyInto(*dst.se_);
}

}  // namespace autospeech::models::tdnn
