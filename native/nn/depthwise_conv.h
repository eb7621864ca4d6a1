// Depthwise convolutions (groups = in = out channels) on CPU float32 NCHW tensors with the native
// kernels of depthwise_kernels.h, which reproduce libtorch's (oneDNN's) arithmetic bit for bit
// without its layout reorders and im2col:
//   forward                      native (jit_dw order), with or without autograd;
//   input gradient               native (jit_dw order undilated, col2im order dilated);
//   weight gradient, dilated     native (gemv order);
//   weight gradient, undilated   ATen's (its jit_dw kernel splits the sum across threads).
// Each path is used only after a self-check, run once per process when first needed, found it equal
// bit for bit to ATen's on problems that exercise every branch; any other libtorch / oneDNN / CPU
// keeps ATen's for that path. On channels-last tensors (MODEL.CHANNELS_LAST) the dilated ones get
// native gradients too, with the NCHW kernels' values. nn/native_kernels.h switches all of it off.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>

#include "nn/layers.h"

namespace autospeech::nn {

// Throws c10::Error (a clear message, never a division by zero or an out-of-bounds kernel) unless
// x [N, C, H, W], w [C, 1, kh, kw] and, when defined, dy [N, C, OH, OW] make a depthwise convolution
// with positive stride and dilation, non-negative padding and at least one output position. Every
// implementation (native, ATen, channels-last) runs it first, so they reject the same inputs.
void checkDepthwiseArgs(const at::Tensor& x, const at::Tensor& w, const at::Tensor& dy, const Conv2dOptions& o);

// at::conv2d(x, w, {}, o.stride, o.padding, o.dilation, o.groups) through the native kernels when
// applicable; otherwise returns an undefined tensor and the caller uses ATen. reluInput: the conv of
// relu(x), the ReLU fused into the kernels (no rectified copy in memory, no separate backward pass).
at::Tensor depthwiseConvNative(const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o, bool reluInput = false);

// Per path: "native (verified)", "ATen's (self-check failed)", "not checked yet" - or "off".
std::string nativeDepthwiseStatus();
// Runs every path's self-check now (they otherwise run when first needed); returns the status.
std::string verifyNativeDepthwise();

// The native forward and both gradients (ATen's where no native kernel applies), for tests; a
// channels-last x gives the channels-last path (ATen's forward, native dilated gradients).
struct DepthwiseResult {
  at::Tensor y, dx, dw;
};
DepthwiseResult depthwiseNative(const at::Tensor& x, const at::Tensor& w, const at::Tensor& dy, const Conv2dOptions& o,
                                bool reluInput = false);
// The same from ATen alone (relu, conv2d, convolution_backward, threshold_backward): the reference.
DepthwiseResult depthwiseAten(const at::Tensor& x, const at::Tensor& w, const at::Tensor& dy, const Conv2dOptions& o,
                              bool reluInput = false);

}  // namespace autospeech::nn
