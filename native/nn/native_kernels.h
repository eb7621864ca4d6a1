// One switch for the exact native kernels that replace ATen's in training (the dilated depthwise
// backward, the max pool with its backward): on by default; off with setNativeKernels(false) or
// AUTOSPEECH_NATIVE_KERNELS=0, which gives ATen's own kernels (for A/B tests and bisecting).
#pragma once

namespace autospeech::nn {

bool nativeKernelsEnabled();
void setNativeKernels(bool on);

}  // namespace autospeech::nn
