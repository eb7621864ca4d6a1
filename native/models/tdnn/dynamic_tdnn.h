// sugar's DynamicTDNN (tdnn8m2g and its reduced variants), the EfficientTDNN supernet:
//   h0 = layer1(x)  (ConvReLUBN, in_feats -> c0, kernel k0);   s = h0
//   for i = 1..depth: h_i = block_i(h_{i-1}) + s;  s = s + h_i   (block i dilated by i + 1)
//   z = relu(catconv(cat(h_1..h_depth)))   (1x1, no BN; h0 is not concatenated)
//   embedding = bnembed(linear(bnpool(pooling(z))))
// Input channel-first (B, in_feats, T). The active subnet (depth, [c0..c_depth], [k0..k_depth],
// cat) is set with setSubnet and selects the reference's slices: first-k everywhere except the
// per-group Res2 mid channels, the catconv inputs [:depth, :c0] of the (num_blocks x c0_full)
// layout and the bnpool / linear inputs [:, :cat] of the [mean | std] layout.
// Standalone = what sugar's clone() returns: plain layers with the subnet's own widths and baked
// kernels, keys without the wrappers' inner level (layer1.conv.weight, bnpool.running_var, ...).
#pragma once
#include <memory>
#include <vector>

#include "models/speaker_model.h"
#include "models/tdnn/attentive_stats_pool.h"
#include "models/tdnn/se_res2_block.h"

namespace autospeech::models::tdnn {

struct TdnnSubnet {
  int64_t depth = 0;
  std::vector<int64_t> channels;  // depth + 1: c0 (layer1 / trunk), then each block's mid width
  std::vector<int64_t> kernels;   // depth + 1: layer1's, then each block's Res2 kernel
  int64_t cat = 0;
  std::string text() const;       // D-c0-..-cD-k0-..-kD-cat
  bool operator==(const TdnnSubnet& o) const {
    return depth == o.depth && channels == o.channels && kernels == o.kernels && cat == o.cat;
  }
};

struct TdnnDims {
  int64_t inFeats = 80, embedDim = 192, numBlocks = 4;
  std::vector<int64_t> channels;  // numBlocks + 1
  std::vector<int64_t> kernels;   // numBlocks + 1
  int64_t catChannels = 1536;
  bool standalone = false;
};

class DynamicTdnn : public SpeakerModel {
 public:
  explicit DynamicTdnn(const TdnnDims& dims);

  // Validates against the supernet (one clear error naming the field) and selects the slices.
  void setSubnet(const TdnnSubnet& subnet);
  const TdnnSubnet& subnet() const { return subnet_; }
  TdnnSubnet largest() const;
  const TdnnDims& dims() const { return dims_; }

  // (B, in_feats, T) -> (B, embed_dim). Trace: layer1, block<i> (before the dense add),
  // catconv (before its ReLU), pooling, bnpool, linear.
  at::Tensor embed(const at::Tensor& input, Trace* trace = nullptr) override;
  // The AAM head is separate (its W is not part of the supernet's state_dict).
  at::Tensor classify(const at::Tensor& embedding) override;
  std::string kind() const override { return "tdnn"; }

  // Copies the active subnet's slices into a standalone net of the subnet's shape (see clone.h).
  void copyActiveInto(DynamicTdnn& dst, bool bumpCounters);

 private:
  TdnnDims dims_;
  TdnnSubnet subnet_;
  std::shared_ptr<ConvReLUBN> layer1_;
  std::vector<std::shared_ptr<SERes2Block>> blocks_;
  std::shared_ptr<DynamicConv1d> catconv_;
  std::shared_ptr<AttentiveStatsPool> pooling_;
  std::shared_ptr<DynamicBatchNorm1d> bnpool_, bnembed_;
  std::shared_ptr<DynamicLinear> linear_;
};

}  // namespace autospeech::models::tdnn
