#include "nn/pool_kernels.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <cstring>
#include <limits>
#include <vector>

#include "system/cpu_features.h"

namespace autospeech::nn {
namespace {

// ATen's max-pool rule: a value replaces the running maximum if larger or NaN (so the first maximum
// wins ties and the last NaN wins). Without a short-circuit: a data-dependent branch mispredicts,
// and the select vectorises.
inline bool replacesMax(float v, float m) { return (v > m) | (v != v); }
inline float maxOf(float m, float v) { return replacesMax(v, m) ? v : m; }

bool supported(const at::Tensor& x, int64_t k, int64_t s, int64_t p) {
  // NCHW only: a channels-last input keeps ATen's kernels (and its layout).
  return x.device().is_cpu() && x.scalar_type() == at::kFloat && x.dim() == 4 && x.is_contiguous() && k >= 1 && k <= 7 && s >= 1 && p >= 0 &&
         2 * p <= k && x.size(2) + 2 * p >= k && x.size(3) + 2 * p >= k;
}

// Output size and the output columns whose whole window lies inside the row: [owLo, owHi).
struct Geometry {
  int64_t planes, H, W, OH, OW, owLo, owHi;
  Geometry(const at::Tensor& x, int64_t k, int64_t s, int64_t p)
      : planes(x.size(0) * x.size(1)), H(x.size(2)), W(x.size(3)), OH((H + 2 * p - k) / s + 1), OW((W + 2 * p - k) / s + 1) {
    owLo = std::min(OW, (p + s - 1) / s);
    owHi = std::max(owLo, std::min(OW, (W - k + p) / s + 1));
  }
  at::Tensor output(const at::Tensor& x) const { return at::empty({x.size(0), x.size(1), OH, OW}, x.options()); }
};

// Calls rowFn(in, row, oh, ih0, ih1) for every output row of every plane (planes in parallel):
// `in` is the plane's input, `row` the output row, [ih0, ih1) the input rows of its windows.
template <typename RowFn>
at::Tensor forEachOutputRow(const at::Tensor& input, const Geometry& g, int64_t k, int64_t s, int64_t p, RowFn rowFn) {
  at::Tensor out = g.output(input);
  const float* src = input.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, g.planes, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t plane = b0; plane < b1; ++plane) {
      const float* in = src + plane * g.H * g.W;
      float* o = dst + plane * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        rowFn(in, o + oh * g.OW, oh, std::max<int64_t>(oh * s - p, 0), std::min<int64_t>(oh * s - p + k, g.H));
    }
  });
  return out;
}

#if defined(__x86_64__)
// Whole planes with AVX2 (stride 1 or 2), 8 outputs per vector: each plane is copied into a padded
// buffer, so every window has all k*k taps at fixed offsets. The geometry of that buffer:
struct PaddedPlanes {
  int64_t H, W, OH, OW, k, s, p, Wv, Hp, Wp;
  std::vector<int32_t> colFirst;  // per output column: the first in-range kw (the max pool's taps)
  PaddedPlanes(const Geometry& g, int64_t k_, int64_t s_, int64_t p_)
      : H(g.H), W(g.W), OH(g.OH), OW(g.OW), k(k_), s(s_), p(p_), Wv((g.OW + 7) / 8 * 8) {
    Hp = std::max(H + 2 * p, (OH - 1) * s + k);
    Wp = std::max(W + 2 * p, (Wv - 1) * s + k + s);  // a stride-2 vector loads one value past its last
    colFirst.resize(Wv);
    for (int64_t ow = 0; ow < Wv; ++ow) colFirst[ow] = static_cast<int32_t>(std::max<int64_t>(p - ow * s, 0));
  }
};

// 8 values of a row at stride S (1, or 2: the even values of 16).
template <int S>
__attribute__((target("avx2"), always_inline)) inline __m256 loadStrided(const float* r) {
  if (S == 1) return _mm256_loadu_ps(r);
  const __m256 a = _mm256_loadu_ps(r), b = _mm256_loadu_ps(r + 8);
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
}

