#include "nn/one_thread_conv.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

namespace autospeech::nn {

bool oneThreadPointwiseFallback(const at::Tensor& x, at::IntArrayRef stride, at::IntArrayRef dilation, int64_t groups,
                                int64_t kernelH, int64_t kernelW) {
  if (groups != 1 || kernelH != 1 || kernelW != 1 || x.dim() != 4 || !x.device().is_cpu() || x.scalar_type() != at::kFloat ||
      x.is_mkldnn() || x.size(0) >= 16 || at::get_num_threads() > 1)
    return false;
  for (int64_t s : stride)
    if (s != 1) return false;
  for (int64_t d : dilation)
    if (d != 1) return false;
  if (!at::hasMKLDNN() || !at::globalContext().userEnabledMkldnn()) return false;
  // ATen's own rule for when oneDNN is worth it at all (else its fallback at any thread count).
  return x.size(0) > 1 || x.numel() > 20480;
}

at::Tensor conv2dAvoidingOneThreadFallback(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, at::IntArrayRef stride,
                                           at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  if (w.dim() == 4 && oneThreadPointwiseFallback(x, stride, dilation, groups, w.size(2), w.size(3)))
    return at::mkldnn_convolution(x, w, bias, padding, stride, dilation, groups);
  return at::conv2d(x, w, bias, stride, padding, dilation, groups);
}

}  // namespace autospeech::nn
