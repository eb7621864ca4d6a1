// A 512-point real FFT in double precision, shared by the stft and fbank front-ends.
#pragma once
#include <cmath>

namespace autospeech::features {

// Real FFT of size 512 in double precision: the 512 real samples packed as 256 complex ones,
// a radix-2 complex FFT of size 256, then the standard split into the 257 one-sided bins.
// Written on separate re/im arrays (std::complex products go through the slow, NaN-aware
// __muldc3 without -ffast-math).
struct RealFft512 {
  static constexpr int kHalf = 256;
  // Per-stage twiddles, contiguous so the butterfly loops vectorise: stage with half-length h
  // uses e^{-2 pi i j / (2h)}, j < h, stored at [h, 2h).
  double twRe[kHalf], twIm[kHalf];
  double spRe[kHalf + 1], spIm[kHalf + 1];  // e^{-2 pi i k / 512}
  int bitrev[kHalf];
  RealFft512() {
    for (int h = 1; h < kHalf; h <<= 1)
      for (int j = 0; j < h; ++j) {
        // the same values as e^{-2 pi i (j * step) / 256} with step = 256 / (2h)
        const int k = j * (kHalf / (2 * h));
        twRe[h + j] = std::cos(-2.0 * M_PI * k / kHalf);
        twIm[h + j] = std::sin(-2.0 * M_PI * k / kHalf);
      }
    for (int k = 0; k <= kHalf; ++k) { spRe[k] = std::cos(-2.0 * M_PI * k / 512); spIm[k] = std::sin(-2.0 * M_PI * k / 512); }
    for (int i = 0; i < kHalf; ++i) {
      int r = 0;
      for (int b = 0; b < 8; ++b) r |= ((i >> b) & 1) << (7 - b);
      bitrev[i] = r;
    }
  }
  // x: 512 real samples (already windowed) -> re/im of the 257 one-sided bins
  __attribute__((always_inline)) inline void run(const double* x, double* outRe, double* outIm) const {
    alignas(64) double zr[kHalf], zi[kHalf];
    for (int n = 0; n < kHalf; ++n) { zr[bitrev[n]] = x[2 * n]; zi[bitrev[n]] = x[2 * n + 1]; }
    // Radix-2 stages. Twiddle 1 (h = 1) needs no product.
    for (int i = 0; i < kHalf; i += 2) {
      const double ar = zr[i], ai = zi[i], br = zr[i + 1], bi = zi[i + 1];
      zr[i] = ar + br; zi[i] = ai + bi;
      zr[i + 1] = ar - br; zi[i + 1] = ai - bi;
    }
    for (int h = 2; h < kHalf; h <<= 1) {
      const double* __restrict wr = twRe + h;
      const double* __restrict wi = twIm + h;
      for (int i = 0; i < kHalf; i += 2 * h) {
        double* __restrict pr = zr + i;
        double* __restrict pi = zi + i;
        double* __restrict qr = zr + i + h;
        double* __restrict qi = zi + i + h;
        for (int j = 0; j < h; ++j) {
          const double vr = qr[j] * wr[j] - qi[j] * wi[j], vi = qr[j] * wi[j] + qi[j] * wr[j];
          qr[j] = pr[j] - vr; qi[j] = pi[j] - vi;
          pr[j] += vr; pi[j] += vi;
        }
      }
    }
    for (int k = 0; k <= kHalf; ++k) {
      const int a = k % kHalf, b = (kHalf - k) % kHalf;
      // even = (Z[k] + conj(Z[N-k])) / 2, odd = -i (Z[k] - conj(Z[N-k])) / 2
      const double er = 0.5 * (zr[a] + zr[b]), ei = 0.5 * (zi[a] - zi[b]);
      const double or_ = 0.5 * (zi[a] + zi[b]), oi = -0.5 * (zr[a] - zr[b]);
      outRe[k] = er + spRe[k] * or_ - spIm[k] * oi;
      outIm[k] = ei + spRe[k] * oi + spIm[k] * or_;
    }
  }
};

inline const RealFft512& realFft512() {
  static const RealFft512 f;
  return f;
}

}  // namespace autospeech::features
