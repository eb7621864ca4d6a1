// One training job: the model, the weight optimizer and (for the search supernet) the architect,
// with the reference's step semantics:
//  - search (reference functions.train + architect.py, first order): before each weight step, one
//    alpha step on a validation batch (zero alpha grads, forward in train mode, backward, Adam on
//    the alphas with betas (0.5, 0.999) and L2 weight decay), then the weight step (forward,
//    zero weight grads, backward, Adam on every non-alpha parameter);
//  - scratch (functions.train_from_scratch): forward, loss, zero grads, backward, Adam.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dist/grad_reducer.h"
#include "models/speaker_model.h"
#include "nn/binary_conv.h"
#include "train/adam.h"

namespace autospeech::train {

struct TrainerOptions {
  AdamOptions weights{0.01, 0.9, 0.999, 1e-8, 0.0};
  AdamOptions arch{0.001, 0.5, 0.999, 1e-8, 0.001};
  double labelSmoothing = 0.1;
  // Named option beside the reference (which is first order): DARTS' unrolled second-order
  // architect gradient, with the virtual step w' = w - lr * dL_train/dw.
  bool secondOrderArch = false;
  // Fast search mode: the weight step computes only the sampled op per edge (see SearchNetwork).
  bool fastSearch = false;
  // Exact-preserving: no weight gradients in the alpha step, no alpha gradients in the weight step
  // (the reference computes both and throws one away). Off only to prove the updates are identical.
  bool skipUnusedGrads = true;
  // Exact-preserving: with hard Gumbel weights, no backward through the ops each forward did not
  // sample (their gradient contributions are exact zeros); see SearchNetwork. Off only to prove
  // the updates are identical.
  bool sampledBackwardOnly = true;
  // Data parallel over the initialised process group (dist/process_group.h): gradients (and the
  // architect's) averaged across ranks, bucketed and overlapped with backward; step statistics
  // averaged; drop-path masks drawn for the global batch. syncBn: BatchNorm statistics of the
  // global batch in every training-mode forward (torch.nn.SyncBatchNorm).
  bool distributed = false;
  bool syncBn = false;
};

struct StepStats {
  double loss = 0, acc1 = 0, acc5 = 0;
  double archEntropy = 0;  // search only: mean entropy of softmax(alphas_normal) after the alpha step
  double archLoss = 0;     // search only: loss of the alpha step
  // Wall time of the step's phases in ms: alpha forward/backward/update (search), weight
  // forward/backward/update.
  std::vector<std::pair<std::string, double>> phasesMs;
};

class Trainer {
 public:
  Trainer(std::shared_ptr<models::SpeakerModel> model, TrainerOptions options);

  bool isSearch() const { return arch_.has_value(); }
  models::SpeakerModel& model() { return *model_; }
  Adam& weightOptimizer() { return weights_; }
  Adam* archOptimizer() { return arch_ ? &*arch_ : nullptr; }
  bool distributed() const { return reducer_ != nullptr; }
  size_t gradientBuckets() const { return reducer_ ? reducer_->bucketCount() : 0; }
  size_t overlappedBuckets() const { return reducer_ ? reducer_->overlappedBuckets() : 0; }

  // One reference training step; xv/yv (the validation batch) are required for the search.
  StepStats step(const at::Tensor& x, const at::Tensor& y, const at::Tensor& xv = {}, const at::Tensor& yv = {});

  // Eval-mode embeddings of U utterances whose windows are stacked in `windows` (sum(counts), T, F):
  // each utterance's embedding is the mean of its window embeddings (reference validate_*).
  // Windows are forwarded in chunks of at most `maxBatch`.
  at::Tensor embedUtterances(const at::Tensor& windows, const std::vector<int64_t>& counts, int64_t maxBatch);
  // The classifier on (mean) embeddings: the reference's forward_classifier.
  at::Tensor classify(const at::Tensor& embeddings);

 private:
  // DARTS second-order alpha gradient (written into the alphas' .grad).
  void unrolledArchGradient(const at::Tensor& x, const at::Tensor& y, const at::Tensor& xv, const at::Tensor& yv);
  at::Tensor lossOf(const at::Tensor& x, const at::Tensor& y);

  std::shared_ptr<models::SpeakerModel> model_;
  TrainerOptions options_;
  Adam weights_;
  std::optional<Adam> arch_;
  std::unique_ptr<dist::GradReducer> reducer_;  // distributed runs
  int rank_ = 0, world_ = 1;
  std::vector<nn::BinaryConv2d*> clippedLatents_;  // binary convs with a latentClip (owned by model_)
};

// The reference accuracy(): percentage of rows whose label is in the top-k logits.
double topkAccuracy(const at::Tensor& logits, const at::Tensor& labels, int64_t k);

}  // namespace autospeech::train
