#include "nn/depthwise_conv.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <array>
#include <vector>

#include "nn/depthwise_kernels.h"
#include "nn/native_kernels.h"
#include "nn/self_check.h"

namespace autospeech::nn {
namespace {

bool dilated(const Conv2dOptions& o) { return o.dilation[0] > 1 || o.dilation[1] > 1; }

DepthwiseGeometry geometry(const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o, bool reluInput = false) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w.size(2),   w.size(3),     o.stride[0],
          o.stride[1], o.padding[0], o.padding[1], o.dilation[0], o.dilation[1], reluInput};
}

// Runs kernel(c0, c1) over channel ranges in parallel (every kernel is independent per channel).
template <typename Kernel>
void overChannels(const DepthwiseGeometry& g, Kernel kernel) {
  at::parallel_for(0, g.C, 1, [&](int64_t c0, int64_t c1) { kernel(c0, c1); });
}

at::Tensor forwardNative(const DepthwiseGeometry& g, const at::Tensor& x, const at::Tensor& w) {
  RECORD_FUNCTION("autospeech::depthwise_forward", std::vector<c10::IValue>());  // visible to the op profiler
  at::Tensor y = at::empty({g.N, g.C, g.OH(), g.OW()}, x.options());
  const float *px = x.data_ptr<float>(), *pw = w.data_ptr<float>();
  float* py = y.data_ptr<float>();
  overChannels(g, [&](int64_t c0, int64_t c1) { depthwiseForward(g, px, pw, py, c0, c1); });
  return y;
}

// x: the unrectified input when g.reluInput (the gradient is masked where x <= 0).
at::Tensor gradInputNative(const DepthwiseGeometry& g, const at::Tensor& dy, const at::Tensor& w, const at::Tensor& x = {}) {
  RECORD_FUNCTION("autospeech::depthwise_grad_input", std::vector<c10::IValue>());  // visible to the op profiler
  at::Tensor dx = at::empty({g.N, g.C, g.H, g.W}, dy.options());
  const float *pdy = dy.data_ptr<float>(), *pw = w.data_ptr<float>();
  float* pdx = dx.data_ptr<float>();
  const TapSum sum = g.DH > 1 || g.DW > 1 ? TapSum::mulAdd : TapSum::fma;
  const float* px = g.reluInput ? x.data_ptr<float>() : nullptr;
  overChannels(g, [&](int64_t c0, int64_t c1) { depthwiseGradInput(g, pdy, pw, pdx, c0, c1, sum, px); });
  return dx;
}

at::Tensor gradWeightNative(const DepthwiseGeometry& g, const at::Tensor& x, const at::Tensor& dy) {
  RECORD_FUNCTION("autospeech::depthwise_grad_weight", std::vector<c10::IValue>());  // visible to the op profiler
  at::Tensor dw = at::empty({g.C, 1, g.KH, g.KW}, dy.options());
  const float *px = x.data_ptr<float>(), *pdy = dy.data_ptr<float>();
  float* pdw = dw.data_ptr<float>();
  overChannels(g, [&](int64_t c0, int64_t c1) {
    std::vector<float> col(depthwiseGradWeightScratch(g));
    depthwiseGradWeight(g, px, pdy, pdw, c0, c1, col.data());
  });
  return dw;
}

// A depthwise convolution (one filter per channel, no bias) on 4-D CPU float tensors.
bool depthwiseFloat(const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o) {
  return x.device().is_cpu() && x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat && x.dim() == 4 &&
         o.groups > 1 && o.groups == o.in && o.in == o.out && x.size(1) == o.in;
}

// The filter's reach (with its dilation) fits the padded input in both dimensions.
bool fitsPaddedInput(const at::Tensor& x, const Conv2dOptions& o) {
  for (int d = 0; d < 2; ++d)
    if (x.size(2 + d) + 2 * o.padding[d] < o.dilation[d] * (o.kernel[d] - 1) + 1) return false;
  return true;
}

