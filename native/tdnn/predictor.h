// EfficientTDNN's MLP accuracy predictor (sugar models/dynamictdnn.py AccuracyPredictor): maps a
// subnet encoding to its EER. Module tree and state_dict keys are the reference's:
//   model = Sequential(BN1d(in), Linear(in, 400), ReLU, Linear(400, 400), ReLU, Linear(400, 400), ReLU,
//                      Linear(400, 1))            -> model.{0,1,3,5,7}.*
//   ynorm = BN1d(1)                               -> ynorm.*  (the target normaliser)
// Quirks kept: forward() feeds the untransformed input (the reference computes a sigmoid-like input
// transform and drops it); predict() inverts ynorm dividing by (weight + eps), not by weight; fit()
// optimises `model` only (ynorm's affine parameters stay 1 and 0) against ynorm(y) in train mode,
// i.e. batch-normalised targets, which also moves ynorm's running stats.
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/layers.h"
#include "train/adam.h"

namespace autospeech::tdnn {

// nn.BatchNorm1d(C) on (N, C): eps 1e-5, momentum 0.1, running stats and num_batches_tracked.
class BatchNorm1d : public nn::Layer {
 public:
  explicit BatchNorm1d(int64_t channels);
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor& weight() { return *weight_; }
  at::Tensor& bias() { return *bias_; }
  at::Tensor& runningMean() { return *runningMean_; }
  at::Tensor& runningVar() { return *runningVar_; }

 private:
  at::Tensor* weight_;
  at::Tensor* bias_;
  at::Tensor* runningMean_;
  at::Tensor* runningVar_;
  at::Tensor* numBatchesTracked_;
};

// AccuracyPredictor.fit's arguments (its defaults) plus the named options a port needs.
struct PredictorFitOptions {
  int64_t epochs = 50;         // n_epoch
  double lr = 1e-3;            // lr
  double weightDecay = 1e-3;   // alpha: L2 added to the gradient (torch Adam/SGD weight_decay)
  std::string loss = "mse";    // ce: mse | l1 | smoothl1 (beta 1), mean over the batch
  std::string optimizer = "adam";    // adam | sgd (momentum 0.9)
  std::string scheduler = "steplr";  // steplr (per epoch) | cycliclr (triangular2, per batch)
  double gamma = 0.5;
  int64_t cycle = 2;
  int64_t batchSize = 256;     // DataLoader(batch_size=256, shuffle=True, drop_last=True)
  bool dropLast = true;
  // Shuffle order: torch's RandomSampler draws a seed from the default generator each epoch and
  // permutes with a generator seeded by it. With `seed` set, those seeds come from a private
  // generator seeded with it instead (reproducible whatever else used the default generator).
  bool hasSeed = false;
  uint64_t seed = 0;
  // The reference keeps its optimiser and scheduler across fit() calls (fit_process), so a second
  // call continues them and ignores lr/weightDecay/scheduler arguments; true starts afresh.
  bool freshOptimizer = false;
};

struct PredictorFitResult {
  std::vector<double> epochLoss;  // sum of batch losses / number of batches, per epoch
  std::vector<double> epochLr;    // the lr after each epoch (scheduler.get_last_lr())
  int64_t batchesPerEpoch = 0;
  double l1Error = 0;             // mean |predict(X) - y| after training (the reference prints it)
};

class AccuracyPredictor : public nn::Module {
 public:
  explicit AccuracyPredictor(int64_t inFeats, int64_t hidden = 400);
  ~AccuracyPredictor() override;

  int64_t inFeats() const { return inFeats_; }
  int64_t hidden() const { return hidden_; }

  // model(x) in the current mode: (N, 1) in the normalised target space.
  at::Tensor forward(const at::Tensor& x);
  // Eval mode, no grad: {raw (N), predicted EER (N)}; the EER is in the unit of the training
  // targets (percent for the shipped weights).
  std::pair<at::Tensor, at::Tensor> predict(const at::Tensor& x);
  // X (N, inFeats) float32, y (N) float32.
  PredictorFitResult fit(const at::Tensor& X, const at::Tensor& y, const PredictorFitOptions& options);

 private:
  struct FitState;
  int64_t inFeats_, hidden_;
  std::shared_ptr<nn::Sequential> model_;
  std::shared_ptr<BatchNorm1d> ynorm_;
  std::unique_ptr<FitState> fit_;
};

}  // namespace autospeech::tdnn
