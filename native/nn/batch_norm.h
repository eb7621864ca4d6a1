// Training-mode batch normalisation on CPU float32 NCHW tensors with ATen 1.13's arithmetic, bit
// for bit, and ATen's own backward (at::native_batch_norm_backward on the saved statistics).
// ATen collects each channel's mean and variance with one scalar double accumulator per channel,
// a chain of dependent adds that dominates its forward; here 8 channels' chains run interleaved
// (each still in ATen's order), and the normalisation is the same x * alpha + beta per element.
// Whether ATen's build fuses `bias - mean * alpha` and `x * alpha + beta` into FMAs depends on its
// compiler flags: a self-check, run once per process when first needed, finds the variant that
// equals at::native_batch_norm on every output (y, saved mean / invstd, running mean / var), or
// keeps ATen's if none does. nn/native_kernels.h switches it off.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

namespace autospeech::nn {

// at::batch_norm(x, weight, bias, runningMean, runningVar, training = true, momentum, eps) with the
// native forward when applicable (updating the running statistics in place); otherwise returns an
// undefined tensor and the caller uses ATen. weight and bias may be undefined (affine = false).
at::Tensor batchNormTrainNative(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                at::Tensor& runningMean, at::Tensor& runningVar, double momentum, double eps);

// Cross-rank batch statistics (torch.nn.SyncBatchNorm) for a training-mode forward: installed by
// a data-parallel step with MODEL.SYNC_BN (dist/sync_batch_norm.h) on the compute thread, for the
// duration of the step; BatchNorm2d uses it instead of per-rank statistics.
using SyncBatchNormFn = at::Tensor (*)(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                       at::Tensor& runningMean, at::Tensor& runningVar, double momentum, double eps);
SyncBatchNormFn activeSyncBatchNorm();
class ScopedSyncBatchNorm {
 public:
  explicit ScopedSyncBatchNorm(SyncBatchNormFn fn);
  ~ScopedSyncBatchNorm();

 private:
  SyncBatchNormFn previous_;
};

// y = x * alpha + beta with alpha = invstd * weight, beta = bias - mean * alpha per channel, in
// the arithmetic of ATen's training-mode forward (the variant the self-check found) for
// contiguous float NCHW input; the same formula in plain ATen ops otherwise. No autograd.
at::Tensor batchNormApplyStats(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                               const at::Tensor& mean, const at::Tensor& invstd);

// "native (verified: ...)", "ATen's (self-check failed)", "not checked yet" or "off".
std::string nativeBatchNormStatus();
// Runs the self-check now (it otherwise runs when first needed); returns the status.
std::string verifyNativeBatchNorm();

}  // namespace autospeech::nn