// Channels-last (the MODEL.CHANNELS_LAST option): oneDNN runs dilated depthwise backward passes on
// NHWC with its generic direct kernel, slowly; these give the NCHW kernels' values instead.
bool channelsLastDilated(const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o) {
  return depthwiseFloat(x, w, o) && !x.is_contiguous() && x.is_contiguous(at::MemoryFormat::ChannelsLast) && dilated(o) &&
         fitsPaddedInput(x, o);
}

at::Tensor gradInputNhwc(const DepthwiseGeometry& g, const at::Tensor& dy, const at::Tensor& w) {
  RECORD_FUNCTION("autospeech::depthwise_grad_input_nhwc", std::vector<c10::IValue>());  // visible to the op profiler
  at::Tensor dx = at::empty({g.N, g.C, g.H, g.W}, dy.options().memory_format(at::MemoryFormat::ChannelsLast));
  at::Tensor wT = w.reshape({g.C, g.KH * g.KW}).t().contiguous();
  const float *pdy = dy.data_ptr<float>(), *pw = wT.data_ptr<float>();
  float* pdx = dx.data_ptr<float>();
  at::parallel_for(0, g.N, 1, [&](int64_t n0, int64_t n1) { depthwiseGradInputNhwc(g, pdy, pw, pdx, n0, n1); });
  return dx;
}

at::Tensor gradWeightNhwc(const DepthwiseGeometry& g, const at::Tensor& x, const at::Tensor& dy) {
  RECORD_FUNCTION("autospeech::depthwise_grad_weight_nhwc", std::vector<c10::IValue>());  // visible to the op profiler
  at::Tensor dwT = at::empty({g.KH * g.KW, g.C}, dy.options().memory_format(at::MemoryFormat::Contiguous));
  const float *px = x.data_ptr<float>(), *pdy = dy.data_ptr<float>();
  float* pdw = dwT.data_ptr<float>();
  at::parallel_for(0, g.C, 8, [&](int64_t c0, int64_t c1) {
    std::vector<float> lanes(8 * (c1 - c0));
    depthwiseGradWeightNhwc(g, px, pdy, pdw, c0, c1, lanes.data());
  });
  return dwT.t().reshape({g.C, 1, g.KH, g.KW}).contiguous();
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> atenBackward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& w,
                                                            const Conv2dOptions& o, std::array<bool, 3> mask) {
  return at::convolution_backward(dy, x, w, c10::nullopt, o.stride, o.padding, o.dilation, false, {0, 0}, o.groups, mask);
}

// ---- the self-checks ----

enum Path { kForward, kGradInputUndilated, kGradsDilated, kPaths };
const char* const kPathNames[kPaths] = {"forward", "undilated input gradient", "dilated gradients"};
SelfCheck checks[kPaths];

struct Problem {
  int64_t N, C, H, W;
  Conv2dOptions o;
};

bool agreesWithAten(Path path, const Problem& p) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor x = at::randn({p.N, p.C, p.H, p.W}, gen, f32);
  at::Tensor w = at::randn({p.C, 1, p.o.kernel[0], p.o.kernel[1]}, gen, f32).mul_(0.3);
  const DepthwiseGeometry g = geometry(x, w, p.o);
  if (path == kForward) return at::equal(forwardNative(g, x, w), at::conv2d(x, w, {}, p.o.stride, p.o.padding, p.o.dilation, p.C));
  at::Tensor dy = at::randn({p.N, p.C, g.OH(), g.OW()}, gen, f32);
  auto ref = atenBackward(dy, x, w, p.o, {true, true, false});
  if (!at::equal(gradInputNative(g, dy, w), std::get<0>(ref))) return false;
  return path != kGradsDilated || at::equal(gradWeightNative(g, x, dy), std::get<1>(ref));
}

Conv2dOptions dw(int64_t C, Pair k, Pair s, Pair p, Pair d) { return {C, C, k, s, p, d, C}; }

