// Training-mode batch-norm backward on CPU float32 NCHW tensors with ATen 1.13's arithmetic, bit
// for bit (at::native_batch_norm_backward with train = true, on the saved mean / invstd).
// ATen has two paths, chosen by layout, and this follows the same choice:
// - contiguous input and gradient (batch_norm_cpu_backward_contiguous_impl): per channel and
//   sample, the sum of dy and the dot of (x - mean) and dy in Vectorized<float> lanes (8 with AVX2,
//   16 with AVX-512, whichever ATen dispatched to), folded by a fixed shuffle tree and added into
//   double accumulators; dx = (dy - grad_mean - (x - mean) * k) * invstd * w per element. Which lane
//   count ATen ran and whether its compiler fused the dot's multiply-add and dx's multiply-subtract
//   into FMAs is found by a self-check (every variant is tried against ATen once per process). Here
//   both sums are taken in one pass instead of two.
// - otherwise (the gradient is typically a channel slice of a cell's concat): ATen's sum of dy
//   (at::sum, called as is), a serial double dot per channel, which ran as one dependent chain and
//   here runs 8 channels interleaved, and the same dx arithmetic in float, in one pass instead of two.
// Anything else (other layouts, feature planes under 16 values) is ATen's own.
#pragma once
#include <ATen/core/Tensor.h>

#include <array>
#include <optional>
#include <string>
#include <tuple>

namespace autospeech::nn {

// grad, x: [N, C, H, W]; weight may be undefined (affine = false); mean / invstd: the forward's
// saved statistics. mask: which of (grad input, grad weight, grad bias) to return. nullopt when the
// native kernel does not apply (or failed its self-check): the caller uses ATen.
std::optional<std::tuple<at::Tensor, at::Tensor, at::Tensor>> batchNormBackwardNative(
    const at::Tensor& grad, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& mean, const at::Tensor& invstd,
    std::array<bool, 3> mask);

// Which kernel ATen's layout rules pick and ours takes: "contiguous", "strided" or "aten" (ours
// does not apply). For tests.
std::string batchNormBackwardPath(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& weight,
                                  const at::Tensor& mean, const at::Tensor& invstd);

// "native (verified; ...)" per path, "ATen's (self-check failed)", "not checked yet" or "off".
std::string nativeBatchNormBackwardStatus();
// Runs the self-checks now (they otherwise run when first needed); returns the status.
std::string verifyNativeBatchNormBackward();

}  // namespace autospeech::nn
