#include "nn/batch_norm.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <tuple>

#include "nn/batch_norm_backward.h"
#include "nn/native_kernels.h"
#include "nn/self_check.h"
#include "system/avx2_lanes.h"
#include "system/cpu_features.h"

namespace autospeech::nn {
namespace {

// Which of ATen's expressions its compiler fused into FMAs (found by the self-check).
struct Variant {
  bool fusedBeta, fusedOutput;
};

constexpr int64_t kInterleave = 8;

#if defined(__x86_64__)
// Eight channels' double sums, each still one chain in ATen's (n, i) order, with the 8 channels in
// the lanes of two double vectors: blocks of 8 positions are transposed so position j of every
// channel is one vector. `centre`: add (x - m)^2 (the float square, as ATen) instead of x.
template <bool kCentre>
__attribute__((target("avx2"))) void channelSums8(const float* x, int64_t batch, int64_t C, int64_t image, int64_t cb,
                                                  const float* m, double* out) {
  DoubleLanes8 acc;
  const __m256 mv = kCentre ? _mm256_loadu_ps(m) : _mm256_setzero_ps();
  const int64_t blocks = image / 8 * 8;
  double tail[8];
  for (int64_t n = 0; n < batch; ++n) {
    const float* base = x + (n * C + cb) * image;
    for (int64_t i = 0; i < blocks; i += 8) {
      __m256 r[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(base + k * image + i);
      transpose8(r);
      for (int j = 0; j < 8; ++j) {
        const __m256 d = _mm256_sub_ps(r[j], mv);
        acc.add(kCentre ? _mm256_mul_ps(d, d) : r[j]);
      }
    }
    if (blocks < image) {
      acc.store(tail);
      for (int64_t i = blocks; i < image; ++i)
        for (int k = 0; k < 8; ++k) {
          const float v = base[k * image + i], d = kCentre ? v - m[k] : v;
          tail[k] += kCentre ? d * d : v;
        }
      acc.load(tail);
    }
  }
  acc.store(out);
}
#endif

// ATen's batch_norm_cpu_collect_stats_contiguous_impl + batch_norm_cpu_update_stats_template
// (InvStd) for channels [c0, c1): per channel, a double sum of x in (n, i) order, the float mean
// sum / N, a double sum of the float (x - mean)^2, then invstd and the running statistics.
void collectStats(const float* x, int64_t batch, int64_t C, int64_t image, int64_t c0, int64_t c1, float* mean,
                  float* invstd, float* runningMean, float* runningVar, float momentum, double eps) {
  const int64_t N = batch * image;
  for (int64_t cb = c0; cb < c1; cb += kInterleave) {
    const int64_t width = std::min<int64_t>(kInterleave, c1 - cb);
    double sum[kInterleave] = {0}, varSum[kInterleave] = {0};
    float m[kInterleave];
#if defined(__x86_64__)
    const bool vector = width == kInterleave && cpuHasAvx2Fma();
#else
    const bool vector = false;
#endif
    if (vector) {
#if defined(__x86_64__)
      channelSums8<false>(x, batch, C, image, cb, nullptr, sum);
#endif
    } else {
      for (int64_t n = 0; n < batch; ++n) {
        const float* base = x + (n * C + cb) * image;
        for (int64_t i = 0; i < image; ++i)
          for (int64_t k = 0; k < width; ++k) sum[k] += base[k * image + i];
      }
    }
    for (int64_t k = 0; k < width; ++k) m[k] = static_cast<float>(sum[k] / N);
    if (vector) {
#if defined(__x86_64__)
      channelSums8<true>(x, batch, C, image, cb, m, varSum);
#endif
    } else {
      for (int64_t n = 0; n < batch; ++n) {
        const float* base = x + (n * C + cb) * image;
        for (int64_t i = 0; i < image; ++i)
          for (int64_t k = 0; k < width; ++k) {
            const float d = base[k * image + i] - m[k];
            varSum[k] += d * d;
          }
      }
    }
    for (int64_t k = 0; k < width; ++k) {
      const int64_t c = cb + k;
      const float vs = static_cast<float>(varSum[k]);
      mean[c] = m[k];
      const double var = static_cast<double>(vs / N);
      invstd[c] = static_cast<float>((var != 0.0 || eps != 0.0) ? 1.0 / std::sqrt(var + eps) : 0.0);
      if (runningMean) runningMean[c] = momentum * m[k] + (1 - momentum) * runningMean[c];
      if (runningVar) {
        const double unbiased = static_cast<double>(vs / (N - 1));
        runningVar[c] = static_cast<float>(momentum * unbiased + (1 - momentum) * runningVar[c]);
      }
    }
  }
}

// y = x * alpha + beta per channel, alpha = invstd * weight, beta = bias - mean * alpha; `Fma` is
// an FMA instruction in the AVX2 instantiation, libm's exact fmaf otherwise.
template <typename Fma>
inline __attribute__((always_inline)) void normalizeWith(Fma fma, const float* x, float* y, int64_t C, int64_t image,
                                                          const float* mean, const float* invstd, const float* weight,
                                                          const float* bias, Variant v, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; ++p) {  // plane p = n * C + c
    const int64_t c = p % C;
    const float alpha = invstd[c] * (weight ? weight[c] : 1.f);
    const float b = bias ? bias[c] : 0.f;
    const float beta = v.fusedBeta ? fma(-mean[c], alpha, b) : b - mean[c] * alpha;
    const float* in = x + p * image;
    float* out = y + p * image;
    if (v.fusedOutput) {
      for (int64_t i = 0; i < image; ++i) out[i] = fma(in[i], alpha, beta);
    } else {
      for (int64_t i = 0; i < image; ++i) out[i] = in[i] * alpha + beta;
    }
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void normalizeAvx2(const float* x, float* y, int64_t C, int64_t image, const float* mean,
                                                        const float* invstd, const float* weight, const float* bias, Variant v,
                                                        int64_t p0, int64_t p1) {
  normalizeWith([](float a, float b, float c) { return __builtin_fmaf(a, b, c); }, x, y, C, image, mean, invstd, weight, bias,
                v, p0, p1);
}
#endif

void normalize(const float* x, float* y, int64_t C, int64_t image, const float* mean, const float* invstd,
               const float* weight, const float* bias, Variant v, int64_t p0, int64_t p1) {
#if defined(__x86_64__)
  if (cpuHasAvx2Fma()) return normalizeAvx2(x, y, C, image, mean, invstd, weight, bias, v, p0, p1);
#endif
  normalizeWith([](float a, float b, float c) { return std::fma(a, b, c); }, x, y, C, image, mean, invstd, weight, bias, v,
                p0, p1);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> forwardNative(const at::Tensor& x, const at::Tensor& weight,
                                                             const at::Tensor& bias, at::Tensor& runningMean,
                                                             at::Tensor& runningVar, double momentum, double eps, Variant v) {
  RECORD_FUNCTION("autospeech::batch_norm_forward", std::vector<c10::IValue>());
  const int64_t batch = x.size(0), C = x.size(1), image = x.numel() / batch / C;
  at::Tensor mean = at::empty({C}, x.options()), invstd = at::empty({C}, x.options());
  at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
  const float* px = x.data_ptr<float>();
  float *pm = mean.data_ptr<float>(), *pi = invstd.data_ptr<float>();
  float* prm = runningMean.defined() ? runningMean.data_ptr<float>() : nullptr;
  float* prv = runningVar.defined() ? runningVar.data_ptr<float>() : nullptr;
  at::parallel_for(0, C, kInterleave, [&](int64_t c0, int64_t c1) {
    collectStats(px, batch, C, image, c0, c1, pm, pi, prm, prv, static_cast<float>(momentum), eps);
  });
  const float* pw = weight.defined() ? weight.data_ptr<float>() : nullptr;
  const float* pb = bias.defined() ? bias.data_ptr<float>() : nullptr;
  float* py = y.data_ptr<float>();
  at::parallel_for(0, batch * C, 1, [&](int64_t p0, int64_t p1) { normalize(px, py, C, image, pm, pi, pw, pb, v, p0, p1); });
  return {y, mean, invstd};
}

bool applicable(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& rm,
                const at::Tensor& rv) {
  auto ok = [&](const at::Tensor& t) {
    return !t.defined() || (t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous() && t.dim() == 1 && t.size(0) == x.size(1));
  };
  return x.device().is_cpu() && x.scalar_type() == at::kFloat && x.dim() == 4 && x.is_contiguous() && x.size(0) >= 1 &&
         x.size(2) * x.size(3) >= 2 && ok(weight) && ok(bias) && ok(rm) && ok(rv);
}

// ---- self-check ----
SelfCheck check;
Variant found{false, false};

bool agrees(Variant v, int64_t N, int64_t C, int64_t H, int64_t W, bool affine) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(99);
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor x = at::randn({N, C, H, W}, gen, f32).mul_(3).add_(1.5);
  at::Tensor w = affine ? at::rand({C}, gen, f32).add_(0.5) : at::Tensor();
  at::Tensor b = affine ? at::randn({C}, gen, f32) : at::Tensor();
  at::Tensor rm1 = at::randn({C}, gen, f32), rv1 = at::rand({C}, gen, f32).add_(0.5);
  at::Tensor rm2 = rm1.clone(), rv2 = rv1.clone();
  auto ref = at::native_batch_norm(x, w, b, rm1, rv1, true, 0.1, 1e-5);
  auto ours = forwardNative(x, w, b, rm2, rv2, 0.1, 1e-5, v);
  return at::equal(std::get<0>(ours), std::get<0>(ref)) && at::equal(std::get<1>(ours), std::get<1>(ref)) &&
         at::equal(std::get<2>(ours), std::get<2>(ref)) && at::equal(rm1, rm2) && at::equal(rv1, rv2);
}

bool verified() {
  return check.passed([] {
    at::NoGradGuard noGrad;
    for (Variant v : {Variant{false, false}, Variant{true, true}, Variant{false, true}, Variant{true, false}}) {
      if (agrees(v, 4, 8, 19, 17, true) && agrees(v, 2, 13, 5, 7, false) && agrees(v, 3, 32, 38, 33, true) &&
          agrees(v, 1, 3, 2, 1, true)) {
        found = v;
        return true;
      }
    }
    return false;
  });
}

// The autograd node: the native forward, ATen's backward on the saved statistics. Separate node
// types with and without the affine parameters (autograd Functions take no undefined tensors).
at::Tensor forwardSaving(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias, at::Tensor& runningMean, at::Tensor& runningVar, double momentum, double eps) {
  auto [y, mean, invstd] = forwardNative(x, weight, bias, runningMean, runningVar, momentum, eps, found);
  ctx->save_for_backward({x, mean, invstd});
  if (weight.defined()) ctx->saved_data["weight"] = weight;
  ctx->saved_data["eps"] = eps;
  // Unused by a training-mode backward, but ATen's kernel expects them (as its own autograd passes).
  ctx->saved_data["running_mean"] = runningMean;
  ctx->saved_data["running_var"] = runningVar;
  return y;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backwardAten(torch::autograd::AutogradContext* ctx, const at::Tensor& grad,
                                                            bool wantWeightGrads) {
  auto saved = ctx->get_saved_variables();
  const bool affine = ctx->saved_data.count("weight") > 0;
  const at::Tensor weight = affine ? ctx->saved_data["weight"].toTensor() : at::Tensor();
  const std::array<bool, 3> mask{ctx->needs_input_grad(0), affine && wantWeightGrads, affine && wantWeightGrads};
  // The gradient as it comes (often a channel slice of a concat): ATen picks its kernel by layout,
  // and so does the native one.
  if (auto native = batchNormBackwardNative(grad, saved[0], weight, saved[1], saved[2], mask)) return *native;
  return at::native_batch_norm_backward(grad, saved[0], weight, ctx->saved_data["running_mean"].toTensor(),
                                        ctx->saved_data["running_var"].toTensor(), saved[1], saved[2], true,
                                        ctx->saved_data["eps"].toDouble(), mask);
}

struct BatchNormTrainAffine : public torch::autograd::Function<BatchNormTrainAffine> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, at::Tensor runningMean, at::Tensor runningVar, double momentum,
                            double eps) {
    return forwardSaving(ctx, x, weight, bias, runningMean, runningVar, momentum, eps);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto g = backwardAten(ctx, grads[0], ctx->needs_input_grad(1) || ctx->needs_input_grad(2));
    return {std::get<0>(g), ctx->needs_input_grad(1) ? std::get<1>(g) : at::Tensor(),
            ctx->needs_input_grad(2) ? std::get<2>(g) : at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

struct BatchNormTrainPlain : public torch::autograd::Function<BatchNormTrainPlain> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, at::Tensor runningMean,
                            at::Tensor runningVar, double momentum, double eps) {
    return forwardSaving(ctx, x, at::Tensor(), at::Tensor(), runningMean, runningVar, momentum, eps);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    return {std::get<0>(backwardAten(ctx, grads[0], false)), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor batchNormTrainNative(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                at::Tensor& runningMean, at::Tensor& runningVar, double momentum, double eps) {
  if (!nativeKernelsEnabled() || !applicable(x, weight, bias, runningMean, runningVar) || !verified()) return {};
  if (at::GradMode::is_enabled() && (x.requires_grad() || (weight.defined() && weight.requires_grad()))) {
    if (weight.defined() && bias.defined()) return BatchNormTrainAffine::apply(x, weight, bias, runningMean, runningVar, momentum, eps);
    if (!weight.defined() && !bias.defined()) return BatchNormTrainPlain::apply(x, runningMean, runningVar, momentum, eps);
    return {};  // weight without bias (or the reverse): ATen's
  }
  at::NoGradGuard noGrad;
  return std::get<0>(forwardNative(x, weight, bias, runningMean, runningVar, momentum, eps, found));
}

namespace {
thread_local SyncBatchNormFn syncBatchNorm = nullptr;
}

at::Tensor batchNormApplyStats(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                               const at::Tensor& mean, const at::Tensor& invstd) {
  at::Tensor none;
  if (nativeKernelsEnabled() && applicable(x, weight, bias, none, none) && mean.is_contiguous() && invstd.is_contiguous() &&
      mean.scalar_type() == at::kFloat && invstd.scalar_type() == at::kFloat && verified()) {
    const int64_t batch = x.size(0), C = x.size(1), image = x.numel() / batch / C;
    at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
    const float* px = x.data_ptr<float>();
    const float *pm = mean.data_ptr<float>(), *pi = invstd.data_ptr<float>();
    const float* pw = weight.defined() ? weight.data_ptr<float>() : nullptr;
    const float* pb = bias.defined() ? bias.data_ptr<float>() : nullptr;
    float* py = y.data_ptr<float>();
    at::parallel_for(0, batch * C, 1, [&](int64_t p0, int64_t p1) { normalize(px, py, C, image, pm, pi, pw, pb, found, p0, p1); });
    return y;
  }
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = x.size(1);
  at::Tensor alpha = weight.defined() ? invstd * weight : invstd;
  at::Tensor beta = bias.defined() ? bias - mean * alpha : -mean * alpha;
  return x * alpha.view(shape) + beta.view(shape);
}
SyncBatchNormFn activeSyncBatchNorm() { return syncBatchNorm; }
ScopedSyncBatchNorm::ScopedSyncBatchNorm(SyncBatchNormFn fn) : previous_(syncBatchNorm) { syncBatchNorm = fn; }
ScopedSyncBatchNorm::~ScopedSyncBatchNorm() { syncBatchNorm = previous_; }

std::string nativeBatchNormStatus() {
  if (!nativeKernelsEnabled()) return "off";
  return check.status(std::string("native (verified; ATen's build ") + (found.fusedOutput ? "fuses" : "does not fuse") +
                      " x * alpha + beta, " + (found.fusedBeta ? "fuses" : "does not fuse") + " bias - mean * alpha)");
}

std::string verifyNativeBatchNorm() {
  if (nativeKernelsEnabled()) verified();
  return nativeBatchNormStatus();
}

}  // namespace autospeech::nn
