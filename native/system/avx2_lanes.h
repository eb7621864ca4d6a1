// AVX2 helpers for kernels that keep 8 channels' serial double chains in the lanes of registers
// while reading each channel's plane contiguously (batch-norm statistics and dots): an 8x8 float
// transpose, and 8 double accumulators fed one float vector (8 channels' next terms) at a time.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

namespace autospeech {

// The 8x8 block rows[k][j] (channel k, position j) turned into columns: rows[j] = channels 0..7 at j.
__attribute__((target("avx2"), always_inline)) inline void transpose8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Eight double chains, lane k for channel k: add() appends one term per channel, in order.
struct DoubleLanes8 {
  __m256d lo, hi;

  __attribute__((target("avx2"), always_inline)) DoubleLanes8() : lo(_mm256_setzero_pd()), hi(_mm256_setzero_pd()) {}
  __attribute__((target("avx2"), always_inline)) void add(__m256 terms) {
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(terms)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(terms, 1)));
  }
  // Scalar terms go through memory: store(), add to the 8 doubles in order, load().
  __attribute__((target("avx2"), always_inline)) void store(double* out) const {
    _mm256_storeu_pd(out, lo);
    _mm256_storeu_pd(out + 4, hi);
  }
  __attribute__((target("avx2"), always_inline)) void load(const double* in) {
    lo = _mm256_loadu_pd(in);
    hi = _mm256_loadu_pd(in + 4);
  }
};

}  // namespace autospeech
#endif
