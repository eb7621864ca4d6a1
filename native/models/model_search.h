// The search supernet (reference models/model_search.py): every edge is a MixedOp over the
// primitives, all normal cells share alphas_normal and all reduction cells alphas_reduce (14 x 8).
// Mixing weights are drawn per cell per forward: by default the reference's hard straight-through
// Gumbel-softmax of log_softmax(alpha) (in train AND eval mode); `softmax` is plain DARTS mixing.
#pragma once
#include <deque>

#include "models/speaker_model.h"
#include "ops/operations.h"

namespace autospeech::models {

enum class Mixing { Gumbel, Softmax };

class MixedOp : public nn::Module {
 public:
  MixedOp(int64_t C, int64_t stride, const std::vector<std::string>& primitives, const ops::OperationOptions& options);
  // sum_k w_k * op_k(x) over ALL ops (the reference computes every op, even at weight 0).
  // With `only` >= 0 (one-hot weights, `only` the hot index):
  //  - computeAll: every op is still computed (same values, same BN running statistics), but the
  //    others without an autograd graph: their contributions to every gradient are exact zeros
  //    (weight 0), so the backward through them is skipped and their activations are not kept;
  //    the alpha gradient (w_k's) is unchanged, as it needs op_k(x) only as a value;
  //  - !computeAll: just w_only * op_only(x): the fast search mode.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& weights, int64_t only = -1, bool computeAll = true);

 private:
  std::vector<nn::LayerPtr> ops_;
};

class SearchCell : public nn::Module {
 public:
  SearchCell(int64_t steps, int64_t multiplier, int64_t Cpp, int64_t Cp, int64_t C, bool reduction, bool reductionPrev,
             const std::vector<std::string>& primitives, const ops::OperationOptions& options);
  // `sampled`: per edge the index of the one-hot op (see MixedOp::forward), or undefined.
  at::Tensor forward(const at::Tensor& s0, const at::Tensor& s1, const at::Tensor& weights, double dropProb,
                     const at::Tensor& sampled = {}, bool computeAll = true);
  bool reduction() const { return reduction_; }

 private:
  bool reduction_;
  int64_t steps_, multiplier_;
  nn::LayerPtr preprocess0_, preprocess1_;
  std::vector<std::shared_ptr<MixedOp>> ops_;
};

class SearchNetwork : public SpeakerModel {
 public:
  SearchNetwork(int64_t C, int64_t numClasses, int64_t layers, std::vector<std::string> primitives, int64_t steps = 4,
                int64_t multiplier = 4, int64_t stemMultiplier = 3, const ops::OperationOptions& options = {});
  at::Tensor embed(const at::Tensor& input, Trace* trace = nullptr) override;
  at::Tensor classify(const at::Tensor& embedding) override { return classifier_->forward(embedding); }
  std::vector<at::Tensor> archParameters() override { return {*alphasNormal_, *alphasReduce_}; }
  std::string kind() const override { return "search"; }

  void setMixing(Mixing mixing) { mixing_ = mixing; }
  // Fast search mode (named option, not the reference): with hard Gumbel weights, compute only the
  // sampled op of each edge. The forward value and every weight gradient are those of the full
  // sum (the other weights are exactly 0 in value), but unselected ops' BN running statistics are
  // not updated and no alpha gradient flows through unselected ops, so use it for weight steps only.
  void setSampledOnly(bool on) { sampledOnly_ = on; }
  // Exact (default on): with hard Gumbel weights and autograd on, unselected ops are computed
  // without an autograd graph (see MixedOp::forward). Off: the reference's full graph.
  void setSampledBackwardOnly(bool on) { sampledBackwardOnly_ = on; }
  Mixing mixing() const { return mixing_; }
  // Recorded Gumbel noise, one (14 x 8) tensor per cell in forward order, consumed before sampling.
  void queueGumbelNoise(std::vector<at::Tensor> noise);
  size_t pendingGumbelNoise() const { return noise_.size(); }
  size_t cellCount() const { return cells_.size(); }
  void clearGumbelNoise() { noise_.clear(); }
  // The mixing weights each cell used in the last forward (cell order).
  const std::vector<at::Tensor>& lastMixingWeights() const { return lastWeights_; }
  const std::vector<std::string>& primitives() const { return primitives_; }
  int64_t steps() const { return steps_; }

  // Entropy of softmax(alphas_normal) per edge (the reference's arch_entropy is its mean).
  at::Tensor archEntropy() const;

 private:
  at::Tensor mixingWeights(const at::Tensor& alpha);

  std::vector<std::string> primitives_;
  int64_t steps_;
  std::shared_ptr<nn::Sequential> stem_;
  std::vector<std::shared_ptr<SearchCell>> cells_;
  std::shared_ptr<nn::Linear> classifier_;
  at::Tensor* alphasNormal_;
  at::Tensor* alphasReduce_;
  Mixing mixing_ = Mixing::Gumbel;
  bool sampledOnly_ = false;
  bool sampledBackwardOnly_ = true;
  std::deque<at::Tensor> noise_;
  std::vector<at::Tensor> lastWeights_;
};

// The reference's hard straight-through Gumbel-softmax on logits, with given or fresh noise.
at::Tensor gumbelSoftmaxHard(const at::Tensor& logits, const at::Tensor& noise);
at::Tensor sampleGumbelNoise(const at::Tensor& like);

}  // namespace autospeech::models
