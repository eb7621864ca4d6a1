// Adam's per-parameter update (adam.h) as one pass over the parameter, bit for bit the sequence of
// ATen 1.13 element-wise ops it replaces: grad + wd * p, exp_avg * b1 + (1 - b1) * g, exp_avg_sq * b2
// + (1 - b2) * g * g, sqrt(exp_avg_sq) / sqrt(bc2) + eps, p + (-step_size) * exp_avg / denom. Ten
// passes over memory become one; the values do not change. Whether ATen's kernels fused each
// multiply-add into an FMA (add with alpha: vec::fmadd; addcmul: up to its compiler) is found by a
// self-check against those ATen ops, once per process; without a verified variant, ATen's ops run.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

namespace autospeech::train {

// The scalars as ATen sees them (each converted to float by its op, as here).
struct AdamScalars {
  double beta1, beta2, eps, weightDecay, biasCorrection2Sqrt, stepSize;
};

// Updates p, expAvg, expAvgSq in place from grad: in one fused pass where it applies (contiguous
// float CPU tensors, native kernels on, a verified variant), else through ATen's ops themselves.
void adamUpdate(at::Tensor& p, const at::Tensor& grad, at::Tensor& expAvg, at::Tensor& expAvgSq, const AdamScalars& s);

// "native (verified; ...)", "ATen's (self-check failed)", "not checked yet" or "off".
std::string fusedAdamStatus();
std::string verifyFusedAdam();

}  // namespace autospeech::train
