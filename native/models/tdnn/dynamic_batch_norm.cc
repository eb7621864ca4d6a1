#include "models/tdnn/dynamic_batch_norm.h"

#include "nn/batch_norm.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>

#include "binding/guard.h"

namespace autospeech::models::tdnn {

DynamicBatchNorm1d::DynamicBatchNorm1d(int64_t channels, bool wrapped) : channels_(channels), sel_(Select::first(channels)) {
  TensorHolder* h = holder(wrapped, "bn");
  weight_ = &param(h, "weight", at::ones({channels}));
  bias_ = &param(h, "bias", at::zeros({channels}));
  runningMean_ = &buffer(h, "running_mean", at::zeros({channels}));
  runningVar_ = &buffer(h, "running_var", at::ones({channels}));
  numBatchesTracked_ = &buffer(h, "num_batches_tracked", at::zeros({}, at::kLong));
}

void DynamicBatchNorm1d::configure(const Select& sel) {
  if (sel.count < 1 || sel.count > channels_)
    throw ArgumentError("tdnn: batch norm of " + std::to_string(channels_) + " channels cannot run " + std::to_string(sel.count));
  sel_ = sel;
}

at::Tensor DynamicBatchNorm1d::forward(const at::Tensor& x) {
  const bool training = isTraining();
  if (training) {
    at::NoGradGuard noGrad;
    numBatchesTracked_->add_(1);
  }
  const bool cudnn = at::globalContext().userEnabledCuDNN();
  // A data-parallel step with MODEL.SYNC_BN: the global batch's statistics (same views / copies,
  // so the running-statistics quirk below is kept).
  if (auto sync = training ? nn::activeSyncBatchNorm() : nullptr) {
    if (sel_.count == channels_) return sync(x, *weight_, *bias_, *runningMean_, *runningVar_, kMomentum, kEps);
    at::Tensor mean = sel_.apply(*runningMean_, 0), var = sel_.apply(*runningVar_, 0);
    return sync(x, sel_.apply(*weight_, 0), sel_.apply(*bias_, 0), mean, var, kMomentum, kEps);
  }
  if (sel_.count == channels_)
    return at::batch_norm(x, *weight_, *bias_, *runningMean_, *runningVar_, training, kMomentum, kEps, cudnn);
  // First-k: views, so a train-mode update lands in the supernet; index list: copies (lost).
  at::Tensor mean = sel_.apply(*runningMean_, 0), var = sel_.apply(*runningVar_, 0);
  return at::batch_norm(x, sel_.apply(*weight_, 0), sel_.apply(*bias_, 0), mean, var, training, kMomentum, kEps, cudnn);
}

void DynamicBatchNorm1d::copyInto(DynamicBatchNorm1d& dst, bool bumpCounter) {
  at::NoGradGuard noGrad;
  if (bumpCounter) numBatchesTracked_->add_(1);
  TORCH_CHECK(dst.channels_ == sel_.count, "tdnn clone: batch norm of ", sel_.count, " channels into ", dst.channels_);
  dst.weight_->copy_(sel_.apply(*weight_, 0));
  dst.bias_->copy_(sel_.apply(*bias_, 0));
  dst.runningMean_->copy_(sel_.apply(*runningMean_, 0));
  dst.runningVar_->copy_(sel_.apply(*runningVar_, 0));
}

void DynamicBatchNorm1d::copyAllInto(DynamicBatchNorm1d& dst) const {
  at::NoGradGuard noGrad;
  TORCH_CHECK(dst.channels_ == channels_, "tdnn clone: batch norm of ", channels_, " channels into ", dst.channels_);
  dst.weight_->copy_(*weight_);
  dst.bias_->copy_(*bias_);
  dst.runningMean_->copy_(*runningMean_);
  dst.runningVar_->copy_(*runningVar_);
  dst.numBatchesTracked_->copy_(*numBatchesTracked_);
}

}  // namespace autospeech::models::tdnn
