#include "dist/sync_batch_norm.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "dist/process_group.h"
#include "nn/batch_norm.h"

namespace autospeech::dist {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::vector<int64_t> reduceDims(const at::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

// (1, C, 1, ...) for broadcasting a per-channel vector against x.
at::Tensor perChannel(const at::Tensor& v, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = x.size(1);
  return v.view(shape);
}

struct Stats {
  at::Tensor mean, invstd;  // float (C)
  double count;             // the global batch's values per channel
};

// The global batch's mean / invstd (and the running statistics' update) in ATen's arithmetic for
// one process of the global batch (nn/batch_norm.cc collectStats): the float mean of the double
// sum, then the double sum of the float squares (x - mean)^2, as two all-reduces (sums of doubles
// over ranks agree with one process's to rounding far below float resolution, so the float
// statistics, and hence every output and ReLU mask downstream, are one process's as a rule).
Stats globalStats(const at::Tensor& x, at::Tensor& runningMean, at::Tensor& runningVar, double momentum, double eps) {
  at::NoGradGuard noGrad;
  const int64_t C = x.size(1);
  const auto dims = reduceDims(x);
  at::Tensor xd = x.detach();
  at::Tensor first = at::cat({at::full({1}, static_cast<double>(x.numel() / C), at::TensorOptions().dtype(at::kDouble).device(x.device())),
                              xd.sum(dims, false, at::kDouble)});
  allreduceSum(first);
  first = first.cpu();
  const int64_t N = static_cast<int64_t>(first[0].item<double>());
  at::Tensor mean = (first.narrow(0, 1, C) / static_cast<double>(N)).to(at::kFloat);  // float(sum / N)
  at::Tensor sq = (xd - perChannel(mean.to(x.device()), xd)).pow(2).sum(dims, false, at::kDouble).contiguous();
  allreduceSum(sq);
  at::Tensor vs = sq.cpu().to(at::kFloat);  // float(varSum)
  at::Tensor var = (vs / static_cast<float>(N)).to(at::kDouble);
  at::Tensor invstd = (var + eps).sqrt().reciprocal().to(at::kFloat);  // float(1.0 / sqrt(var + eps))
  const float m = static_cast<float>(momentum);
  if (runningMean.defined()) {
    at::Tensor rm = runningMean.cpu();
    runningMean.copy_((mean * m + rm * (1 - m)).to(runningMean.device()));
  }
  if (runningVar.defined()) {
    at::Tensor unbiased = (vs / static_cast<float>(std::max<int64_t>(N - 1, 1))).to(at::kDouble);
    // float(momentum * unbiased + float((1 - momentum) * rv)), momentum as a float
    at::Tensor rv = runningVar.cpu();
    at::Tensor kept = (rv * (1.0f - m)).to(at::kDouble);
    runningVar.copy_((unbiased * static_cast<double>(m) + kept).to(at::kFloat).to(runningVar.device()));
  }
  const auto device = x.device();
  return {mean.to(device), invstd.to(device), static_cast<double>(N)};
}

at::Tensor normalise(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, const Stats& s) {
  return nn::batchNormApplyStats(x, weight, bias, s.mean, s.invstd);
}

// The input gradient from the global sums; the local sums for weight / bias.
variable_list backwardOf(AutogradContext* ctx, const at::Tensor& dyIn, bool affine) {
  auto saved = ctx->get_saved_variables();
  const at::Tensor x = saved[0], mean = saved[1], invstd = saved[2];
  const at::Tensor weight = affine ? saved[3] : at::Tensor();
  const double N = ctx->saved_data["count"].toDouble();
  const at::Tensor dy = dyIn.contiguous(x.suggest_memory_format());
  const auto dims = reduceDims(x);
  at::Tensor xmu = x - perChannel(mean, x);
  at::Tensor sumDy = dy.sum(dims, false, at::kDouble);
  at::Tensor sumDyXmu = (dy * xmu).sum(dims, false, at::kDouble);
  at::Tensor gradWeight, gradBias;
  if (affine && ctx->needs_input_grad(1)) gradWeight = (sumDyXmu * invstd.to(at::kDouble)).to(x.scalar_type());
  if (affine && ctx->needs_input_grad(2)) gradBias = sumDy.to(x.scalar_type());
  at::Tensor gradX;
  if (ctx->needs_input_grad(0)) {
    const int64_t C = x.size(1);
    at::Tensor both = at::cat({sumDy, sumDyXmu}).contiguous();
    allreduceSum(both);
    at::Tensor meanDy = (both.narrow(0, 0, C) / N).to(x.scalar_type());
    at::Tensor meanDyXmu = (both.narrow(0, C, C) / N).to(x.scalar_type());
    at::Tensor scale = weight.defined() ? invstd * weight : invstd;
    gradX = (dy - perChannel(meanDy, x) - xmu * perChannel(invstd * invstd * meanDyXmu, x)) * perChannel(scale, x);
  }
  if (affine) return {gradX, gradWeight, gradBias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  return {gradX, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
}

struct SyncBatchNormAffine : public torch::autograd::Function<SyncBatchNormAffine> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            at::Tensor runningMean, at::Tensor runningVar, double momentum, double eps) {
    Stats s = globalStats(x, runningMean, runningVar, momentum, eps);
    ctx->save_for_backward({x, s.mean, s.invstd, weight});
    ctx->saved_data["count"] = s.count;
    return normalise(x, weight, bias, s);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) { return backwardOf(ctx, grads[0], true); }
};

struct SyncBatchNormPlain : public torch::autograd::Function<SyncBatchNormPlain> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, at::Tensor runningMean, at::Tensor runningVar,
                            double momentum, double eps) {
    Stats s = globalStats(x, runningMean, runningVar, momentum, eps);
    ctx->save_for_backward({x, s.mean, s.invstd});
    ctx->saved_data["count"] = s.count;
    return normalise(x, at::Tensor(), at::Tensor(), s);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    variable_list g = backwardOf(ctx, grads[0], false);
    return {g[0], at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor syncBatchNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, at::Tensor& runningMean,
                         at::Tensor& runningVar, double momentum, double eps) {
  TORCH_CHECK(x.dim() >= 2, "SyncBatchNorm needs an input of at least 2 dims, got ", x.dim());
  TORCH_CHECK(weight.defined() == bias.defined(), "SyncBatchNorm: weight and bias must both be given or both be absent");
  const bool grad = at::GradMode::is_enabled() && (x.requires_grad() || (weight.defined() && weight.requires_grad()));
  if (grad) {
    if (weight.defined()) return SyncBatchNormAffine::apply(x, weight, bias, runningMean, runningVar, momentum, eps);
    return SyncBatchNormPlain::apply(x, runningMean, runningVar, momentum, eps);
  }
  Stats s = globalStats(x, runningMean, runningVar, momentum, eps);
  at::NoGradGuard noGrad;
  return normalise(x, weight, bias, s);
}

}  // namespace autospeech::dist
