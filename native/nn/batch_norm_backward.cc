#include "nn/batch_norm_backward.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <cmath>

#include "nn/native_kernels.h"
#include "nn/self_check.h"
#include "system/avx2_lanes.h"
#include "system/cpu_features.h"

namespace autospeech::nn {
namespace {

// The smallest feature plane the contiguous kernel takes: ATen folds shorter planes lane by lane,
// where its compiler could fuse differently; those stay ATen's.
constexpr int64_t kMinPlane = 16;
constexpr int64_t kInterleave = 8;

// How ATen's contiguous kernel ran (found by the self-check): its Vectorized<float> width and
// whether `acc + (x - mean) * dy` and `dy - grad_mean - (x - mean) * k` became FMAs.
struct Variant {
  int lanes;
  bool fusedDot, fusedDx;
};

struct Channel {
  float mean, invstd, w;
};

// ATen's vec::reduce_all(+, dy) and vec::map2_reduce_all((x - mean) * dy, +) over one plane of
// S >= L values, in one pass: lane j sums elements j, j + L, ...; the partial last vector adds
// into its first lanes; then VecReduceAllSIMD's shuffle tree (lane i + lane i ^ m, m = L/2 ... 1).
template <int L, bool kFusedDot, typename Fma>
inline __attribute__((always_inline)) void planeSums(Fma fma, const float* x, const float* dy, int64_t S, float mean,
                                                     float& sumOut, float& dotOut) {
  float s[L], d[L];
  for (int j = 0; j < L; ++j) {
    s[j] = dy[j];
    d[j] = (x[j] - mean) * dy[j];
  }
  auto add = [&](int j, int64_t i) {
    s[j] = s[j] + dy[i];
    const float c = x[i] - mean;
    d[j] = kFusedDot ? fma(c, dy[i], d[j]) : d[j] + c * dy[i];
  };
  const int64_t end = S - S % L;
  int64_t i = L;
  for (; i < end; i += L)
    for (int j = 0; j < L; ++j) add(j, i + j);
  for (int j = 0; i + j < S; ++j) add(j, i + j);
  for (int m = L / 2; m >= 1; m /= 2)
    for (int j = 0; j < m; ++j) {
      s[j] = s[j] + s[j + m];
      d[j] = d[j] + d[j + m];
    }
  sumOut = s[0];
  dotOut = d[0];
}

// dx = (dy - grad_mean - (x - mean) * k) * invstd * w, the subtraction of the product fused or not.
template <bool kFusedDx, typename Fma>
inline __attribute__((always_inline)) void planeGradInput(Fma fma, const float* x, const float* dy, float* dx, int64_t S,
                                                          const Channel& ch, float k, float gradMean) {
  for (int64_t i = 0; i < S; ++i) {
    const float c = x[i] - ch.mean;
    const float t = dy[i] - gradMean;
    const float r = kFusedDx ? fma(-c, k, t) : t - c * k;
    dx[i] = r * ch.invstd * ch.w;
  }
}

struct Out {
  float* dx;
  float* dw;
  float* db;
};

// batch_norm_cpu_backward_contiguous_impl for channels [c0, c1).
template <int L, bool kFusedDot, bool kFusedDx, typename Fma>
inline __attribute__((always_inline)) void contiguousChannels(Fma fma, const float* x, const float* dy, int64_t batch,
                                                              int64_t C, int64_t S, const Channel* chans, Out out,
                                                              int64_t c0, int64_t c1) {
  const int64_t N = batch * S;
  for (int64_t c = c0; c < c1; ++c) {
    const Channel& ch = chans[c];
    double sum = 0, dotp = 0;
    for (int64_t n = 0; n < batch; ++n) {
      const int64_t off = (n * C + c) * S;
      float s, d;
      planeSums<L, kFusedDot>(fma, x + off, dy + off, S, ch.mean, s, d);
      sum += s;
      dotp += d;
    }
    if (out.dx) {
      const float k = static_cast<float>(dotp) * ch.invstd * ch.invstd / static_cast<float>(N);
      const float gradMean = static_cast<float>(sum / static_cast<double>(N));
      for (int64_t n = 0; n < batch; ++n) {
        const int64_t off = (n * C + c) * S;
        planeGradInput<kFusedDx>(fma, x + off, dy + off, out.dx + off, S, ch, k, gradMean);
      }
    }
    if (out.dw) out.dw[c] = static_cast<float>(dotp * ch.invstd);
    if (out.db) out.db[c] = static_cast<float>(sum);
  }
}

template <typename Fma>
inline __attribute__((always_inline)) void contiguousDispatch(Fma fma, Variant v, const float* x, const float* dy,
                                                              int64_t batch, int64_t C, int64_t S, const Channel* chans,
                                                              Out out, int64_t c0, int64_t c1) {
#define AUTOSPEECH_BN_CASE(L, FD, FX)                                                                \
  if (v.lanes == L && v.fusedDot == FD && v.fusedDx == FX)                                           \
    return contiguousChannels<L, FD, FX>(fma, x, dy, batch, C, S, chans, out, c0, c1);
  AUTOSPEECH_BN_CASE(16, true, true)
  AUTOSPEECH_BN_CASE(16, true, false)
  AUTOSPEECH_BN_CASE(16, false, true)
  AUTOSPEECH_BN_CASE(16, false, false)
  AUTOSPEECH_BN_CASE(8, true, true)
  AUTOSPEECH_BN_CASE(8, true, false)
  AUTOSPEECH_BN_CASE(8, false, true)
  AUTOSPEECH_BN_CASE(8, false, false)
#undef AUTOSPEECH_BN_CASE
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void contiguousAvx2(Variant v, const float* x, const float* dy, int64_t batch,
                                                         int64_t C, int64_t S, const Channel* chans, Out out, int64_t c0,
                                                         int64_t c1) {
  contiguousDispatch([](float a, float b, float c) { return __builtin_fmaf(a, b, c); }, v, x, dy, batch, C, S, chans, out,
                     c0, c1);
}
#endif

void contiguousKernel(Variant v, const float* x, const float* dy, int64_t batch, int64_t C, int64_t S, const Channel* chans,
                      Out out, int64_t c0, int64_t c1) {
#if defined(__x86_64__)
  if (cpuHasAvx2Fma()) return contiguousAvx2(v, x, dy, batch, C, S, chans, out, c0, c1);
#endif
  contiguousDispatch([](float a, float b, float c) { return std::fma(a, b, c); }, v, x, dy, batch, C, S, chans, out, c0,
                     c1);
}

#if defined(__x86_64__)
// Eight channels' serial double dots of (x - mean) * dy (the float product, as ATen), the channels
// in the lanes of two double vectors: blocks of 8 positions of each plane are transposed.
__attribute__((target("avx2"))) void channelDots8(const float* x, const float* dy, int64_t batch, int64_t C, int64_t S,
                                                  int64_t dyBatchStride, int64_t dyChannelStride, int64_t cb,
                                                  const float* mean, double* out) {
  DoubleLanes8 acc;
  const __m256 mv = _mm256_loadu_ps(mean);
  const int64_t blocks = S / 8 * 8;
  double tail[8];
  for (int64_t n = 0; n < batch; ++n) {
    const float* xb = x + (n * C + cb) * S;
    const float* gb = dy + n * dyBatchStride + cb * dyChannelStride;
    for (int64_t i = 0; i < blocks; i += 8) {
      __m256 a[8], g[8];
      for (int k = 0; k < 8; ++k) {
        a[k] = _mm256_loadu_ps(xb + k * S + i);
        g[k] = _mm256_loadu_ps(gb + k * dyChannelStride + i);
      }
      transpose8(a);
      transpose8(g);
      for (int j = 0; j < 8; ++j) acc.add(_mm256_mul_ps(_mm256_sub_ps(a[j], mv), g[j]));
    }
    if (blocks < S) {
      acc.store(tail);
      for (int64_t i = blocks; i < S; ++i)
        for (int k = 0; k < 8; ++k) tail[k] += (xb[k * S + i] - mean[k]) * gb[k * dyChannelStride + i];
      acc.load(tail);
    }
  }
  acc.store(out);
}
#endif

// Normalization.cpp's strided path for channels [c0, c1): dotp += (x - mean) * dy in double, serially
// over (n, then the plane), 8 channels' chains interleaved; dx in float; the sums from at::sum.
void stridedKernel(const float* x, const float* dy, int64_t batch, int64_t C, int64_t S, int64_t dyBatchStride,
                   int64_t dyChannelStride, const Channel* chans, const float* sums, Out out, int64_t c0, int64_t c1) {
  const int64_t N = batch * S;
  for (int64_t cb = c0; cb < c1; cb += kInterleave) {
    const int64_t width = std::min<int64_t>(kInterleave, c1 - cb);
    double dotp[kInterleave] = {0};
    float mean[kInterleave];
    for (int64_t k = 0; k < width; ++k) mean[k] = chans[cb + k].mean;
#if defined(__x86_64__)
    if (width == kInterleave && cpuHasAvx2Fma()) {
      channelDots8(x, dy, batch, C, S, dyBatchStride, dyChannelStride, cb, mean, dotp);
    } else
#endif
    {
      for (int64_t n = 0; n < batch; ++n) {
        const float* xb = x + (n * C + cb) * S;
        const float* gb = dy + n * dyBatchStride + cb * dyChannelStride;
        for (int64_t i = 0; i < S; ++i)
          for (int64_t k = 0; k < width; ++k) dotp[k] += (xb[k * S + i] - mean[k]) * gb[k * dyChannelStride + i];
      }
    }
    for (int64_t k = 0; k < width; ++k) {
      const int64_t c = cb + k;
      const Channel& ch = chans[c];
      if (out.dx) {
        const float kk = static_cast<float>(dotp[k]) * ch.invstd * ch.invstd / static_cast<float>(N);
        const float gradMean = sums[c] / static_cast<float>(N);
        for (int64_t n = 0; n < batch; ++n) {
          const float* xp = x + (n * C + c) * S;
          const float* gp = dy + n * dyBatchStride + c * dyChannelStride;
          float* dp = out.dx + (n * C + c) * S;
          for (int64_t i = 0; i < S; ++i) {
            const float gi = (xp[i] - ch.mean) * kk;
            dp[i] = (gp[i] - gradMean - gi) * ch.invstd * ch.w;
          }
        }
      }
      if (out.dw) out.dw[c] = static_cast<float>(dotp[k] * ch.invstd);
      if (out.db) out.db[c] = sums[c];
    }
  }
}

// ---- which path ATen takes, and whether ours applies ----
bool atenContiguous(const at::Tensor& grad, const at::Tensor& x) {  // Normalization.cpp's all_contiguous
  auto contiguous = [](const at::Tensor& t) {
    return t.is_contiguous() || t.is_contiguous(at::MemoryFormat::ChannelsLast);
  };
  return contiguous(x) && contiguous(grad) && x.suggest_memory_format() == grad.suggest_memory_format();
}

bool vectorOk(const at::Tensor& t, int64_t C) {
  return !t.defined() ||
         (t.device().is_cpu() && t.scalar_type() == at::kFloat && t.dim() == 1 && t.size(0) == C && t.is_contiguous());
}

enum class Path { aten, contiguous, strided };

Path pathFor(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& mean,
             const at::Tensor& invstd) {
  if (!x.device().is_cpu() || !grad.device().is_cpu() || x.scalar_type() != at::kFloat ||
      grad.scalar_type() != at::kFloat || x.dim() != 4 || grad.sizes() != x.sizes() || !x.is_contiguous() ||
      x.numel() == 0)
    return Path::aten;
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3), S = H * W;
  if (!vectorOk(weight, C) || !mean.defined() || !invstd.defined() || !vectorOk(mean, C) || !vectorOk(invstd, C))
    return Path::aten;
  if (atenContiguous(grad, x))
    return grad.is_contiguous() && S >= kMinPlane ? Path::contiguous : Path::aten;
  // Each (n, c) plane of the gradient contiguous, samples outermost: ATen's iterator then runs
  // (n, plane) in memory order, as ours does.
  const bool planes = grad.stride(3) == 1 && grad.stride(2) == W && grad.stride(0) >= S && grad.stride(1) >= S;
  return planes ? Path::strided : Path::aten;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> run(Path path, Variant v, const at::Tensor& grad, const at::Tensor& x,
                                                   const at::Tensor& weight, const at::Tensor& mean,
                                                   const at::Tensor& invstd, std::array<bool, 3> mask) {
  RECORD_FUNCTION("autospeech::batch_norm_backward", std::vector<c10::IValue>());
  const int64_t batch = x.size(0), C = x.size(1), S = x.size(2) * x.size(3);
  std::vector<Channel> chans(C);
  const float *pm = mean.data_ptr<float>(), *pi = invstd.data_ptr<float>();
  const float* pw = weight.defined() ? weight.data_ptr<float>() : nullptr;
  for (int64_t c = 0; c < C; ++c) chans[c] = {pm[c], pi[c], pw ? pw[c] : 1.f};
  at::Tensor dx = mask[0] ? at::empty_like(x, at::MemoryFormat::Contiguous) : at::Tensor();
  at::Tensor dw = mask[1] ? at::empty({C}, x.options()) : at::Tensor();
  at::Tensor db = mask[2] ? at::empty({C}, x.options()) : at::Tensor();
  const Out out{mask[0] ? dx.data_ptr<float>() : nullptr, mask[1] ? dw.data_ptr<float>() : nullptr,
                mask[2] ? db.data_ptr<float>() : nullptr};
  const float *px = x.data_ptr<float>(), *pg = grad.data_ptr<float>();
  if (path == Path::contiguous) {
    at::parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) { contiguousKernel(v, px, pg, batch, C, S, chans.data(), out, c0, c1); });
  } else {
    const at::Tensor sums = at::sum(grad, {0, 2, 3});  // ATen's strided path calls exactly this
    const float* ps = sums.data_ptr<float>();
    at::parallel_for(0, C, kInterleave, [&](int64_t c0, int64_t c1) {
      stridedKernel(px, pg, batch, C, S, grad.stride(0), grad.stride(1), chans.data(), ps, out, c0, c1);
    });
  }
  return {dx, dw, db};
}

// ---- self-checks: each path against at::native_batch_norm_backward ----
SelfCheck contiguousCheck, stridedCheck;
Variant found{16, true, true};

bool agrees(Path path, Variant v, int64_t N, int64_t C, int64_t H, int64_t W, bool affine, std::array<bool, 3> mask) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7 + N * C + H * W);
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor x = at::randn({N, C, H, W}, gen, f32).mul_(2).add_(0.7);
  at::Tensor w = affine ? at::rand({C}, gen, f32).add_(0.5) : at::Tensor();
  at::Tensor rm = at::zeros({C}, f32), rv = at::ones({C}, f32);
  auto fwd = at::native_batch_norm(x, w, affine ? at::randn({C}, gen, f32) : at::Tensor(), rm, rv, true, 0.1, 1e-5);
  at::Tensor grad = path == Path::contiguous
                        ? at::randn({N, C, H, W}, gen, f32)
                        : at::randn({N, 3 * C, H, W}, gen, f32).narrow(1, C, C);  // a concat's channel slice
  const at::Tensor& mean = std::get<1>(fwd);
  const at::Tensor& invstd = std::get<2>(fwd);
  if (pathFor(grad, x, w, mean, invstd) != path) return false;
  auto ref = at::native_batch_norm_backward(grad, x, w, rm, rv, mean, invstd, true, 1e-5, mask);
  auto ours = run(path, v, grad, x, w, mean, invstd, mask);
  auto same = [](const at::Tensor& a, const at::Tensor& b) { return a.defined() == b.defined() && (!a.defined() || at::equal(a, b)); };
  return same(std::get<0>(ours), std::get<0>(ref)) && same(std::get<1>(ours), std::get<1>(ref)) &&
         same(std::get<2>(ours), std::get<2>(ref));
}

