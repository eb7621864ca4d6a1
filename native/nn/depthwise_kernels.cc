#include "nn/depthwise_kernels.h"

#include "system/cpu_features.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace autospeech::nn {
namespace {

constexpr int64_t kTapsPerPass = 8;

// The gemv kernel's horizontal sum of its 8 lanes (vhaddps, vperm2f128 + vaddps, vhaddps).
inline float laneSum(const float a[8]) { return ((a[0] + a[1]) + (a[4] + a[5])) + ((a[2] + a[3]) + (a[6] + a[7])); }

// y + dot(col, dy) over n terms in the gemv kernel's order (see the header).
float gemvDotPortable(const float* col, const float* dy, int64_t n, float y) {
  const int64_t main = n / 16 * 16;
  if (main > 0) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t k = 0; k < main; k += 16) {
      for (int l = 0; l < 8; ++l) acc[l] = std::fma(col[k + l], dy[k + l], acc[l]);
      for (int l = 0; l < 8; ++l) acc[l] = std::fma(col[k + 8 + l], dy[k + 8 + l], acc[l]);
    }
    y = y + laneSum(acc);
  }
  int64_t k = main;
  for (int block = 8; block > 0; block >>= 1) {
    if ((n - main) & block) {
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int l = 0; l < block; ++l) acc[l] = col[k + l] * dy[k + l];
      y = y + laneSum(acc);
      k += block;
    }
  }
  return y;
}

#if defined(__x86_64__)
// `count` dots at once (count <= 8), each in the gemv kernel's order: independent FMA chains, so
// the loop runs at FMA throughput instead of one chain's latency.
__attribute__((target("avx2,fma"))) void gemvDotsAvx2(const float* col, int64_t stride, const float* dy, int64_t n,
                                                       float* y, int count) {
  const int64_t main = n / 16 * 16;
  if (main > 0) {
    __m256 acc[8];
    for (int t = 0; t < count; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t k = 0; k < main; k += 16) {
      const __m256 d0 = _mm256_loadu_ps(dy + k), d1 = _mm256_loadu_ps(dy + k + 8);
      for (int t = 0; t < count; ++t) acc[t] = _mm256_fmadd_ps(_mm256_loadu_ps(col + t * stride + k), d0, acc[t]);
      for (int t = 0; t < count; ++t) acc[t] = _mm256_fmadd_ps(_mm256_loadu_ps(col + t * stride + k + 8), d1, acc[t]);
    }
    alignas(32) float lanes[8];
    for (int t = 0; t < count; ++t) {
      _mm256_store_ps(lanes, acc[t]);
      y[t] = y[t] + laneSum(lanes);
    }
  }
  // The remainder (< 16 terms) in the portable blocks: same products, same sums.
  for (int t = 0; t < count; ++t) y[t] = gemvDotPortable(col + t * stride + main, dy + main, n - main, y[t]);
}

#endif

// y[t] = gemv-order dot of col row t (rows `stride` apart) with dy, for t < count.
inline void gemvDots(const float* col, int64_t stride, const float* dy, int64_t n, float* y, int count) {
#if defined(__x86_64__)
  if (cpuHasAvx2Fma()) return gemvDotsAvx2(col, stride, dy, n, y, count);
#endif
  for (int t = 0; t < count; ++t) y[t] = gemvDotPortable(col + t * stride, dy, n, y[t]);
}

// Output columns [lo, hi) whose input column ow*s - p + tap lies inside [0, size).
inline void validRange(int64_t out, int64_t size, int64_t s, int64_t offset, int64_t& lo, int64_t& hi) {
  // need 0 <= o*s + offset < size
  lo = offset >= 0 ? 0 : (-offset + s - 1) / s;
  hi = size - offset <= 0 ? 0 : (size - offset - 1) / s + 1;
  lo = std::min(lo, out);
  hi = std::max(lo, std::min(hi, out));
}


