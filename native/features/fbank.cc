#include "features/fbank.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "features/real_fft.h"

namespace autospeech::features {
namespace {

double melScale(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

// Kaldi's MelBanks without VTLN: filter m rises from left to centre and falls to right, in mel;
// evaluated on the 256 FFT bins below nyquist (the nyquist bin gets no weight).
std::vector<double> melBanks(const FbankOptions& o) {
  const int bins = kFbankFft / 2;
  const double nyquist = o.sampleRate / 2;
  const double high = o.highFreq > 0 ? o.highFreq : nyquist + o.highFreq;
  if (!(o.lowFreq >= 0 && o.lowFreq < nyquist && high > o.lowFreq && high <= nyquist))
    throw std::invalid_argument("fbank: need 0 <= low frequency < high frequency <= nyquist (low " + std::to_string(o.lowFreq) +
                                ", high " + std::to_string(high) + ")");
  const double melLow = melScale(o.lowFreq), melHigh = melScale(high);
  const double delta = (melHigh - melLow) / (o.numMelBins + 1);
  const double binWidth = o.sampleRate / kFbankFft;
  std::vector<double> w(static_cast<size_t>(o.numMelBins) * bins, 0.0);
  for (int m = 0; m < o.numMelBins; ++m) {
    const double left = melLow + m * delta, centre = left + delta, right = centre + delta;
    for (int k = 0; k < bins; ++k) {
      const double mel = melScale(binWidth * k);
      const double up = (mel - left) / (centre - left), down = (right - mel) / (right - centre);
      w[static_cast<size_t>(m) * bins + k] = std::max(0.0, std::min(up, down));
    }
  }
  return w;
}

}  // namespace

int64_t fbankFrameCount(int64_t samples) { return samples < kFbankWin ? 0 : 1 + (samples - kFbankWin) / kFbankHop; }

void fbank(const float* wav, int64_t n, const FbankOptions& o, float* out) {
  if (o.numMelBins < 1 || o.numMelBins > 256) throw std::invalid_argument("fbank: mel bins must be in [1, 256], got " + std::to_string(o.numMelBins));
  const std::vector<double> banks = melBanks(o);
  // The Povey window: a symmetric Hann window to the power 0.85.
  double window[kFbankWin];
  for (int i = 0; i < kFbankWin; ++i) window[i] = std::pow(0.5 - 0.5 * std::cos(2.0 * M_PI * i / (kFbankWin - 1)), 0.85);
  const int64_t T = fbankFrameCount(n);
  const int M = o.numMelBins, bins = kFbankFft / 2;
  const double floorLog = std::log(static_cast<double>(FLT_EPSILON));
  at::parallel_for(0, T, 32, [&](int64_t begin, int64_t end) {
    double frame[kFbankFft], re[kFbankFft / 2 + 1], im[kFbankFft / 2 + 1], power[kFbankFft / 2];
    for (int64_t t = begin; t < end; ++t) {
      const float* src = wav + t * kFbankHop;
      double mean = 0;
      for (int i = 0; i < kFbankWin; ++i) { frame[i] = static_cast<double>(src[i]) * o.scale; mean += frame[i]; }
      mean /= kFbankWin;
      for (int i = 0; i < kFbankWin; ++i) frame[i] -= mean;
      // pre-emphasis, the first sample against itself (Kaldi's replicate edge)
      for (int i = kFbankWin - 1; i > 0; --i) frame[i] -= o.preemphasis * frame[i - 1];
      frame[0] -= o.preemphasis * frame[0];
      for (int i = 0; i < kFbankWin; ++i) frame[i] *= window[i];
      std::fill(frame + kFbankWin, frame + kFbankFft, 0.0);
      realFft512().run(frame, re, im);
      for (int k = 0; k < bins; ++k) power[k] = re[k] * re[k] + im[k] * im[k];
      float* row = out + t * M;
      for (int m = 0; m < M; ++m) {
        const double* w = banks.data() + static_cast<size_t>(m) * bins;
        double e = 0;
        for (int k = 0; k < bins; ++k) e += w[k] * power[k];
        row[m] = static_cast<float>(e > FLT_EPSILON ? std::log(e) : floorLog);
      }
    }
  });
}

}  // namespace autospeech::features
