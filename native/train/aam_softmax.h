// sugar's AAMSoftmax (additive angular margin) head and its loss, as ATen ops under autograd so the
// gradients reach the embeddings and the class weights:
//   cos = normalize(x, dim 1) @ normalize(W, dim 0)   (F.normalize, eps 1e-12)
//   sin = sqrt(clamp(1 - cos^2, 0, 1)),  phi = cos cos(m) - sin sin(m)
//   target logit: phi where cos - cos(pi - m) > 0, else cos - sin(pi - m) m
//                 (easy margin: phi where cos > 0, else cos)
//   logits = s (onehot phi + (1 - onehot) cos),  loss = cross-entropy, mean, no label smoothing.
// The constants are float64 as Python's math gives them. Soft mode (sugar's soft(), for softmax
// pre-training epochs) is plain x @ W: no normalisation, no margin, no scale. At cos = +-1 exactly
// the square root's derivative is infinite, and the gradients are inf/nan as in the reference.
#pragma once
#include <ATen/core/Tensor.h>

namespace autospeech::train {

struct AamSoftmaxOptions {
  double margin = 0.2;
  double scale = 30;
  bool easyMargin = false;
  bool soft = false;
  // Soft mode: also compute cosine / phi / usesPhi (the margin path's values, without gradients).
  bool diagnostics = false;
};

struct AamSoftmaxOutput {
  at::Tensor logits;   // (B, C), what the cross-entropy sees
  at::Tensor loss;     // () mean cross-entropy
  at::Tensor cosine;   // (B, C)
  at::Tensor phi;      // (B, C) cos cos(m) - sin sin(m) for every entry, before the branch
  at::Tensor usesPhi;  // (B, C) bool: where the margin branch takes phi (it matters on the targets)
};

// x (B, D) float, W (D, C) float, labels (B) integer in [0, C).
AamSoftmaxOutput aamSoftmax(const at::Tensor& x, const at::Tensor& W, const at::Tensor& labels, const AamSoftmaxOptions& options);

}  // namespace autospeech::train