// Calls fn(i, j, oh, ow0, ow1) for every filter tap (i, j) in row-major order and every output row
// oh the tap reaches inside the input, with [ow0, ow1) the output columns it reaches there.
template <typename Fn>
inline void forEachTapRow(const DepthwiseGeometry& g, Fn fn) {
  const int64_t OH = g.OH(), OW = g.OW();
  for (int64_t i = 0; i < g.KH; ++i) {
    int64_t oh0, oh1;
    validRange(OH, g.H, g.SH, i * g.DH - g.PH, oh0, oh1);
    for (int64_t j = 0; j < g.KW; ++j) {
      int64_t ow0, ow1;
      validRange(OW, g.W, g.SW, j * g.DW - g.PW, ow0, ow1);
      for (int64_t oh = oh0; oh < oh1; ++oh) fn(i, j, oh, ow0, ow1);
    }
  }
}

// Offset of tap t (row-major) from its output's position on a zero-padded plane of width Wp.
inline int64_t tapOffset(const DepthwiseGeometry& g, int64_t Wp, int64_t t) {
  return (t / g.KW) * g.DH * Wp + (t % g.KW) * g.DW;
}

#define AUTOSPEECH_INLINE inline __attribute__((always_inline))

// relu as torch computes it (clamp_min(x, 0): NaN and -0 pass through).
inline float relu(float v) { return v < 0.f ? 0.f : v; }

// Copies n floats, rectified when `rectify`.
inline void copyRow(float* dst, const float* src, int64_t n, bool rectify) {
  if (rectify) {
    for (int64_t i = 0; i < n; ++i) dst[i] = relu(src[i]);
  } else {
    std::memcpy(dst, src, sizeof(float) * n);
  }
}

// threshold_backward(g, relu(x), 0) for n values: zero where x <= 0 (relu(x) <= 0 exactly then).
inline void maskRow(float* dst, const float* g, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = x[i] <= 0.f ? 0.f : g[i];
}

// How a tap's term joins an accumulator: fused multiply-add (an FMA instruction inside the AVX2
// instantiations, libm's exact fmaf elsewhere), or the rounded product then the sum.
struct HardwareFma {
  AUTOSPEECH_INLINE float operator()(float acc, float a, float b) const { return __builtin_fmaf(a, b, acc); }
};
struct LibmFma {
  float operator()(float acc, float a, float b) const { return std::fma(a, b, acc); }
};
struct MulAdd {
  AUTOSPEECH_INLINE float operator()(float acc, float a, float b) const { return acc + a * b; }
};

// Per-thread buffers: a zero-padded input plane and an output plane on the padded width.
struct PaddedPlanes {
  std::vector<float> in, out;
  std::vector<int64_t> offsets;
};
thread_local PaddedPlanes padded;

// out[q] = op(...op(op(0, in[q + off[0]], w[0]), in[q + off[1]], w[1])..., in[q + off[T-1]], w[T-1])
// for q in [0, count): every output folds its taps in order, held in a register throughout.
template <typename Op>
AUTOSPEECH_INLINE void stencil(float* out, int64_t count, const float* in, const int64_t* off, const float* w, int64_t taps,
                               Op op) {
  for (int64_t q = 0; q < count; ++q) {
    float acc = 0.f;
    for (int64_t t = 0; t < taps; ++t) acc = op(acc, in[q + off[t]], w[t]);
    out[q] = acc;
  }
}

#if defined(__x86_64__)
// The same with 32 outputs at a time in four AVX registers (8 at a time, then singly, at the end).
template <bool kFused>
__attribute__((target("avx2,fma"), always_inline)) inline __m256 term(__m256 acc, __m256 a, __m256 b) {
  return kFused ? _mm256_fmadd_ps(a, b, acc) : _mm256_add_ps(acc, _mm256_mul_ps(a, b));
}