bool pathAgrees(Path path, Variant v) {
  return agrees(path, v, 4, 8, 19, 17, true, {true, true, true}) && agrees(path, v, 2, 5, 5, 7, false, {true, false, false}) &&
         agrees(path, v, 3, 24, 38, 33, true, {true, true, true}) && agrees(path, v, 2, 3, 4, 4, true, {false, true, true}) &&
         agrees(path, v, 16, 4, 10, 9, true, {true, true, true});
}

bool verified(Path path) {
  if (path == Path::strided)
    return stridedCheck.passed([] {
      at::NoGradGuard noGrad;
      return pathAgrees(Path::strided, found);
    });
  return contiguousCheck.passed([] {
    at::NoGradGuard noGrad;
    for (int lanes : {16, 8})
      for (bool fusedDot : {true, false})
        for (bool fusedDx : {true, false})
          if (pathAgrees(Path::contiguous, {lanes, fusedDot, fusedDx})) {
            found = {lanes, fusedDot, fusedDx};
            return true;
          }
    return false;
  });
}

}  // namespace

std::optional<std::tuple<at::Tensor, at::Tensor, at::Tensor>> batchNormBackwardNative(
    const at::Tensor& grad, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& mean, const at::Tensor& invstd,
    std::array<bool, 3> mask) {
  if (!nativeKernelsEnabled()) return std::nullopt;
  const Path path = pathFor(grad, x, weight, mean, invstd);
  if (path == Path::aten || !verified(path)) return std::nullopt;
  return run(path, found, grad, x, weight, mean, invstd, mask);
}

std::string batchNormBackwardPath(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& weight,
                                  const at::Tensor& mean, const at::Tensor& invstd) {
  switch (pathFor(grad, x, weight, mean, invstd)) {
    case Path::contiguous: return "contiguous";
    case Path::strided: return "strided";
    default: return "aten";
  }
}

std::string nativeBatchNormBackwardStatus() {
  if (!nativeKernelsEnabled()) return "off";
  const std::string contiguous = contiguousCheck.status(
      "native (verified; ATen ran " + std::to_string(found.lanes) + " float lanes, " +
      (found.fusedDot ? "fused" : "did not fuse") + " the dot's multiply-add, " + (found.fusedDx ? "fused" : "did not fuse") +
      " dx's multiply-subtract)");
  return "contiguous gradient: " + contiguous + "; concat-slice gradient: " + stridedCheck.status("native (verified)");
}

std::string verifyNativeBatchNormBackward() {
  if (nativeKernelsEnabled()) {
    verified(Path::contiguous);
    verified(Path::strided);
  }
  return nativeBatchNormBackwardStatus();
}

}  // namespace autospeech::nn