// Problems that take every branch of the kernels: batch 1 and > 1, strides 1 and 2, 3x3 to 7x7 and
// asymmetric filters, maps smaller than a filter's reach, and for the gemv 16-term blocks with
// 8/4/2/1-term tails (15 and 323 outputs per plane).
bool verified(Path path) {
  return checks[path].passed([path] {
    at::NoGradGuard noGrad;
    std::vector<Problem> problems;
    if (path == kForward || path == kGradInputUndilated)
      problems = {{1, 4, 11, 9, dw(4, {3, 3}, {1, 1}, {1, 1}, {1, 1})},  {3, 8, 38, 33, dw(8, {3, 3}, {1, 1}, {1, 1}, {1, 1})},
                  {2, 8, 38, 33, dw(8, {5, 5}, {2, 2}, {2, 2}, {1, 1})},  {2, 3, 20, 17, dw(3, {7, 7}, {1, 1}, {3, 3}, {1, 1})},
                  {2, 3, 21, 23, dw(3, {3, 1}, {2, 1}, {1, 0}, {1, 1})},  {2, 2, 2, 3, dw(2, {5, 5}, {1, 1}, {2, 2}, {1, 1})}};
    if (path == kForward || path == kGradsDilated)
      for (const Problem& p : std::vector<Problem>{
               {3, 4, 5, 3, dw(4, {3, 3}, {1, 1}, {2, 2}, {2, 2})},     {2, 64, 19, 17, dw(64, {5, 5}, {1, 1}, {4, 4}, {2, 2})},
               {4, 8, 38, 33, dw(8, {3, 3}, {2, 2}, {2, 2}, {2, 2})},   {2, 2, 21, 23, dw(2, {3, 1}, {1, 1}, {2, 0}, {2, 1})},
               {2, 2, 20, 16, dw(2, {1, 3}, {2, 1}, {0, 2}, {1, 2})},   {1, 3, 9, 7, dw(3, {5, 5}, {1, 1}, {4, 4}, {2, 2})}})
        problems.push_back(p);
    for (const Problem& p : problems)
      if (!agreesWithAten(path, p)) return false;
    return true;
  });
}

// oneDNN runs a depthwise convolution with its jit_dw kernels (whose order the native kernels
// follow) unless the filter's reach fits inside a padding ("kernel_outside_src"): those go to its
// gemm path, and so to ATen here.
bool filterReachesInput(const at::Tensor& x, const Conv2dOptions& o) {
  if (!fitsPaddedInput(x, o)) return false;
  for (int d = 0; d < 2; ++d) {
    const int64_t in = x.size(2 + d), ext = o.dilation[d] * (o.kernel[d] - 1) + 1, pad = o.padding[d];
    const int64_t out = (in + 2 * pad - ext) / o.stride[d] + 1, endPad = (out - 1) * o.stride[d] + ext - in - pad;
    if (ext <= pad || ext <= endPad) return false;
  }
  return true;
}

bool applicable(const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o) {
  return depthwiseFloat(x, w, o) && x.is_contiguous() && w.is_contiguous() && at::globalContext().userEnabledMkldnn() &&
         filterReachesInput(x, o);
}

at::Tensor forwardAnyway(const DepthwiseGeometry& g, const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o) {
  if (verified(kForward)) return forwardNative(g, x, w);
  return at::conv2d(g.reluInput ? at::relu(x) : x, w, {}, o.stride, o.padding, o.dilation, o.groups);
}

// ATen's gradients of conv(relu(x)) (reluInput) or conv(x): mask says which of dx, dw to compute.
std::pair<at::Tensor, at::Tensor> atenGrads(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& w,
                                            const Conv2dOptions& o, bool reluInput, bool needDx, bool needDw) {
  const at::Tensor input = reluInput ? at::relu(x) : x;
  auto ref = atenBackward(dy, input, w, o, {needDx, needDw, false});
  at::Tensor dx = needDx && reluInput ? at::threshold_backward(std::get<0>(ref), input, 0) : std::get<0>(ref);
  return {dx, std::get<1>(ref)};
}

