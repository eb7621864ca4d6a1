// Forward-only pooling kernels for NCHW float tensors, used where no gradient is needed (eval,
// and the search's unselected ops). They return exactly at::max_pool2d's / at::avg_pool2d's
// values: a max is one of its inputs, whatever the order (NaN propagates, ties keep the first in
// row-major window order, as ATen); the average sums the window in ATen's row-major order and
// divides once. ATen's CPU max_pool2d always computes int64 indices as well; these do not, and
// the interior loops vectorise.
#pragma once
#include <ATen/core/Tensor.h>

namespace autospeech::nn {

// kernel k, stride s, padding p, dilation 1, floor mode. Falls back to ATen for anything else.
at::Tensor maxPool2dNoGrad(const at::Tensor& x, int64_t k, int64_t s, int64_t p);
// The same forward with autograd: a backward bit-identical to ATen's max_pool2d_with_indices_backward
// (the argmax kept as a one-byte window tap instead of ATen's int64 index).
at::Tensor maxPool2dTrain(const at::Tensor& x, int64_t k, int64_t s, int64_t p);
at::Tensor avgPool2dNoGrad(const at::Tensor& x, int64_t k, int64_t s, int64_t p, bool countIncludePad);

}  // namespace autospeech::nn
