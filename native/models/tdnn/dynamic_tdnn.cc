#include "models/tdnn/dynamic_tdnn.h"

#include <ATen/ATen.h>

#include <sstream>

#include "binding/guard.h"

namespace autospeech::models::tdnn {

std::string TdnnSubnet::text() const {
  std::ostringstream s;
  s << depth;
  for (int64_t c : channels) s << '-' << c;
  for (int64_t k : kernels) s << '-' << k;
  s << '-' << cat;
  return s.str();
}

DynamicTdnn::DynamicTdnn(const TdnnDims& d) : dims_(d) {
  const int64_t n = d.numBlocks;
  if (n < 1) throw ArgumentError("tdnn: NUM_BLOCKS must be >= 1, got " + std::to_string(n));
  if (static_cast<int64_t>(d.channels.size()) != n + 1 || static_cast<int64_t>(d.kernels.size()) != n + 1)
    throw ArgumentError("tdnn: need NUM_BLOCKS + 1 = " + std::to_string(n + 1) + " channel widths and kernels");
  if (d.inFeats < 1 || d.embedDim < 1 || d.catChannels < 1 || d.channels[0] < 4)
    throw ArgumentError("tdnn: IN_FEATS, EMBED_DIM, CAT_CHANNELS must be >= 1 and CHANNELS >= 4");
  const bool sa = d.standalone;
  const int64_t c0 = d.channels[0];
  layer1_ = registerModule("layer1", std::make_shared<ConvReLUBN>(d.inFeats, c0, d.kernels[0], 1, sa));
  auto list = registerModule("blocks", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < n; ++i)
    blocks_.push_back(list->push(std::make_shared<SERes2Block>(c0, d.channels[i + 1], d.kernels[i + 1], i + 2, sa)));
  catconv_ = registerModule("catconv", std::make_shared<DynamicConv1d>(c0 * n, d.catChannels, 1, 1, sa));
  pooling_ = registerModule("pooling", std::make_shared<AttentiveStatsPool>(d.catChannels, sa));
  bnpool_ = registerModule("bnpool", std::make_shared<DynamicBatchNorm1d>(2 * d.catChannels, !sa));
  linear_ = registerModule("linear", std::make_shared<DynamicLinear>(2 * d.catChannels, d.embedDim, sa));
  bnembed_ = registerModule("bnembed", std::make_shared<DynamicBatchNorm1d>(d.embedDim, /*wrapped=*/false));
  setSubnet(largest());
}

TdnnSubnet DynamicTdnn::largest() const { return TdnnSubnet{dims_.numBlocks, dims_.channels, dims_.kernels, dims_.catChannels}; }

void DynamicTdnn::setSubnet(const TdnnSubnet& s) {
  const std::string name = "subnet " + s.text() + ": ";
  if (s.depth < 1 || s.depth > dims_.numBlocks)
    throw ArgumentError(name + "depth " + std::to_string(s.depth) + " is outside [1, " + std::to_string(dims_.numBlocks) + "] (MODEL.NUM_BLOCKS)");
  if (static_cast<int64_t>(s.channels.size()) != s.depth + 1 || static_cast<int64_t>(s.kernels.size()) != s.depth + 1)
    throw ArgumentError(name + "depth " + std::to_string(s.depth) + " needs " + std::to_string(s.depth + 1) + " widths and kernels");
  const int64_t c0 = s.channels[0];
  if (c0 < 4 || c0 > dims_.channels[0])
    throw ArgumentError(name + "trunk width c0 = " + std::to_string(c0) + " is outside [4, " + std::to_string(dims_.channels[0]) + "]");
  for (int64_t i = 1; i <= s.depth; ++i)
    if (s.channels[i] < 8 || s.channels[i] > dims_.channels[i] || s.channels[i] % 8 != 0)
      throw ArgumentError(name + "block " + std::to_string(i) + "'s width " + std::to_string(s.channels[i]) +
                          " must be a multiple of 8 in [8, " + std::to_string(dims_.channels[i]) + "]");
  for (int64_t i = 0; i <= s.depth; ++i)
    if (s.kernels[i] < 1 || s.kernels[i] > dims_.kernels[i] || s.kernels[i] % 2 == 0)
      throw ArgumentError(name + (i == 0 ? std::string("layer1") : "block " + std::to_string(i)) + "'s kernel " + std::to_string(s.kernels[i]) +
                          " must be odd and at most " + std::to_string(dims_.kernels[i]));
  if (s.cat < 1 || s.cat > dims_.catChannels)
    throw ArgumentError(name + "cat width " + std::to_string(s.cat) + " is outside [1, " + std::to_string(dims_.catChannels) + "]");
  if (dims_.standalone && !(s == largest()))
    throw ArgumentError(name + "a standalone subnet (" + largest().text() + ") runs only as itself");

  layer1_->configure(Select::first(dims_.inFeats), Select::first(c0), s.kernels[0]);
  for (int64_t i = 0; i < s.depth; ++i) blocks_[i]->configure(c0, s.channels[i + 1], s.kernels[i + 1]);
  // Blocks beyond the depth keep their old selection (they do not run), as in sugar.
  const int64_t n = dims_.numBlocks, fullC0 = dims_.channels[0], fullCat = dims_.catChannels;
  at::Tensor catIdx = at::arange(fullC0 * n, at::kLong).view({n, fullC0}).narrow(0, 0, s.depth).narrow(1, 0, c0).flatten();
  catconv_->configure(Select::indices(catIdx), Select::first(s.cat), 1);
  pooling_->configure(s.cat);
  Select poolSel = Select::indices(at::arange(2 * fullCat, at::kLong).view({2, fullCat}).narrow(1, 0, s.cat).flatten());
  bnpool_->configure(poolSel);
  linear_->configure(poolSel, Select::first(dims_.embedDim));
  subnet_ = s;
}

at::Tensor DynamicTdnn::embed(const at::Tensor& x, Trace* trace) {
  if (x.dim() != 3 || x.size(1) != dims_.inFeats)
    throw ArgumentError("tdnn: input must be (batch, " + std::to_string(dims_.inFeats) + " features, frames), channel-first");
  at::Tensor out = layer1_->forward(x);
  if (trace) trace->emplace_back("layer1", out);
  std::vector<at::Tensor> cats;
  at::Tensor sum = out;
  for (int64_t i = 0; i < subnet_.depth; ++i) {
    at::Tensor b = blocks_[i]->forward(out);
    if (trace) trace->emplace_back("block" + std::to_string(i), b);
    out = b + sum;
    cats.push_back(out);
    sum = sum + out;  // out of place, as sugar (in place breaks autograd)
  }
  at::Tensor z = catconv_->forward(at::cat(cats, 1));
  if (trace) trace->emplace_back("catconv", z);
  at::Tensor pooled = pooling_->forward(at::relu(z));
  if (trace) trace->emplace_back("pooling", pooled);
  at::Tensor p = bnpool_->forward(pooled);
  if (trace) trace->emplace_back("bnpool", p);
  at::Tensor l = linear_->forward(p);
  if (trace) trace->emplace_back("linear", l);
  return bnembed_->forward(l);
}

at::Tensor DynamicTdnn::classify(const at::Tensor&) {
  throw ArgumentError("tdnn: the supernet has no classifier; its AAM-softmax weight is passed separately (--loss-weights)");
}

void DynamicTdnn::copyActiveInto(DynamicTdnn& dst, bool bumpCounters) {
  layer1_->copyInto(*dst.layer1_, bumpCounters);
  for (int64_t i = 0; i < subnet_.depth; ++i) blocks_[i]->copyInto(*dst.blocks_[i], bumpCounters);
  catconv_->copyInto(*dst.catconv_);
  pooling_->copyInto(*dst.pooling_);
  bnpool_->copyInto(*dst.bnpool_, bumpCounters);
  linear_->copyInto(*dst.linear_);
  bnembed_->copyAllInto(*dst.bnembed_);
}

}  // namespace autospeech::models::tdnn