// Max pool: the padding is -inf, which never replaces the running maximum (it is neither larger
// nor NaN), so each output folds its in-range taps in ATen's row-major order and nothing else; its
// tap starts at its first in-range tap, as ATen's.
// One tap of V vectors of 8 outputs (kw, kh, stride compile-time where possible); with Taps, also
// the tap each output took.
template <int S, int V, bool Taps>
__attribute__((target("avx2"), always_inline)) inline void maxTap(const float* r, int32_t tap, __m256* m, __m256i* best) {
  const __m256i t = _mm256_set1_epi32(tap);
  for (int u = 0; u < V; ++u) {
    const __m256 v = loadStrided<S>(r + 8 * S * u);
    const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m[u], _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    m[u] = _mm256_blendv_ps(m[u], v, take);
    if (Taps) best[u] = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(best[u]), _mm256_castsi256_ps(t), take));
  }
}

// V vectors of outputs from column ow of output row oh (K = 0: the kernel size at run time).
template <int S, int K, int V, bool Taps>
__attribute__((target("avx2"), always_inline)) inline void maxVectors(const PaddedPlanes& g, const float* padded, int64_t oh,
                                                                     int64_t ow, int32_t rowFirst, float* row,
                                                                     int32_t* rowTaps) {
  const int k = K > 0 ? K : static_cast<int>(g.k);
  __m256 m[V];
  __m256i best[V];
  for (int u = 0; u < V; ++u) {
    m[u] = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    if (Taps)
      best[u] = _mm256_add_epi32(_mm256_set1_epi32(rowFirst),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&g.colFirst[ow + 8 * u])));
  }
  for (int kh = 0; kh < k; ++kh) {
    const float* r = padded + (oh * S + kh) * g.Wp + ow * S;
    for (int kw = 0; kw < k; ++kw) maxTap<S, V, Taps>(r + kw, kh * k + kw, m, best);
  }
  for (int u = 0; u < V; ++u) {
    _mm256_storeu_ps(row + ow + 8 * u, m[u]);
    if (Taps) _mm256_storeu_si256(reinterpret_cast<__m256i*>(rowTaps + ow + 8 * u), best[u]);
  }
}

// taps == nullptr: the values only (no-grad forward).
template <int S, int K, bool Taps>
__attribute__((target("avx2"))) void maxPlanesAvx2(const PaddedPlanes& g, const float* src, float* dst, uint8_t* taps,
                                                   int64_t plane0, int64_t plane1) {
  thread_local std::vector<float> padded, row;
  thread_local std::vector<int32_t> rowTaps;
  padded.assign(g.Hp * g.Wp, -std::numeric_limits<float>::infinity());  // margins stay -inf; interiors rewritten
  row.resize(g.Wv);
  rowTaps.resize(g.Wv);
  for (int64_t plane = plane0; plane < plane1; ++plane) {
    const float* in = src + plane * g.H * g.W;
    for (int64_t ih = 0; ih < g.H; ++ih) std::memcpy(&padded[(ih + g.p) * g.Wp + g.p], in + ih * g.W, sizeof(float) * g.W);
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const int32_t rowFirst = static_cast<int32_t>(std::max<int64_t>(g.p - oh * S, 0) * g.k);
      int64_t ow = 0;
      for (; ow + 16 <= g.Wv; ow += 16) maxVectors<S, K, 2, Taps>(g, padded.data(), oh, ow, rowFirst, row.data(), rowTaps.data());
      if (ow < g.Wv) maxVectors<S, K, 1, Taps>(g, padded.data(), oh, ow, rowFirst, row.data(), rowTaps.data());
      const int64_t o = (plane * g.OH + oh) * g.OW;
      std::memcpy(dst + o, row.data(), sizeof(float) * g.OW);
      if (Taps)
        for (int64_t j = 0; j < g.OW; ++j) taps[o + j] = static_cast<uint8_t>(rowTaps[j]);
    }
  }
}

