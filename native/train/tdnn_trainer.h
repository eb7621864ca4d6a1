// The EfficientTDNN training step (sugar's dynamic_walks_train with its SpeakerModel): per batch
// the LogMelFbanks of each waveform crop (no gradient), zero_grad, then for every walk (one sampled
// path each) a train-mode forward of the supernet on that path, the AAM-softmax cross-entropy and
// backward (the walks' gradients accumulate), then one optimizer.step(): torch.optim.Adam with L2
// weight decay (added to the gradient, not AdamW) over every parameter of the supernet, the kernel
// transforms k53/k31 included, and the AAM weight W, which this trainer owns. The learning rate is
// set per step from TS (CyclicLR triangular2 there).
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "dist/grad_reducer.h"
#include "features/logmel.h"
#include "models/tdnn/dynamic_tdnn.h"
#include "train/aam_softmax.h"
#include "train/adam.h"

namespace autospeech::train {

struct TdnnTrainerOptions {
  AdamOptions adam{1e-3, 0.9, 0.999, 1e-8, 2e-5};
  AamSoftmaxOptions aam;
  int64_t classes = 0;
  features::LogMelOptions logmel;
  // Data parallel over the process group (see train/trainer.h): gradients of the supernet and W
  // averaged across ranks (bucketed, overlapped with the last walk's backward), statistics
  // averaged, W broadcast from rank 0 before the first step; syncBn: the dynamic BatchNorms use
  // the global batch's statistics.
  bool distributed = false;
  bool syncBn = false;
};

struct TdnnStepStats {
  // Means over the walks, as the reference logs them.
  double loss = 0, acc1 = 0, acc5 = 0;
  std::vector<double> walkLosses;
  double featuresMs = 0, forwardBackwardMs = 0, updateMs = 0;
};

class TdnnTrainer {
 public:
  // W (embed_dim, classes) is initialised as sugar's AAMSoftmax does: xavier_normal_(gain 1), from
  // the default CPU generator.
  TdnnTrainer(std::shared_ptr<models::tdnn::DynamicTdnn> model, TdnnTrainerOptions options);

  models::tdnn::DynamicTdnn& model() { return *model_; }
  Adam& optimizer() { return adam_; }
  at::Tensor& aamWeight() { return W_; }
  // Names of the optimizer's parameters in its order: the supernet's state_dict keys, then aam.W.
  const std::vector<std::string>& paramNames() const { return names_; }
  void setMargin(double m) { options_.aam.margin = m; }

  // (B, L) waveforms in the int16 range -> (B, melBins, 1 + L / 160) LogMelFbanks, row by row.
  at::Tensor features(const at::Tensor& waves) const;

  // input: (B, L) waveforms or (B, in_feats, T) features; labels (B); one subnet per walk.
  TdnnStepStats step(const at::Tensor& input, const at::Tensor& labels, const std::vector<models::tdnn::TdnnSubnet>& walks);

 private:
  std::shared_ptr<models::tdnn::DynamicTdnn> model_;
  TdnnTrainerOptions options_;
  at::Tensor W_;
  std::vector<std::string> names_;
  Adam adam_;
  std::unique_ptr<dist::GradReducer> reducer_;
  bool headBroadcast_ = false;
};

}  // namespace autospeech::train
