#include "nn/depthwise_grad_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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

bool haveAvx2Fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#endif

// y[t] = gemv-order dot of col row t (rows `stride` apart) with dy, for t < count.
inline void gemvDots(const float* col, int64_t stride, const float* dy, int64_t n, float* y, int count) {
#if defined(__x86_64__)
  if (haveAvx2Fma()) return gemvDotsAvx2(col, stride, dy, n, y, count);
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

}  // namespace

void depthwiseGradInput(const DepthwiseGeometry& g, const float* dy, const float* w, float* dx, int64_t c0, int64_t c1) {
  const int64_t OH = g.OH(), OW = g.OW(), plane = g.H * g.W, oplane = OH * OW, taps = g.KH * g.KW;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = c0; c < c1; ++c) {
      float* out = dx + (n * g.C + c) * plane;
      const float* gy = dy + (n * g.C + c) * oplane;
      std::fill(out, out + plane, 0.f);
      for (int64_t i = 0; i < g.KH; ++i) {
        int64_t oh0, oh1;
        validRange(OH, g.H, g.SH, i * g.DH - g.PH, oh0, oh1);
        for (int64_t j = 0; j < g.KW; ++j) {
          const float wt = w[c * taps + i * g.KW + j];
          int64_t ow0, ow1;
          validRange(OW, g.W, g.SW, j * g.DW - g.PW, ow0, ow1);
          for (int64_t oh = oh0; oh < oh1; ++oh) {
            float* row = out + (oh * g.SH - g.PH + i * g.DH) * g.W + (j * g.DW - g.PW);
            const float* gr = gy + oh * OW;
            if (g.SW == 1) {
              for (int64_t ow = ow0; ow < ow1; ++ow) row[ow] += gr[ow] * wt;
            } else {
              for (int64_t ow = ow0; ow < ow1; ++ow) row[ow * g.SW] += gr[ow] * wt;
            }
          }
        }
      }
    }
}

int64_t depthwiseGradWeightScratch(const DepthwiseGeometry& g) { return kTapsPerPass * g.OH() * g.OW(); }

void depthwiseGradWeight(const DepthwiseGeometry& g, const float* x, const float* dy, float* dw, int64_t c0, int64_t c1,
                         float* col) {
  const int64_t OH = g.OH(), OW = g.OW(), plane = g.H * g.W, oplane = OH * OW, taps = g.KH * g.KW;
  for (int64_t c = c0; c < c1; ++c) {
    float* y = dw + c * taps;
    std::fill(y, y + taps, 0.f);  // the gemv's beta = 0 for the first sample
    for (int64_t n = 0; n < g.N; ++n) {
      const float* in = x + (n * g.C + c) * plane;
      const float* gy = dy + (n * g.C + c) * oplane;
      for (int64_t t0 = 0; t0 < taps; t0 += kTapsPerPass) {
        const int count = static_cast<int>(std::min<int64_t>(kTapsPerPass, taps - t0));
        for (int t = 0; t < count; ++t) {
          const int64_t i = (t0 + t) / g.KW, j = (t0 + t) % g.KW;
          int64_t oh0, oh1, ow0, ow1;
          validRange(OH, g.H, g.SH, i * g.DH - g.PH, oh0, oh1);
          validRange(OW, g.W, g.SW, j * g.DW - g.PW, ow0, ow1);
          // The im2col row of tap (i, j): zeros where the tap falls in the padding.
          float* rowBase = col + t * oplane;
          for (int64_t oh = 0; oh < OH; ++oh) {
            float* r = rowBase + oh * OW;
            if (oh < oh0 || oh >= oh1) {
              std::fill(r, r + OW, 0.f);
              continue;
            }
            const float* src = in + (oh * g.SH - g.PH + i * g.DH) * g.W + (j * g.DW - g.PW);
            std::fill(r, r + ow0, 0.f);
            if (g.SW == 1) {
              std::memcpy(r + ow0, src + ow0, sizeof(float) * (ow1 - ow0));
            } else {
              for (int64_t ow = ow0; ow < ow1; ++ow) r[ow] = src[ow * g.SW];
            }
            std::fill(r + ow1, r + OW, 0.f);
          }
        }
        gemvDots(col, oplane, gy, oplane, y + t0, count);
      }
    }
  }
}

}  // namespace autospeech::nn