template <bool Taps>
void maxPlanesOf(const PaddedPlanes& g, const float* src, float* dst, uint8_t* taps, int64_t plane0, int64_t plane1) {
  if (g.s == 1)
    return g.k == 3 ? maxPlanesAvx2<1, 3, Taps>(g, src, dst, taps, plane0, plane1)
                    : maxPlanesAvx2<1, 0, Taps>(g, src, dst, taps, plane0, plane1);
  return g.k == 3 ? maxPlanesAvx2<2, 3, Taps>(g, src, dst, taps, plane0, plane1)
                  : maxPlanesAvx2<2, 0, Taps>(g, src, dst, taps, plane0, plane1);
}

void maxPlanes(const PaddedPlanes& g, const float* src, float* dst, uint8_t* taps, int64_t plane0, int64_t plane1) {
  return taps ? maxPlanesOf<true>(g, src, dst, taps, plane0, plane1) : maxPlanesOf<false>(g, src, dst, nullptr, plane0, plane1);
}

// Average pool: the padding is +0. Each output sums its taps in ATen's row-major order from +0; a
// padding tap adds +0, which leaves any such partial sum as it is (it is never -0: it starts at +0,
// and a sum that cancels rounds to +0), so the sums are ATen's. Divisors per output: ATen's, from
// per-row and per-column counts.
template <int S, int K, int V>
__attribute__((target("avx2"), always_inline)) inline void avgVectors(const PaddedPlanes& g, const float* padded, int64_t oh,
                                                                     int64_t ow, __m256i rowCount, const int32_t* colCount,
                                                                     float* row) {
  const int k = K > 0 ? K : static_cast<int>(g.k);
  __m256 acc[V];
  for (int u = 0; u < V; ++u) acc[u] = _mm256_setzero_ps();
  for (int kh = 0; kh < k; ++kh) {
    const float* r = padded + (oh * S + kh) * g.Wp + ow * S;
    for (int kw = 0; kw < k; ++kw)
      for (int u = 0; u < V; ++u) acc[u] = _mm256_add_ps(acc[u], loadStrided<S>(r + kw + 8 * S * u));
  }
  for (int u = 0; u < V; ++u) {
    const __m256i cols = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(colCount + ow + 8 * u));
    _mm256_storeu_ps(row + ow + 8 * u, _mm256_div_ps(acc[u], _mm256_cvtepi32_ps(_mm256_mullo_epi32(rowCount, cols))));
  }
}

template <int S, int K>
__attribute__((target("avx2"))) void avgPlanesAvx2(const PaddedPlanes& g, const float* src, float* dst, const int32_t* rowCount,
                                                   const int32_t* colCount, int64_t plane0, int64_t plane1) {
  thread_local std::vector<float> padded, row;
  padded.assign(g.Hp * g.Wp, 0.f);  // margins stay +0; interiors rewritten
  row.resize(g.Wv);
  for (int64_t plane = plane0; plane < plane1; ++plane) {
    const float* in = src + plane * g.H * g.W;
    for (int64_t ih = 0; ih < g.H; ++ih) std::memcpy(&padded[(ih + g.p) * g.Wp + g.p], in + ih * g.W, sizeof(float) * g.W);
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const __m256i rc = _mm256_set1_epi32(rowCount[oh]);
      int64_t ow = 0;
      for (; ow + 16 <= g.Wv; ow += 16) avgVectors<S, K, 2>(g, padded.data(), oh, ow, rc, colCount, row.data());
      if (ow < g.Wv) avgVectors<S, K, 1>(g, padded.data(), oh, ow, rc, colCount, row.data());
      std::memcpy(dst + (plane * g.OH + oh) * g.OW, row.data(), sizeof(float) * g.OW);
    }
  }
}

