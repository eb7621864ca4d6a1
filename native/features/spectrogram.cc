#include "features/spectrogram.h"

#include "features/real_fft.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <array>
#include <cmath>
#include <complex>
#include <stdexcept>
#include <vector>

namespace autospeech::features {
namespace {

// numpy's pairwise summation of a float32 array (what np.mean does for float32 input).
float pairwiseSum(const float* a, int64_t n) {
  if (n < 8) {
    float res = 0.f;
    for (int64_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    float r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwiseSum(a, n2) + pairwiseSum(a + n2, n - n2);
}

// scipy.signal.get_window('hann', 400, fftbins=True), zero-padded centrally to 512.
const std::array<double, kFft>& window() {
  static const std::array<double, kFft> w = [] {
    std::array<double, kFft> out{};
    const int left = (kFft - kWin) / 2;
    for (int i = 0; i < kWin; ++i) out[left + i] = 0.5 - 0.5 * std::cos(2.0 * M_PI * i / kWin);
    return out;
  }();
  return w;
}

// Frames [begin, end) of the padded signal -> magnitude rows. Compiled for AVX2 and for the
// baseline, picked at load time; no FMA (-ffp-contract=off), so both give the same bits.
__attribute__((target_clones("avx2", "default")))
void stftFrames(const float* padded, int64_t begin, int64_t end, float* out) {
  const auto& w = window();
  const RealFft512& fft = realFft512();
  alignas(64) double frame[kFft], re[kBins], im[kBins];
  for (int64_t t = begin; t < end; ++t) {
    const float* src = padded + t * kHop;
    for (int i = 0; i < kFft; ++i) frame[i] = static_cast<double>(src[i]) * w[i];
    fft.run(frame, re, im);
    float* row = out + t * kBins;
    for (int k = 0; k < kBins; ++k) {
      // np.abs of complex64 is glibc's hypotf, which is exactly this (float products are exact
      // in double; one rounding for the sum, the sqrt and the float result): same bits, but
      // vectorisable instead of a libm call per bin.
      const double a = static_cast<float>(re[k]), b = static_cast<float>(im[k]);
      row[k] = static_cast<float>(std::sqrt(a * a + b * b));
    }
  }
}

}  // namespace

GainInfo volumeGain(const float* wav, int64_t n) {
  GainInfo info{};
  // np.add.reduce of the float32 squares: the identity 0 plus the pairwise sum of each 8192-element
  // buffer, in order. The buffers are independent: compute them in parallel, add them in order.
  constexpr int64_t kBlock = 8192;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<float> partial(static_cast<size_t>(blocks));
  std::atomic<bool> finite{true};
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    float sq[kBlock];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t start = b * kBlock, len = std::min(kBlock, n - start);
      bool ok = true;
      for (int64_t i = 0; i < len; ++i) {
        const float v = wav[start + i];
        ok &= std::isfinite(v);
        const float s = v * 32767.f;
        sq[i] = s * s;
      }
      if (!ok) finite = false;
      partial[static_cast<size_t>(b)] = pairwiseSum(sq, len);
    }
  });
  if (!finite) throw std::invalid_argument("the waveform contains NaN or infinite samples");
  float sum = 0.f;
  for (float p : partial) sum += p;
  float mean = n == 0 ? 0.f : sum / static_cast<float>(n);
  info.rms = std::sqrt(mean);
  info.dbfs = 20.0 * std::log10(static_cast<double>(info.rms) / 32767.0);
  double change = -30.0 - info.dbfs;
  info.gain = static_cast<float>(std::pow(10.0, change / 20.0));
  info.applied = change >= 0;  // increase only
  return info;
}

int64_t frameCount(int64_t samples) { return 1 + samples / kHop; }

void magnitudeStft(const float* y, int64_t n, float gain, float* out) {
  const int64_t pad = kFft / 2;
  if (n <= pad) throw std::invalid_argument("waveform too short for reflect padding (needs more than 256 samples)");
  // numpy 'reflect' padding (the edge sample is not repeated), once for the whole signal
  std::vector<float> padded(static_cast<size_t>(n + 2 * pad));
  at::parallel_for(0, n + 2 * pad, 1 << 15, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      int64_t j = i - pad;
      if (j < 0) j = -j;
      if (j >= n) j = 2 * (n - 1) - j;
      padded[i] = y[j] * gain;  // exactly the normalised waveform (x * 1 == x)
    }
  });
  const int64_t T = frameCount(n);
  // Frames are independent: spread them over the intra-op threads.
  at::parallel_for(0, T, 32, [&](int64_t begin, int64_t end) { stftFrames(padded.data(), begin, end, out); });
}

}  // namespace autospeech::features
