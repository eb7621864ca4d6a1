// The reference loss.CrossEntropyLoss: label smoothing q = (1 - eps) * onehot + eps / K,
// loss = mean over the batch of sum_k -q_k * log_softmax(logits)_k, in the same operation order.
#pragma once
#include <ATen/core/Tensor.h>

namespace autospeech::train {

at::Tensor labelSmoothedCrossEntropy(const at::Tensor& logits, const at::Tensor& labels, double epsilon);

}  // namespace autospeech::train
