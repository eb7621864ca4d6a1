// Depthwise convolutions whose backward libtorch runs through oneDNN's im2col + gemv path (the
// dilated ones, on x86 CPUs with NCHW tensors): same forward (ATen's), and a backward computed by
// depthwise_grad_kernels in that path's exact floating-point order, several times faster.
//
// Used only where it is bit-identical: the tensors are CPU float32 NCHW, the convolution is
// depthwise and dilated, oneDNN is enabled, and a self-check run once per process (the first time
// such a convolution is met) found our gradients equal, bit for bit, to at::convolution_backward's
// on problems that exercise every branch of the kernels. Any other libtorch / oneDNN / CPU keeps
// ATen's backward. nn/native_kernels.h switches it off.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

#include "nn/layers.h"

namespace autospeech::nn {

// at::conv2d(x, w, {}, o.stride, o.padding, o.dilation, o.groups) with the exact native backward
// when applicable; otherwise returns an undefined tensor and the caller uses ATen.
at::Tensor depthwiseConvWithNativeGrads(const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o);

// "on (verified bit-identical to ATen)", "off", "unverified" (not yet needed) or why the check failed.
std::string nativeDepthwiseGradsStatus();

// Both gradients, native kernels vs at::convolution_backward, for tests: {dx, dw}.
std::pair<at::Tensor, at::Tensor> depthwiseGradsNative(const at::Tensor& x, const at::Tensor& w, const at::Tensor& dy,
                                                       const Conv2dOptions& o);

}  // namespace autospeech::nn
