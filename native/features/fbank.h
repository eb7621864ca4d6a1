// Kaldi-style log-mel filter bank (compute-fbank / torchaudio.compliance.kaldi.fbank defaults):
// 25 ms frames every 10 ms (snip_edges: only whole frames), DC offset removed per frame,
// pre-emphasis 0.97, Povey window (Hann^0.85), zero-padded to 512, power spectrum, triangular mel
// filters on Kaldi's mel scale (1127 ln(1 + f/700)) between low and high frequency, log with a
// floor of float32 epsilon. No dither, so the output is deterministic. Samples are scaled to the
// int16 range first, as Kaldi reads 16-bit PCM. Computed in double, returned as float32.
#pragma once
#include <cstdint>

namespace autospeech::features {

struct FbankOptions {
  int numMelBins = 80;
  double sampleRate = 16000;
  double lowFreq = 20;     // Hz
  double highFreq = 0;     // Hz; <= 0 means nyquist + highFreq, as Kaldi
  double preemphasis = 0.97;
  double scale = 32768;    // multiply [-1, 1) samples into the int16 range
};

constexpr int kFbankWin = 400, kFbankHop = 160, kFbankFft = 512;

// Whole 400-sample frames every 160 samples (0 when n < 400).
int64_t fbankFrameCount(int64_t samples);

// (fbankFrameCount(n), numMelBins) float32 row-major into `out`.
void fbank(const float* wav, int64_t n, const FbankOptions& opt, float* out);

}  // namespace autospeech::features