// Both gradients, each from the native kernel where verified, else from ATen (on relu(x) when the
// convolution reads it rectified, with ATen's own threshold_backward for the input gradient).
std::pair<at::Tensor, at::Tensor> backwardAnyway(const DepthwiseGeometry& g, const at::Tensor& x, const at::Tensor& w,
                                                 const at::Tensor& dy, const Conv2dOptions& o, bool needDx, bool needDw) {
  at::Tensor dx, dw;
  const bool nativeDx = needDx && verified(dilated(o) ? kGradsDilated : kGradInputUndilated);
  const bool nativeDw = needDw && dilated(o) && verified(kGradsDilated);
  if (nativeDx) dx = gradInputNative(g, dy, w, x);
  if (nativeDw) dw = gradWeightNative(g, x, dy);
  if ((needDx && !nativeDx) || (needDw && !nativeDw)) {
    auto [atenDx, atenDw] = atenGrads(dy, x, w, o, g.reluInput, needDx && !nativeDx, needDw && !nativeDw);
    if (needDx && !nativeDx) dx = atenDx;
    if (needDw && !nativeDw) dw = atenDw;
  }
  return {dx, dw};
}

// A depthwise convolution's options kept on its autograd node for the backward.
void saveOptions(torch::autograd::AutogradContext* ctx, const Conv2dOptions& o) {
  ctx->saved_data["options"] = std::vector<int64_t>{o.in, o.kernel[0], o.kernel[1], o.stride[0], o.stride[1],
                                                    o.padding[0], o.padding[1], o.dilation[0], o.dilation[1]};
}

Conv2dOptions loadOptions(torch::autograd::AutogradContext* ctx) {
  auto v = ctx->saved_data["options"].toIntVector();
  return {v[0], v[0], {v[1], v[2]}, {v[3], v[4]}, {v[5], v[6]}, {v[7], v[8]}, v[0]};
}

struct DepthwiseConv : public torch::autograd::Function<DepthwiseConv> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const Conv2dOptions& o, bool reluInput) {
    ctx->save_for_backward({x, w});
    saveOptions(ctx, o);
    ctx->saved_data["relu"] = reluInput;
    return forwardAnyway(geometry(x, w, o, reluInput), x, w, o);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1];
    const Conv2dOptions o = loadOptions(ctx);
    auto [dx, dw] = backwardAnyway(geometry(x, w, o, ctx->saved_data["relu"].toBool()), x, w, grads[0].contiguous(), o,
                                   ctx->needs_input_grad(0), ctx->needs_input_grad(1));
    return {dx, dw, at::Tensor(), at::Tensor()};
  }
};

struct DepthwiseConvChannelsLast : public torch::autograd::Function<DepthwiseConvChannelsLast> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const Conv2dOptions& o) {
    ctx->save_for_backward({x, w});
    saveOptions(ctx, o);
    return at::conv2d(x, w, {}, o.stride, o.padding, o.dilation, o.groups);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1];
    const Conv2dOptions o = loadOptions(ctx);
    const DepthwiseGeometry g = geometry(x, w, o);
    at::Tensor dy = grads[0].contiguous(at::MemoryFormat::ChannelsLast);
    at::Tensor dx = ctx->needs_input_grad(0) ? gradInputNhwc(g, dy, w.contiguous()) : at::Tensor();
    at::Tensor dw = ctx->needs_input_grad(1) ? gradWeightNhwc(g, x, dy) : at::Tensor();
    return {dx, dw, at::Tensor()};
  }
};

}  // namespace

void checkDepthwiseArgs(const at::Tensor& x, const at::Tensor& w, const at::Tensor& dy, const Conv2dOptions& o) {
  TORCH_CHECK(x.dim() == 4 && w.dim() == 4, "depthwise conv: x and w must be 4-D, got ", x.sizes(), " and ", w.sizes());
  for (int d = 0; d < 2; ++d) {
    TORCH_CHECK(o.stride[d] >= 1, "depthwise conv: stride must be >= 1, got [", o.stride[0], ", ", o.stride[1], "]");
    TORCH_CHECK(o.dilation[d] >= 1, "depthwise conv: dilation must be >= 1, got [", o.dilation[0], ", ", o.dilation[1], "]");
    TORCH_CHECK(o.padding[d] >= 0, "depthwise conv: padding must be >= 0, got [", o.padding[0], ", ", o.padding[1], "]");
    TORCH_CHECK(o.kernel[d] >= 1 && o.kernel[d] == w.size(2 + d), "depthwise conv: kernel ", o.kernel[d], " does not match w ", w.sizes());
  }
  const int64_t C = x.size(1);
  TORCH_CHECK(C >= 1 && o.groups == C && o.in == C && o.out == C, "depthwise conv: groups, in and out must equal x's channels ", C);
  TORCH_CHECK(w.size(0) == C && w.size(1) == 1, "depthwise conv: w must be [", C, ", 1, kh, kw] for x ", x.sizes(), ", got ", w.sizes());
  std::array<int64_t, 2> out{};
  for (int d = 0; d < 2; ++d) {
    const int64_t ext = o.dilation[d] * (o.kernel[d] - 1) + 1, padded = x.size(2 + d) + 2 * o.padding[d];
    TORCH_CHECK(padded >= ext, "depthwise conv: the filter's reach ", ext, " exceeds the padded input ", padded, " (x ", x.sizes(), ")");
    out[d] = (padded - ext) / o.stride[d] + 1;
  }
  if (dy.defined())
    TORCH_CHECK(dy.dim() == 4 && dy.size(0) == x.size(0) && dy.size(1) == C && dy.size(2) == out[0] && dy.size(3) == out[1],
                "depthwise conv: dy must be [", x.size(0), ", ", C, ", ", out[0], ", ", out[1], "], got ", dy.sizes());
}