void avgPlanes(const PaddedPlanes& g, const float* src, float* dst, const int32_t* rowCount, const int32_t* colCount,
               int64_t plane0, int64_t plane1) {
  if (g.s == 1)
    return g.k == 3 ? avgPlanesAvx2<1, 3>(g, src, dst, rowCount, colCount, plane0, plane1)
                    : avgPlanesAvx2<1, 0>(g, src, dst, rowCount, colCount, plane0, plane1);
  return g.k == 3 ? avgPlanesAvx2<2, 3>(g, src, dst, rowCount, colCount, plane0, plane1)
                  : avgPlanesAvx2<2, 0>(g, src, dst, rowCount, colCount, plane0, plane1);
}

// The whole-plane kernels take strides 1 and 2.
bool wholePlanes(int64_t s) { return cpuHasAvx2Fma() && (s == 1 || s == 2); }

// Runs fn(src, dst, plane0, plane1) over plane ranges in parallel into a new output.
template <typename PlanesFn>
at::Tensor overPlanes(const at::Tensor& input, const Geometry& g, PlanesFn fn) {
  at::Tensor out = g.output(input);
  const float* src = input.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, g.planes, 1, [&](int64_t b0, int64_t b1) { fn(src, dst, b0, b1); });
  return out;
}
#endif

// The max pool's forward with, per output, the window tap (row-major, < k*k) it took: ATen's
// argmax rule (the first maximum; the last NaN; the first tap when all are -inf).
std::pair<at::Tensor, at::Tensor> maxPool2dWithTaps(const at::Tensor& input, int64_t k, int64_t s, int64_t p) {
  RECORD_FUNCTION("autospeech::max_pool_forward", std::vector<c10::IValue>());
  const Geometry g(input, k, s, p);
  at::Tensor taps = at::empty({input.size(0), input.size(1), g.OH, g.OW}, input.options().dtype(at::kByte));
  uint8_t* tapBase = taps.data_ptr<uint8_t>();
  const float* src = input.data_ptr<float>();
  const int64_t W = g.W, OW = g.OW, owLo = g.owLo, owHi = g.owHi;
#if defined(__x86_64__)
  if (wholePlanes(s)) {
    const PaddedPlanes pp(g, k, s, p);
    return {overPlanes(input, g, [&](const float* in, float* out, int64_t b0, int64_t b1) { maxPlanes(pp, in, out, tapBase, b0, b1); }),
            taps};
  }
#endif
  at::Tensor out = forEachOutputRow(input, g, k, s, p, [&](const float* in, float* row, int64_t oh, int64_t ih0, int64_t ih1) {
    const int64_t plane = (in - src) / (g.H * W);
    uint8_t* tap = tapBase + (plane * g.OH + oh) * OW;
    const int64_t top = oh * s - p;
    auto edge = [&](int64_t ow) {
      const int64_t left = ow * s - p;
      const int64_t iw0 = std::max<int64_t>(left, 0), iw1 = std::min<int64_t>(left + k, W);
      float m = -std::numeric_limits<float>::infinity();
      int64_t best = (ih0 - top) * k + (iw0 - left);
      for (int64_t ih = ih0; ih < ih1; ++ih)
        for (int64_t iw = iw0; iw < iw1; ++iw) {
          const float v = in[ih * W + iw];
          const bool take = replacesMax(v, m);
          m = take ? v : m;
          best = take ? (ih - top) * k + (iw - left) : best;
        }
      row[ow] = m;
      tap[ow] = static_cast<uint8_t>(best);
    };
    for (int64_t ow = 0; ow < owLo; ++ow) edge(ow);
    // Interior: taps tracked in int32 lanes (the width of the values) so the loop vectorises.
    thread_local std::vector<int32_t> best;
    best.assign(OW, static_cast<int32_t>((ih0 - top) * k));
    int32_t* b = best.data();
    for (int64_t ow = owLo; ow < owHi; ++ow) row[ow] = -std::numeric_limits<float>::infinity();
    for (int64_t ih = ih0; ih < ih1; ++ih) {
      const float* r = in + ih * W - p;
      for (int64_t kw = 0; kw < k; ++kw) {
        const int32_t t = static_cast<int32_t>((ih - top) * k + kw);
        for (int64_t ow = owLo; ow < owHi; ++ow) {
          const float v = r[ow * s + kw], m = row[ow];
          const bool take = replacesMax(v, m);
          row[ow] = take ? v : m;
          b[ow] = take ? t : b[ow];
        }
      }
    }
    for (int64_t ow = owLo; ow < owHi; ++ow) tap[ow] = static_cast<uint8_t>(b[ow]);
    for (int64_t ow = owHi; ow < OW; ++ow) edge(ow);
  });
  return {out, taps};
}