template <bool kFused>
__attribute__((target("avx2,fma"))) void stencilAvx2(float* out, int64_t count, const float* in, const int64_t* off,
                                                     const float* w, int64_t taps) {
  int64_t q = 0;
  // 64 outputs in eight registers: eight independent FMA chains keep both FMA units busy (four
  // leave half their issue slots to the 4-cycle latency).
  for (; q + 64 <= count; q += 64) {
    __m256 a[8];
    for (int i = 0; i < 8; ++i) a[i] = _mm256_setzero_ps();
    for (int64_t t = 0; t < taps; ++t) {
      const __m256 wt = _mm256_set1_ps(w[t]);
      const float* p = in + q + off[t];
      for (int i = 0; i < 8; ++i) a[i] = term<kFused>(a[i], _mm256_loadu_ps(p + 8 * i), wt);
    }
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(out + q + 8 * i, a[i]);
  }
  for (; q + 32 <= count; q += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t t = 0; t < taps; ++t) {
      const __m256 wt = _mm256_set1_ps(w[t]);
      const float* p = in + q + off[t];
      a0 = term<kFused>(a0, _mm256_loadu_ps(p), wt);
      a1 = term<kFused>(a1, _mm256_loadu_ps(p + 8), wt);
      a2 = term<kFused>(a2, _mm256_loadu_ps(p + 16), wt);
      a3 = term<kFused>(a3, _mm256_loadu_ps(p + 24), wt);
    }
    _mm256_storeu_ps(out + q, a0);
    _mm256_storeu_ps(out + q + 8, a1);
    _mm256_storeu_ps(out + q + 16, a2);
    _mm256_storeu_ps(out + q + 24, a3);
  }
  for (; q + 8 <= count; q += 8) {
    __m256 a0 = _mm256_setzero_ps();
    for (int64_t t = 0; t < taps; ++t) a0 = term<kFused>(a0, _mm256_loadu_ps(in + q + off[t]), _mm256_set1_ps(w[t]));
    _mm256_storeu_ps(out + q, a0);
  }
  for (; q < count; ++q) {
    float acc = 0.f;
    for (int64_t t = 0; t < taps; ++t) acc = kFused ? __builtin_fmaf(in[q + off[t]], w[t], acc) : acc + in[q + off[t]] * w[t];
    out[q] = acc;
  }
}
#endif

// Runs the stencil with the fastest implementation of `op` there is.
template <typename Op>
AUTOSPEECH_INLINE void runStencil(float* out, int64_t count, const float* in, const int64_t* off, const float* w,
                                  int64_t taps, Op op, bool avx2) {
#if defined(__x86_64__)
  if (avx2) {
    if constexpr (std::is_same_v<Op, MulAdd>)
      return stencilAvx2<false>(out, count, in, off, w, taps);
    else
      return stencilAvx2<true>(out, count, in, off, w, taps);
  }
#endif
  stencil(out, count, in, off, w, taps, op);
}