at::Tensor depthwiseConvNative(const at::Tensor& x, const at::Tensor& w, const Conv2dOptions& o, bool reluInput) {
  if (!nativeKernelsEnabled() || !depthwiseFloat(x, w, o)) return {};
  checkDepthwiseArgs(x, w, at::Tensor(), o);
  if (!reluInput && channelsLastDilated(x, w, o) && at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad()))
    return DepthwiseConvChannelsLast::apply(x, w, o);
  if (!applicable(x, w, o)) return {};
  if (at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad())) return DepthwiseConv::apply(x, w, o, reluInput);
  if (!verified(kForward)) return {};
  return forwardNative(geometry(x, w, o, reluInput), x, w);
}

std::string nativeDepthwiseStatus() {
  if (!nativeKernelsEnabled()) return "off";
  std::string out;
  for (int p = 0; p < kPaths; ++p)
    out += std::string(out.empty() ? "" : "; ") + kPathNames[p] + ": " + checks[p].status("native (verified)");
  return out;
}

std::string verifyNativeDepthwise() {
  if (nativeKernelsEnabled())
    for (int p = 0; p < kPaths; ++p) verified(static_cast<Path>(p));
  return nativeDepthwiseStatus();
}

DepthwiseResult depthwiseNative(const at::Tensor& x, const at::Tensor& w, const at::Tensor& dy, const Conv2dOptions& o,
                                bool reluInput) {
  checkDepthwiseArgs(x, w, dy, o);
  if (!reluInput && channelsLastDilated(x, w, o)) {
    const DepthwiseGeometry g = geometry(x, w, o);
    at::Tensor dyc = dy.contiguous(at::MemoryFormat::ChannelsLast);
    return {at::conv2d(x, w, {}, o.stride, o.padding, o.dilation, o.groups), gradInputNhwc(g, dyc, w.contiguous()),
            gradWeightNhwc(g, x, dyc)};
  }
  TORCH_CHECK(applicable(x, w, o), "depthwiseNative: not a depthwise NCHW float convolution the native kernels cover");
  const DepthwiseGeometry g = geometry(x, w, o, reluInput);
  TORCH_CHECK(dy.sizes() == at::IntArrayRef({g.N, g.C, g.OH(), g.OW()}), "depthwiseNative: dy has the wrong shape");
  at::Tensor dyc = dy.contiguous();
  auto [dx, dw] = backwardAnyway(g, x, w, dyc, o, true, true);
  return {forwardAnyway(g, x, w, o), dx, dw};
}

DepthwiseResult depthwiseAten(const at::Tensor& x, const at::Tensor& w, const at::Tensor& dy, const Conv2dOptions& o,
                              bool reluInput) {
  checkDepthwiseArgs(x, w, dy, o);
  auto [dx, dw] = atenGrads(dy, x, w, o, reluInput, true, true);
  return {at::conv2d(reluInput ? at::relu(x) : x, w, {}, o.stride, o.padding, o.dilation, o.groups), dx, dw};
}

}  // namespace autospeech::nn