// ATen's max-pool backward: a zeroed gradient, then every output's gradient added at its argmax,
// outputs in row-major order plane by plane (so overlapping windows sum in ATen's order).
at::Tensor maxPool2dBackwardTaps(const at::Tensor& gradOut, const at::Tensor& taps, at::IntArrayRef inputSizes, int64_t k,
                                 int64_t s, int64_t p) {
  RECORD_FUNCTION("autospeech::max_pool_backward", std::vector<c10::IValue>());
  at::Tensor go = gradOut.contiguous();
  at::Tensor gi = at::zeros(inputSizes, go.options());
  const int64_t planes = inputSizes[0] * inputSizes[1], H = inputSizes[2], W = inputSizes[3];
  const int64_t OH = go.size(2), OW = go.size(3);
  const float* g = go.data_ptr<float>();
  const uint8_t* t = taps.data_ptr<uint8_t>();
  float* d = gi.data_ptr<float>();
  at::parallel_for(0, planes, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t plane = b0; plane < b1; ++plane) {
      float* dp = d + plane * H * W;
      const float* gp = g + plane * OH * OW;
      const uint8_t* tp = t + plane * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t o = oh * OW + ow, tap = tp[o];
          dp[(oh * s - p + tap / k) * W + (ow * s - p + tap % k)] += gp[o];
        }
    }
  });
  return gi;
}

