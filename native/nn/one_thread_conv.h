#pragma once
// ATen 1.13 sends an unstrided, undilated 1x1 convolution of a batch under 16 to its im2col
// fallback (slow_conv2d) when only one thread runs, on the belief that it beats oneDNN there; for
// the derived network's 1x1 layers it is ~7x slower (eval forward at 1 thread: 6.9 s in PyTorch,
// 0.92 s through oneDNN), which hits every data-parallel rank (1 thread each) and THREADS 1 users.
// Such a convolution takes the oneDNN kernel that ATen itself picks for it at 2 threads; nothing
// else changes. (The TDNN's kernel-1 conv1d over long inputs measured no faster, so it keeps ATen's.)

#include <ATen/core/Tensor.h>

namespace autospeech::nn {

/** Whether ATen would run this float CPU convolution (4-D input) through slow_conv2d only because one thread runs. */
bool oneThreadPointwiseFallback(const at::Tensor& x4d, at::IntArrayRef stride, at::IntArrayRef dilation, int64_t groups,
                                int64_t kernelH, int64_t kernelW);

/** conv2d of a 1x1 kernel through oneDNN when oneThreadPointwiseFallback, else at::conv2d. */
at::Tensor conv2dAvoidingOneThreadFallback(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, at::IntArrayRef stride,
                                           at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

}  // namespace autospeech::nn
