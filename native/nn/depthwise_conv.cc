#include "nn/depthwise_conv.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <mutex>
#include <vector>

#include "nn/depthwise_grad_kernels.h"
#include "nn/native_kernels.h"

namespace autospeech::nn {
namespace {

DepthwiseGeometry geometry(const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w.size(2), w.size(3), o.stride[0], o.stride[1],
          o.padding[0], o.padding[1], o.dilation[0], o.dilation[1]};
}

at::Tensor gradInput(const DepthwiseGeometry& g, const at::Tensor& dy, const at::Tensor& w) {
  at::Tensor dx = at::empty({g.N, g.C, g.H, g.W}, dy.options());
  const float* pdy = dy.data_ptr<float>();
  const float* pw = w.data_ptr<float>();
  float* pdx = dx.data_ptr<float>();
  at::parallel_for(0, g.C, 1, [&](int64_t c0, int64_t c1) { depthwiseGradInput(g, pdy, pw, pdx, c0, c1); });
  return dx;
}

at::Tensor gradWeight(const DepthwiseGeometry& g, const at::Tensor& x, const at::Tensor& dy) {
  at::Tensor dw = at::empty({g.C, 1, g.KH, g.KW}, dy.options());
  const float* px = x.data_ptr<float>();
  const float* pdy = dy.data_ptr<float>();
  float* pdw = dw.data_ptr<float>();
  at::parallel_for(0, g.C, 1, [&](int64_t c0, int64_t c1) {
    std::vector<float> col(depthwiseGradWeightScratch(g));
    depthwiseGradWeight(g, px, pdy, pdw, c0, c1, col.data());
  });
  return dw;
}

bool applicable(const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o) {
  return x.device().is_cpu() && x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat && x.dim() == 4 &&
         x.is_contiguous() && w.is_contiguous() && o.groups > 1 && o.groups == o.in && o.in == o.out &&
         (o.dilation[0] > 1 || o.dilation[1] > 1) && at::globalContext().userEnabledMkldnn() &&
         x.size(2) + 2 * o.padding[0] >= o.dilation[0] * (o.kernel[0] - 1) + 1 &&
         x.size(3) + 2 * o.padding[1] >= o.dilation[1] * (o.kernel[1] - 1) + 1;
}

// One problem of the self-check: both gradients against at::convolution_backward, bit for bit.
bool agreesWithAten(int64_t N, int64_t C, int64_t H, int64_t W, const Conv2dOptions& o) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  at::Tensor x = at::randn({N, C, H, W}, gen, at::TensorOptions().dtype(at::kFloat));
  at::Tensor w = at::randn({C, 1, o.kernel[0], o.kernel[1]}, gen, at::TensorOptions().dtype(at::kFloat)).mul_(0.3);
  const DepthwiseGeometry g = geometry(x, w, o);
  at::Tensor dy = at::randn({N, C, g.OH(), g.OW()}, gen, at::TensorOptions().dtype(at::kFloat));
  auto ref = at::convolution_backward(dy, x, w, c10::nullopt, o.stride, o.padding, o.dilation, false, {0, 0}, C,
                                      {true, true, false});
  return at::equal(gradInput(g, dy, w), std::get<0>(ref)) && at::equal(gradWeight(g, x, dy), std::get<1>(ref));
}

enum class Check { unverified, passed, failed };
std::mutex checkMutex;
Check checkState = Check::unverified;

// Shapes that take every branch: 16-term blocks plus 8/4/2/1-term tails (os % 16 = 15 and 0),
// stride 2, asymmetric kernels and dilations, maps smaller than the filter's reach, C = 2 and 64.
bool selfCheck() {
  std::lock_guard<std::mutex> lock(checkMutex);
  if (checkState == Check::unverified) {
    at::NoGradGuard noGrad;
    bool ok = agreesWithAten(3, 4, 5, 3, {4, 4, {3, 3}, {1, 1}, {2, 2}, {2, 2}, 4}) &&      // os = 15
              agreesWithAten(2, 64, 19, 17, {64, 64, {5, 5}, {1, 1}, {4, 4}, {2, 2}, 64}) &&  // os = 323
              agreesWithAten(4, 8, 38, 33, {8, 8, {3, 3}, {2, 2}, {2, 2}, {2, 2}, 8}) &&
              agreesWithAten(2, 2, 21, 23, {2, 2, {3, 1}, {1, 1}, {2, 0}, {2, 1}, 2}) &&
              agreesWithAten(2, 2, 20, 16, {2, 2, {1, 3}, {2, 1}, {0, 2}, {1, 2}, 2});           // os = 160
    checkState = ok ? Check::passed : Check::failed;
  }
  return checkState == Check::passed;
}

struct DepthwiseDilatedConv : public torch::autograd::Function<DepthwiseDilatedConv> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const Conv2dOptions& o) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["geometry"] = std::vector<int64_t>{o.stride[0], o.stride[1], o.padding[0], o.padding[1],
                                                       o.dilation[0], o.dilation[1]};
    return at::conv2d(x, w, {}, o.stride, o.padding, o.dilation, o.groups);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1];
    auto p = ctx->saved_data["geometry"].toIntVector();
    const DepthwiseGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), w.size(2), w.size(3),
                              p[0], p[1], p[2], p[3], p[4], p[5]};
    at::Tensor dy = grads[0].contiguous();
    at::Tensor dx = ctx->needs_input_grad(0) ? gradInput(g, dy, w) : at::Tensor();
    at::Tensor dw = ctx->needs_input_grad(1) ? gradWeight(g, x, dy) : at::Tensor();
    return {dx, dw, at::Tensor()};
  }
};

}  // namespace

at::Tensor depthwiseConvWithNativeGrads(const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o) {
  if (!nativeKernelsEnabled() || !at::GradMode::is_enabled() || !(x.requires_grad() || w.requires_grad())) return {};
  if (!applicable(x, w, o) || !selfCheck()) return {};
  return DepthwiseDilatedConv::apply(x, w, o);
}

std::string nativeDepthwiseGradsStatus() {
  if (!nativeKernelsEnabled()) return "off";
  std::lock_guard<std::mutex> lock(checkMutex);
  switch (checkState) {
    case Check::passed: return "on (verified bit-identical to ATen)";
    case Check::failed: return "ATen's (this libtorch's backward differs from the native kernels)";
    default: return "on once verified (checked at the first dilated depthwise convolution)";
  }
}

std::pair<at::Tensor, at::Tensor> depthwiseGradsNative(const at::Tensor& x, const at::Tensor& w, const at::Tensor& dy,
                                                       const Conv2dOptions& o) {
  TORCH_CHECK(applicable(x, w, o), "depthwiseGradsNative: not a dilated depthwise NCHW float convolution");
  const DepthwiseGeometry g = geometry(x, w, o);
  TORCH_CHECK(dy.sizes() == at::IntArrayRef({g.N, g.C, g.OH(), g.OW()}), "depthwiseGradsNative: dy has the wrong shape");
  at::Tensor dyc = dy.contiguous();
  return {gradInput(g, dyc, w), gradWeight(g, x, dyc)};
}

}  // namespace autospeech::nn
