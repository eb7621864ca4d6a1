// sugar's DynamicBatchNorm1d (eps 1e-5, momentum 0.1, affine, tracked statistics) with its
// write-back quirk, reproduced on purpose:
//  * eval: normalise with the selected slice of the running statistics, weight and bias;
//  * train: batch statistics; the running statistics of a first-k selection are views of the
//    supernet's buffers and are updated in place, but an index-list selection (block first_conv.bn
//    below full mid width, bnpool below full cat) updates a copy, so that update is LOST;
//  * num_batches_tracked += 1 on every train-mode forward, whatever the selection;
//  * at full width it is plain nn.BatchNorm1d (always updates).
// Wrapped (the supernet): tensors under `bn.`; standalone (a clone's or bnembed's plain BN): on
// the module itself.
#pragma once
#include "models/tdnn/holder.h"
#include "models/tdnn/select.h"

namespace autospeech::models::tdnn {

class DynamicBatchNorm1d : public LeafModule {
 public:
  DynamicBatchNorm1d(int64_t channels, bool wrapped);

  void configure(const Select& sel);
  at::Tensor forward(const at::Tensor& x);
  // Copies the selected slice (weight, bias, running stats) into a plain BN of the active width.
  // `bumpCounter`: sugar's clone of a train-mode supernet reads the slice through a property that
  // increments num_batches_tracked.
  void copyInto(DynamicBatchNorm1d& dst, bool bumpCounter);
  // A plain copy of everything, num_batches_tracked included (sugar deep-copies bnembed).
  void copyAllInto(DynamicBatchNorm1d& dst) const;

  static constexpr double kEps = 1e-5;
  static constexpr double kMomentum = 0.1;

 private:
  int64_t channels_;
  at::Tensor *weight_, *bias_, *runningMean_, *runningVar_, *numBatchesTracked_;
  Select sel_;
};

}  // namespace autospeech::models::tdnn
