#include "train/aam_softmax.h"

#include <ATen/ATen.h>

#include <cmath>

namespace autospeech::train {
namespace {

// F.normalize(t, p=2, dim, eps=1e-12): t / max(||t||_2 along dim, eps).
at::Tensor l2Normalize(const at::Tensor& t, int64_t dim) {
  return t / at::norm(t, 2, {dim}, /*keepdim=*/true).clamp_min(1e-12).expand_as(t);
}

}  // namespace

AamSoftmaxOutput aamSoftmax(const at::Tensor& x, const at::Tensor& W, const at::Tensor& labels, const AamSoftmaxOptions& o) {
  TORCH_CHECK(x.dim() == 2, "aamSoftmax: embeddings must be (batch, dim), got ", x.sizes());
  TORCH_CHECK(W.dim() == 2 && W.size(0) == x.size(1), "aamSoftmax: weight must be (", x.size(1), ", classes), got ", W.sizes());
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == x.size(0), "aamSoftmax: labels must be (", x.size(0), "), got ", labels.sizes());
  TORCH_CHECK(std::isfinite(o.margin) && std::isfinite(o.scale), "aamSoftmax: margin and scale must be finite");
  const int64_t C = W.size(1);
  at::Tensor y = labels.to(x.device(), at::kLong);
  {
    at::NoGradGuard noGrad;
    TORCH_CHECK(y.numel() == 0 || (y.min().item<int64_t>() >= 0 && y.max().item<int64_t>() < C), "aamSoftmax: labels must be in [0, ", C, ")");
  }
  AamSoftmaxOutput out;
  auto marginPath = [&] {
    const double cosM = std::cos(o.margin), sinM = std::sin(o.margin);
    const double th = std::cos(M_PI - o.margin), mm = std::sin(M_PI - o.margin) * o.margin;
    out.cosine = at::matmul(l2Normalize(x, 1), l2Normalize(W, 0));
    at::Tensor sine = at::sqrt((1.0 - out.cosine * out.cosine).clamp(0, 1));
    out.phi = out.cosine * cosM - sine * sinM;
    out.usesPhi = o.easyMargin ? out.cosine > 0 : (out.cosine - th) > 0;
    at::Tensor target = at::where(out.usesPhi, out.phi, o.easyMargin ? out.cosine : out.cosine - mm);
    at::Tensor oneHot = at::zeros_like(out.cosine, out.cosine.options().requires_grad(false)).scatter_(1, y.unsqueeze(1), 1);
    return (oneHot * target + (1.0 - oneHot) * out.cosine) * o.scale;
  };
  if (o.soft) {
    out.logits = at::matmul(x, W);
    if (o.diagnostics) {
      at::NoGradGuard noGrad;
      marginPath();
    }
  } else {
    out.logits = marginPath();
  }
  out.loss = at::cross_entropy_loss(out.logits, y);
  return out;
}

}  // namespace autospeech::train