// The forward pass: each output folds op(acc, x, w) over the filter taps in row-major order.
// Stride 1: on a zero-padded copy of the plane, the output computed on the padded width (its first
// OW columns kept), so every tap is a fixed offset (taps falling on padding add exact zeros, which
// leave an accumulator as it is: it starts at +0 and +0 + -0 = +0). Other strides: row by row over
// the in-range part of each tap (the same order per output).
template <typename Op>
AUTOSPEECH_INLINE void forwardPlanes(const DepthwiseGeometry& g, const float* x, const float* w, float* y, int64_t c0,
                                     int64_t c1, Op op, bool avx2) {
  const int64_t OH = g.OH(), OW = g.OW(), plane = g.H * g.W, oplane = OH * OW, taps = g.KH * g.KW;
  if (g.SH == 1 && g.SW == 1) {
    const int64_t Hp = g.H + 2 * g.PH, Wp = g.W + 2 * g.PW, slack = (g.KW - 1) * g.DW, span = OH * Wp;
    padded.in.assign(Hp * Wp + slack, 0.f);
    padded.out.resize(span);
    padded.offsets.resize(taps);
    float *xp = padded.in.data(), *yp = padded.out.data();
    int64_t* off = padded.offsets.data();
    for (int64_t t = 0; t < taps; ++t) off[t] = tapOffset(g, Wp, t);
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t c = c0; c < c1; ++c) {
        const float* in = x + (n * g.C + c) * plane;
        for (int64_t h = 0; h < g.H; ++h) copyRow(xp + (h + g.PH) * Wp + g.PW, in + h * g.W, g.W, g.reluInput);
        runStencil(yp, span, xp, off, w + c * taps, taps, op, avx2);
        float* out = y + (n * g.C + c) * oplane;
        for (int64_t oh = 0; oh < OH; ++oh) std::memcpy(out + oh * OW, yp + oh * Wp, sizeof(float) * OW);
      }
    return;
  }
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = c0; c < c1; ++c) {
      float* out = y + (n * g.C + c) * oplane;
      const float* in = x + (n * g.C + c) * plane;
      std::fill(out, out + oplane, 0.f);
      forEachTapRow(g, [&](int64_t i, int64_t j, int64_t oh, int64_t ow0, int64_t ow1) {
        const float* src = in + (oh * g.SH - g.PH + i * g.DH) * g.W + (j * g.DW - g.PW);
        const float wt = w[c * taps + i * g.KW + j];
        float* row = out + oh * OW;
        if (g.reluInput) {
          for (int64_t ow = ow0; ow < ow1; ++ow) row[ow] = op(row[ow], relu(src[ow * g.SW]), wt);
        } else {
          for (int64_t ow = ow0; ow < ow1; ++ow) row[ow] = op(row[ow], src[ow * g.SW], wt);
        }
      });
    }
}

// The input gradient: each input folds op(acc, dy, w) over the taps that reached it, in row-major
// tap order. Stride 1: gathered on the padded grid from dy laid out on the padded width with zero
// margins (the extra terms are exact zeros, as in the forward), the interior kept; other strides:
// scattered row by row, tap after tap (the same order per input).
template <typename Op>
AUTOSPEECH_INLINE void gradInputPlanes(const DepthwiseGeometry& g, const float* dy, const float* w, float* dx, int64_t c0,
                                       int64_t c1, Op op, bool avx2, const float* x) {
  const int64_t OH = g.OH(), OW = g.OW(), plane = g.H * g.W, oplane = OH * OW, taps = g.KH * g.KW;
  if (g.SH == 1 && g.SW == 1) {
    const int64_t Hp = g.H + 2 * g.PH, Wp = g.W + 2 * g.PW, reach = (g.KH - 1) * g.DH * Wp + (g.KW - 1) * g.DW;
    padded.in.assign(reach + Hp * Wp, 0.f);  // dy at [reach, reach + OH*Wp): rows of OW, zeros elsewhere
    padded.out.resize(Hp * Wp);
    padded.offsets.resize(taps);
    float *gp = padded.in.data() + reach, *dp = padded.out.data();
    int64_t* off = padded.offsets.data();
    for (int64_t t = 0; t < taps; ++t) off[t] = -tapOffset(g, Wp, t);
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t c = c0; c < c1; ++c) {
        const float* gy = dy + (n * g.C + c) * oplane;
        for (int64_t oh = 0; oh < OH; ++oh) std::memcpy(gp + oh * Wp, gy + oh * OW, sizeof(float) * OW);
        // only the padded grid's rows of the input (the rows of padding are not gradients)
        runStencil(dp + g.PH * Wp, g.H * Wp, gp + g.PH * Wp, off, w + c * taps, taps, op, avx2);
        float* out = dx + (n * g.C + c) * plane;
        const float* in = g.reluInput ? x + (n * g.C + c) * plane : nullptr;
        for (int64_t h = 0; h < g.H; ++h) {
          const float* src = dp + (h + g.PH) * Wp + g.PW;
          if (g.reluInput)
            maskRow(out + h * g.W, src, in + h * g.W, g.W);
          else
            std::memcpy(out + h * g.W, src, sizeof(float) * g.W);
        }
      }
    return;
  }
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = c0; c < c1; ++c) {
      float* out = dx + (n * g.C + c) * plane;
      const float* gy = dy + (n * g.C + c) * oplane;
      std::fill(out, out + plane, 0.f);
      forEachTapRow(g, [&](int64_t i, int64_t j, int64_t oh, int64_t ow0, int64_t ow1) {
        float* row = out + (oh * g.SH - g.PH + i * g.DH) * g.W + (j * g.DW - g.PW);
        const float wt = w[c * taps + i * g.KW + j];
        const float* gr = gy + oh * OW;
        for (int64_t ow = ow0; ow < ow1; ++ow) row[ow * g.SW] = op(row[ow * g.SW], gr[ow], wt);
      });
      if (g.reluInput) maskRow(out, out, x + (n * g.C + c) * plane, plane);
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void forwardAvx2(const DepthwiseGeometry& g, const float* x, const float* w, float* y,
                                                      int64_t c0, int64_t c1) {
  forwardPlanes(g, x, w, y, c0, c1, HardwareFma{}, true);
}
__attribute__((target("avx2,fma"))) void gradInputAvx2(const DepthwiseGeometry& g, const float* dy, const float* w,
                                                        float* dx, int64_t c0, int64_t c1, TapSum sum, const float* x) {
  if (sum == TapSum::fma)
    gradInputPlanes(g, dy, w, dx, c0, c1, HardwareFma{}, true, x);
  else
    gradInputPlanes(g, dy, w, dx, c0, c1, MulAdd{}, true, x);
}
#endif

}  // namespace

