#include "train/loss.h"

#include <ATen/ATen.h>

namespace autospeech::train {

at::Tensor labelSmoothedCrossEntropy(const at::Tensor& logits, const at::Tensor& labels, double epsilon) {
  TORCH_CHECK(logits.dim() == 2, "loss: logits must be (batch, classes), got ", logits.sizes());
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), "loss: labels must be (batch,) = ",
              logits.size(0), ", got ", labels.sizes());
  const int64_t K = logits.size(1);
  at::Tensor labels64 = labels.to(logits.device(), at::kLong);
  {
    at::NoGradGuard noGrad;
    TORCH_CHECK(labels64.numel() == 0 || (labels64.min().item<int64_t>() >= 0 && labels64.max().item<int64_t>() < K),
                "loss: labels must be in [0, ", K, ")");
  }
  at::Tensor logProbs = at::log_softmax(logits, 1);
  at::Tensor targets = at::zeros(logProbs.sizes(), logProbs.options().requires_grad(false))
                           .scatter_(1, labels64.unsqueeze(1), 1);
  targets = (1 - epsilon) * targets + epsilon / static_cast<double>(K);
  return (-targets * logProbs).mean(0).sum();
}

}  // namespace autospeech::train
