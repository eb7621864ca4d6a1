// Depthwise (groups = channels, one filter per channel) 2-D convolution over NCHW float32 planes,
// computed in exactly the floating-point order of the oneDNN 2.6 kernels libtorch 1.13 runs on x86:
//   jit_dw (forward, and the backward-data pass of undilated filters): each output a chain of fused
//     multiply-adds over the filter taps in row-major order, starting from zero;
//   gemm:jit (the backward passes of dilated filters, src/cpu/gemm_convolution.cpp):
//     data:    col = dy * w (a K = 1 sgemm: one rounded product per tap), then col2im adds the taps
//              into a zeroed dx in row-major (kh, kw) order;
//     weights: per channel, minibatch by minibatch, y += dot(im2col row, dy) through the
//              "jit_avx_gemv_t_f32_kern": 8 FMA lanes over the first 16*floor(os/16) terms (lane l
//              takes the terms k = l mod 8 in order), a fixed horizontal sum, then the remaining
//              8/4/2/1-term blocks each summed the same way and added to y.
// libtorch wraps the jit_dw passes in layout reorders (NCHW <-> 16-channel blocks) that cost more
// than the convolutions, and the gemm passes im2col every plane; these kernels do the same
// arithmetic in place on NCHW. They are pure loops (no libtorch) so they can be checked against
// libtorch directly; depthwise_conv.h decides when libtorch would have taken each path and checks
// bit-identity once per process before using them.
#pragma once
#include <cstdint>

namespace autospeech::nn {

struct DepthwiseGeometry {
  int64_t N, C, H, W;     // input
  int64_t KH, KW;         // filter
  int64_t SH, SW;         // stride
  int64_t PH, PW;         // padding (top/left = bottom/right)
  int64_t DH, DW;         // dilation (1 = none)
  // The convolution reads relu(x) (an nn.ReLU fused in front of it): the forward and the weight
  // gradient rectify x as they load it, and the input gradient is zeroed where x <= 0 (exactly
  // torch's threshold_backward on relu(x)).
  bool reluInput = false;
  int64_t OH() const { return (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1; }
  int64_t OW() const { return (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1; }
};

// y[N,C,OH,OW] from x[N,C,H,W] and w[C,1,KH,KW] (jit_dw order). Channels [c0, c1) only (callers
// parallelise).
void depthwiseForward(const DepthwiseGeometry& g, const float* x, const float* w, float* y, int64_t c0, int64_t c1);

// How the taps' contributions to dx are summed: fused (jit_dw) or product then sum (col2im).
enum class TapSum { fma, mulAdd };

// dx[N,C,H,W] from dy[N,C,OH,OW] and w[C,1,KH,KW]. Channels [c0, c1).
// With g.reluInput, x is the unrectified input (for the mask); otherwise unused.
void depthwiseGradInput(const DepthwiseGeometry& g, const float* dy, const float* w, float* dx, int64_t c0, int64_t c1,
                        TapSum sum, const float* x = nullptr);

// dw[C,1,KH,KW] from x[N,C,H,W] and dy[N,C,OH,OW] (gemm:jit order). Channels [c0, c1); `scratch` holds
// depthwiseGradWeightScratch(g) floats.
int64_t depthwiseGradWeightScratch(const DepthwiseGeometry& g);
void depthwiseGradWeight(const DepthwiseGeometry& g, const float* x, const float* dy, float* dw, int64_t c0, int64_t c1,
                         float* scratch);

// The same gradients on channels-last tensors (x[N,H,W,C], dy[N,OH,OW,C]), in the dilated
// (col2im and gemv) orders above, so they equal the NCHW kernels' bit for bit: dx for samples
// [n0, n1) from wT[KH*KW, C] (the filter transposed); dwT[KH*KW, C] for channels [c0, c1), with
// `lanes` holding 8 * (c1 - c0) floats.
void depthwiseGradInputNhwc(const DepthwiseGeometry& g, const float* dy, const float* wT, float* dx, int64_t n0, int64_t n1);
void depthwiseGradWeightNhwc(const DepthwiseGeometry& g, const float* x, const float* dy, float* dwT, int64_t c0, int64_t c1,
                             float* lanes);

}  // namespace autospeech::nn