void depthwiseForward(const DepthwiseGeometry& g, const float* x, const float* w, float* y, int64_t c0, int64_t c1) {
#if defined(__x86_64__)
  if (cpuHasAvx2Fma()) return forwardAvx2(g, x, w, y, c0, c1);
#endif
  forwardPlanes(g, x, w, y, c0, c1, LibmFma{}, false);
}

void depthwiseGradInput(const DepthwiseGeometry& g, const float* dy, const float* w, float* dx, int64_t c0, int64_t c1,
                        TapSum sum, const float* x) {
#if defined(__x86_64__)
  if (cpuHasAvx2Fma()) return gradInputAvx2(g, dy, w, dx, c0, c1, sum, x);
#endif
  if (sum == TapSum::fma)
    gradInputPlanes(g, dy, w, dx, c0, c1, LibmFma{}, false, x);
  else
    gradInputPlanes(g, dy, w, dx, c0, c1, MulAdd{}, false, x);
}

#if defined(__x86_64__)
// The gemv-order dots of `count` taps, read straight off the zero-padded plane instead of im2col
// rows (stride 1, OW >= 8): term k of tap t is xp[base(k) + off[t]] with base(k) = (k / OW) * Wp +
// k % OW, so each 8-term chunk is one unaligned load, or two blended where the chunk crosses a row.
// Same terms, same lanes, same sums as gemvDots over the im2col rows.
struct ChunkMap {
  std::vector<int64_t> first, second;  // per 8-term chunk: load offsets for the lanes before / from the row break
  std::vector<int32_t> split;          // lanes taken from `first` (8 = all)
};