struct MaxPool2dExact : public torch::autograd::Function<MaxPool2dExact> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t k, int64_t s, int64_t p) {
    auto [out, taps] = maxPool2dWithTaps(x, k, s, p);
    ctx->saved_data["taps"] = taps;
    ctx->saved_data["sizes"] = x.sizes().vec();
    ctx->saved_data["ksp"] = std::vector<int64_t>{k, s, p};
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto ksp = ctx->saved_data["ksp"].toIntVector();
    auto sizes = ctx->saved_data["sizes"].toIntVector();
    return {maxPool2dBackwardTaps(grads[0], ctx->saved_data["taps"].toTensor(), sizes, ksp[0], ksp[1], ksp[2]), at::Tensor(),
            at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor maxPool2dTrain(const at::Tensor& x, int64_t k, int64_t s, int64_t p) {
  if (!supported(x, k, s, p)) return at::max_pool2d(x, {k, k}, {s, s}, {p, p});
  return MaxPool2dExact::apply(x, k, s, p);
}

at::Tensor maxPool2dNoGrad(const at::Tensor& input, int64_t k, int64_t s, int64_t p) {
  if (!supported(input, k, s, p)) return at::max_pool2d(input, {k, k}, {s, s}, {p, p});
  const Geometry g(input, k, s, p);
#if defined(__x86_64__)
  if (wholePlanes(s)) {
    const PaddedPlanes pp(g, k, s, p);
    return overPlanes(input, g, [&](const float* in, float* out, int64_t b0, int64_t b1) { maxPlanes(pp, in, out, nullptr, b0, b1); });
  }
#endif
  const int64_t W = g.W, OW = g.OW, owLo = g.owLo, owHi = g.owHi;
  return forEachOutputRow(input, g, k, s, p, [&](const float* in, float* row, int64_t, int64_t ih0, int64_t ih1) {
    auto edge = [&](int64_t ow) {
      const int64_t iw0 = std::max<int64_t>(ow * s - p, 0), iw1 = std::min<int64_t>(ow * s - p + k, W);
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t ih = ih0; ih < ih1; ++ih)
        for (int64_t iw = iw0; iw < iw1; ++iw) m = maxOf(m, in[ih * W + iw]);
      row[ow] = m;
    };
    for (int64_t ow = 0; ow < owLo; ++ow) edge(ow);
    // Interior: the same row-major window order, every tap in range.
    for (int64_t ow = owLo; ow < owHi; ++ow) row[ow] = -std::numeric_limits<float>::infinity();
    for (int64_t ih = ih0; ih < ih1; ++ih) {
      const float* r = in + ih * W - p;
      for (int64_t kw = 0; kw < k; ++kw)
        for (int64_t ow = owLo; ow < owHi; ++ow) row[ow] = maxOf(row[ow], r[ow * s + kw]);
    }
    for (int64_t ow = owHi; ow < OW; ++ow) edge(ow);
  });
}

at::Tensor avgPool2dNoGrad(const at::Tensor& input, int64_t k, int64_t s, int64_t p, bool countIncludePad) {
  if (!supported(input, k, s, p)) return at::avg_pool2d(input, {k, k}, {s, s}, {p, p}, false, countIncludePad);
  const Geometry g(input, k, s, p);
  const int64_t H = g.H, W = g.W, OW = g.OW, owLo = g.owLo, owHi = g.owHi;
#if defined(__x86_64__)
  if (wholePlanes(s)) {
    const PaddedPlanes pp(g, k, s, p);
    // ATen's divisor = rows x columns: in range, or counting padding up to H + p / W + p.
    auto count = [&](int64_t o, int64_t size) {
      const int64_t start = o * s - p;
      return static_cast<int32_t>(countIncludePad ? std::min<int64_t>(start + k, size + p) - start
                                                  : std::min<int64_t>(start + k, size) - std::max<int64_t>(start, 0));
    };
    std::vector<int32_t> rowCount(g.OH), colCount(pp.Wv, 1);  // columns past OW are computed and dropped
    for (int64_t oh = 0; oh < g.OH; ++oh) rowCount[oh] = count(oh, H);
    for (int64_t ow = 0; ow < OW; ++ow) colCount[ow] = count(ow, W);
    return overPlanes(input, g, [&](const float* in, float* out, int64_t b0, int64_t b1) {
      avgPlanes(pp, in, out, rowCount.data(), colCount.data(), b0, b1);
    });
  }
#endif
  return forEachOutputRow(input, g, k, s, p, [&](const float* in, float* row, int64_t oh, int64_t ih0, int64_t ih1) {
    // ATen: the pool size counts padding up to H + p (then clipped to the input unless
    // count_include_pad).
    const int64_t hPadded = std::min<int64_t>(oh * s - p + k, H + p) - (oh * s - p);
    auto edge = [&](int64_t ow) {
      const int64_t iw0 = std::max<int64_t>(ow * s - p, 0), iw1 = std::min<int64_t>(ow * s - p + k, W);
      const int64_t wPadded = std::min<int64_t>(ow * s - p + k, W + p) - (ow * s - p);
      float sum = 0.f;
      for (int64_t ih = ih0; ih < ih1; ++ih)
        for (int64_t iw = iw0; iw < iw1; ++iw) sum += in[ih * W + iw];
      const int64_t divide = countIncludePad ? hPadded * wPadded : (ih1 - ih0) * (iw1 - iw0);
      row[ow] = sum / static_cast<float>(divide);
    };
    for (int64_t ow = 0; ow < owLo; ++ow) edge(ow);
    for (int64_t ow = owLo; ow < owHi; ++ow) row[ow] = 0.f;
    for (int64_t ih = ih0; ih < ih1; ++ih) {
      const float* r = in + ih * W - p;
      for (int64_t kw = 0; kw < k; ++kw)
        for (int64_t ow = owLo; ow < owHi; ++ow) row[ow] += r[ow * s + kw];
    }
    const float divide = static_cast<float>(countIncludePad ? hPadded * k : (ih1 - ih0) * k);
    for (int64_t ow = owLo; ow < owHi; ++ow) row[ow] /= divide;
    for (int64_t ow = owHi; ow < OW; ++ow) edge(ow);
  });
}

}  // namespace autospeech::nn
