// torch.nn.SyncBatchNorm's training-mode arithmetic over the job's process group: the forward
// all-gathers every rank's per-channel count, sum and squared deviations (combined exactly, in
// double) into the global batch's mean and biased variance (running statistics updated with the
// unbiased one over the global count); the backward all-reduces sum(dy) and sum(dy * (x - mean))
// so the input gradient is the global batch's. The weight and bias gradients stay per rank, and
// the gradient all-reduce averages them, as in DDP with SyncBatchNorm.
#pragma once
#include <ATen/core/Tensor.h>

namespace autospeech::dist {

at::Tensor syncBatchNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, at::Tensor& runningMean,
                         at::Tensor& runningVar, double momentum, double eps);

}  // namespace autospeech::dist