// kCount taps at a time, their accumulators in registers (a run-time count kept them in memory,
// each FMA then waiting on a store and a reload).
template <int kCount>
__attribute__((target("avx2,fma"))) void planeDotsAvx2(const float* xp, const ChunkMap& map, const int64_t* off,
                                                       const float* gy, int64_t os, int64_t OW, int64_t Wp, float* y) {
  const int64_t main = os / 16 * 16;
  alignas(32) static const int32_t kMaskBits[16] = {0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1};
  if (main > 0) {
    __m256 acc[kCount];
    for (int t = 0; t < kCount; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t m = 0; m < main / 8; ++m) {
      const __m256 d = _mm256_loadu_ps(gy + 8 * m);
      const int32_t s = map.split[m];
      const float* a = xp + map.first[m];
      if (s == 8) {
        for (int t = 0; t < kCount; ++t) acc[t] = _mm256_fmadd_ps(_mm256_loadu_ps(a + off[t]), d, acc[t]);
      } else {
        const __m256 mask = _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskBits + 8 - s)));
        const float* b = xp + map.second[m];
        for (int t = 0; t < kCount; ++t) {
          const __m256 v = _mm256_blendv_ps(_mm256_loadu_ps(a + off[t]), _mm256_loadu_ps(b + off[t]), mask);
          acc[t] = _mm256_fmadd_ps(v, d, acc[t]);
        }
      }
    }
    alignas(32) float lanes[8];
    for (int t = 0; t < kCount; ++t) {
      _mm256_store_ps(lanes, acc[t]);
      y[t] = y[t] + laneSum(lanes);
    }
  }
  // The < 16 remaining terms: the gemv's 8/4/2/1 blocks.
  float tail[16];
  for (int t = 0; t < kCount; ++t) {
    for (int64_t k = main; k < os; ++k) tail[k - main] = xp[(k / OW) * Wp + k % OW + off[t]];
    y[t] = gemvDotPortable(tail, gy + main, os - main, y[t]);
  }
}

// Up to kMaxDirectTaps taps per pass over the plane (each pass is one FMA chain per tap, as long as
// the plane: fewer, fuller passes hide its latency better).
constexpr int kMaxDirectTaps = 12;

void planeDotsDirect(const float* xp, const ChunkMap& map, const int64_t* off, int count, const float* gy, int64_t os,
                     int64_t OW, int64_t Wp, float* y) {
  switch (count) {
#define AUTOSPEECH_DOTS(N) \
  case N:                  \
    return planeDotsAvx2<N>(xp, map, off, gy, os, OW, Wp, y);
    AUTOSPEECH_DOTS(1) AUTOSPEECH_DOTS(2) AUTOSPEECH_DOTS(3) AUTOSPEECH_DOTS(4) AUTOSPEECH_DOTS(5) AUTOSPEECH_DOTS(6)
    AUTOSPEECH_DOTS(7) AUTOSPEECH_DOTS(8) AUTOSPEECH_DOTS(9) AUTOSPEECH_DOTS(10) AUTOSPEECH_DOTS(11) AUTOSPEECH_DOTS(12)
#undef AUTOSPEECH_DOTS
  }
}

void buildChunkMap(ChunkMap& map, int64_t os, int64_t OW, int64_t Wp) {
  const int64_t chunks = os / 16 * 2;
  map.first.resize(chunks);
  map.second.resize(chunks);
  map.split.resize(chunks);
  for (int64_t m = 0; m < chunks; ++m) {
    const int64_t k = 8 * m, ow = k % OW, inRow = std::min<int64_t>(8, OW - ow);
    map.first[m] = (k / OW) * Wp + ow;
    map.split[m] = static_cast<int32_t>(inRow);
    const int64_t k2 = k + inRow;  // first term on the next row (when inRow < 8)
    map.second[m] = (k2 / OW) * Wp + k2 % OW - inRow;
  }
}

thread_local ChunkMap chunkMap;
#endif

int64_t depthwiseGradWeightScratch(const DepthwiseGeometry& g) {
  // the im2col rows of kTapsPerPass taps, then a zero-padded input plane (+ slack for the last row)
  return kTapsPerPass * g.OH() * g.OW() + (g.H + 2 * g.PH) * (g.W + 2 * g.PW) + (g.KW - 1) * g.DW + 1;
}

