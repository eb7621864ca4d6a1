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
  double twRe[kHalf], twIm[kHalf];          // e^{-2 pi i k / 256}
  double spRe[kHalf + 1], spIm[kHalf + 1];  // e^{-2 pi i k / 512}
  int bitrev[kHalf];
  RealFft512() {
    for (int k = 0; k < kHalf; ++k) { twRe[k] = std::cos(-2.0 * M_PI * k / kHalf); twIm[k] = std::sin(-2.0 * M_PI * k / kHalf); }
    for (int k = 0; k <= kHalf; ++k) { spRe[k] = std::cos(-2.0 * M_PI * k / 512); spIm[k] = std::sin(-2.0 * M_PI * k / 512); }
    for (int i = 0; i < kHalf; ++i) {
      int r = 0;
      for (int b = 0; b < 8; ++b) r |= ((i >> b) & 1) << (7 - b);
      bitrev[i] = r;
    }
  }
  // x: 512 real samples (already windowed) -> re/im of the 257 one-sided bins
  void run(const double* x, double* outRe, double* outIm) const {
    double zr[kHalf], zi[kHalf];
    for (int n = 0; n < kHalf; ++n) { zr[bitrev[n]] = x[2 * n]; zi[bitrev[n]] = x[2 * n + 1]; }
    for (int len = 2; len <= kHalf; len <<= 1) {
      const int step = kHalf / len, half = len / 2;
      for (int i = 0; i < kHalf; i += len)
        for (int j = 0; j < half; ++j) {
          const double wr = twRe[j * step], wi = twIm[j * step];
          const int p = i + j, q = p + half;
          const double vr = zr[q] * wr - zi[q] * wi, vi = zr[q] * wi + zi[q] * wr;
          zr[q] = zr[p] - vr; zi[q] = zi[p] - vi;
          zr[p] += vr; zi[p] += vi;
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