void depthwiseGradWeight(const DepthwiseGeometry& g, const float* x, const float* dy, float* dw, int64_t c0, int64_t c1,
                         float* scratch) {
  const int64_t OH = g.OH(), OW = g.OW(), plane = g.H * g.W, oplane = OH * OW, taps = g.KH * g.KW;
  const int64_t Wp = g.W + 2 * g.PW, paddedSize = (g.H + 2 * g.PH) * Wp + (g.KW - 1) * g.DW + 1;
  float* col = scratch;
  float* xp = scratch + kTapsPerPass * oplane;
  std::fill(xp, xp + paddedSize, 0.f);  // the border stays zero; the interior is rewritten per plane
  int64_t tapOffsets[64];
  bool direct = false;
#if defined(__x86_64__)
  // Stride 1 with rows of >= 8 outputs (a chunk then spans at most two rows): straight off the plane.
  direct = cpuHasAvx2Fma() && g.SH == 1 && g.SW == 1 && OW >= 8 && taps <= 64;
  if (direct) {
    buildChunkMap(chunkMap, oplane, OW, Wp);
    for (int64_t t = 0; t < taps; ++t) tapOffsets[t] = tapOffset(g, Wp, t);
  }
#endif
  for (int64_t c = c0; c < c1; ++c) {
    float* y = dw + c * taps;
    std::fill(y, y + taps, 0.f);  // the gemv's beta = 0 for the first sample
    for (int64_t n = 0; n < g.N; ++n) {
      const float* in = x + (n * g.C + c) * plane;
      for (int64_t h = 0; h < g.H; ++h) copyRow(xp + (h + g.PH) * Wp + g.PW, in + h * g.W, g.W, g.reluInput);
      const float* gy = dy + (n * g.C + c) * oplane;
#if defined(__x86_64__)
      if (direct) {
        // the taps in equal passes of at most kMaxDirectTaps (25 taps: 9 + 8 + 8)
        const int64_t passes = (taps + kMaxDirectTaps - 1) / kMaxDirectTaps;
        for (int64_t i = 0, t0 = 0; i < passes; ++i) {
          const int count = static_cast<int>((taps - t0) / (passes - i));
          planeDotsDirect(xp, chunkMap, tapOffsets + t0, count, gy, oplane, OW, Wp, y + t0);
          t0 += count;
        }
        continue;
      }
#endif
      for (int64_t t0 = 0; t0 < taps; t0 += kTapsPerPass) {
        const int count = static_cast<int>(std::min<int64_t>(kTapsPerPass, taps - t0));
        // The im2col rows of these taps, read off the padded plane (zeros where a tap is off the map).
        for (int t = 0; t < count; ++t) {
          const int64_t i = (t0 + t) / g.KW, j = (t0 + t) % g.KW;
          float* r = col + t * oplane;
          for (int64_t oh = 0; oh < OH; ++oh) {
            const float* src = xp + (oh * g.SH + i * g.DH) * Wp + j * g.DW;
            float* dst = r + oh * OW;
            if (g.SW == 1) {
              for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = src[ow];
            } else {
              for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = src[ow * g.SW];
            }
          }
        }
        gemvDots(col, oplane, gy, oplane, y + t0, count);
      }
    }
  }
}

// ---- NHWC (channels-last) ----

void depthwiseGradInputNhwc(const DepthwiseGeometry& g, const float* dy, const float* wT, float* dx, int64_t n0, int64_t n1) {
  const int64_t OW = g.OW(), C = g.C;
  for (int64_t n = n0; n < n1; ++n) {
    float* out = dx + n * g.H * g.W * C;
    const float* gy = dy + n * g.OH() * OW * C;
    std::fill(out, out + g.H * g.W * C, 0.f);
    forEachTapRow(g, [&](int64_t i, int64_t j, int64_t oh, int64_t ow0, int64_t ow1) {
      const float* wt = wT + (i * g.KW + j) * C;
      const int64_t ih = oh * g.SH - g.PH + i * g.DH;
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        float* dst = out + (ih * g.W + ow * g.SW - g.PW + j * g.DW) * C;
        const float* src = gy + (oh * OW + ow) * C;
        for (int64_t c = 0; c < C; ++c) dst[c] += src[c] * wt[c];
      }
    });
  }
}

namespace {

// The gemv order of depthwiseGradWeight, vectorised across channels instead of along the sum: lane
// l of the FMA register becomes a row of per-channel accumulators fed the terms k = l mod 8.
template <typename Fma>
AUTOSPEECH_INLINE void gradWeightNhwcImpl(const DepthwiseGeometry& g, const float* x, const float* dy, float* yT,
                                          int64_t c0, int64_t c1, float* lanes, Fma fma) {
  const int64_t OH = g.OH(), OW = g.OW(), os = OH * OW, C = g.C, cw = c1 - c0, taps = g.KH * g.KW;
  const int64_t main = os / 16 * 16;
  for (int64_t t = 0; t < taps; ++t) std::fill(yT + t * C + c0, yT + t * C + c1, 0.f);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t i = t / g.KW, j = t % g.KW;
      float* y = yT + t * C + c0;
      // The in-range input for output position k (nullptr where the tap is on the padding, whose
      // zero terms leave the +0-started accumulators unchanged).
      auto input = [&](int64_t k) -> const float* {
        const int64_t oh = k / OW, ow = k % OW;
        const int64_t ih = oh * g.SH - g.PH + i * g.DH, iw = ow * g.SW - g.PW + j * g.DW;
        if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return nullptr;
        return x + ((n * g.H + ih) * g.W + iw) * C + c0;
      };
      auto sumLanes = [&]() {
        for (int64_t c = 0; c < cw; ++c) {
          const float* l = lanes + c;
          const float lane[8] = {l[0], l[cw], l[2 * cw], l[3 * cw], l[4 * cw], l[5 * cw], l[6 * cw], l[7 * cw]};
          y[c] = y[c] + laneSum(lane);
        }
      };
      std::fill(lanes, lanes + 8 * cw, 0.f);
      for (int64_t k = 0; k < main; ++k) {
        const float* xs = input(k);
        if (!xs) continue;
        const float* ds = dy + (n * os + k) * C + c0;
        float* acc = lanes + (k & 7) * cw;
        for (int64_t c = 0; c < cw; ++c) acc[c] = fma(acc[c], xs[c], ds[c]);
      }
      if (main > 0) sumLanes();
      int64_t k = main;
      for (int64_t block = 8; block > 0; block >>= 1) {
        if (!((os - main) & block)) continue;
        std::fill(lanes, lanes + 8 * cw, 0.f);
        for (int64_t l = 0; l < block; ++l, ++k) {
          const float* xs = input(k);
          if (!xs) continue;
          const float* ds = dy + (n * os + k) * C + c0;
          for (int64_t c = 0; c < cw; ++c) lanes[l * cw + c] = xs[c] * ds[c];
        }
        sumLanes();
      }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void gradWeightNhwcAvx2(const DepthwiseGeometry& g, const float* x, const float* dy,
                                                             float* yT, int64_t c0, int64_t c1, float* lanes) {
  gradWeightNhwcImpl(g, x, dy, yT, c0, c1, lanes, HardwareFma{});
}
#endif

}  // namespace

void depthwiseGradWeightNhwc(const DepthwiseGeometry& g, const float* x, const float* dy, float* dwT, int64_t c0, int64_t c1,
                             float* lanes) {
#if defined(__x86_64__)
  if (cpuHasAvx2Fma()) return gradWeightNhwcAvx2(g, x, dy, dwT, c0, c1, lanes);
#endif
  gradWeightNhwcImpl(g, x, dy, dwT, c0, c1, lanes, LibmFma{});
}

}  // namespace autospeech::nn
