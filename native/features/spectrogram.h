// The reference's features, computed as librosa 0.7.2 + the reference preprocessing do:
// -30 dBFS increase-only gain, then |STFT| with n_fft 512, hop 160, a 400-sample periodic Hann
// window centred in 512, reflect padding, double-precision FFT, re/im rounded to float32 before
// the magnitude; output (T, 257) float32, time-major, T = 1 + n / 160.
#pragma once
#include <cstdint>
#include <vector>

namespace autospeech::features {

struct GainInfo {
  float rms;        // float32, numpy pairwise summation
  double dbfs;      // 20 log10(rms / 32767)
  float gain;       // float32(10 ** ((-30 - dbfs) / 20))
  bool applied;     // only quiet files are raised; louder ones are left unchanged
};

// The gain normalize_volume(wav, -30, increase_only=True) applies (the caller multiplies).
// Throws std::invalid_argument if a sample is NaN or infinite.
GainInfo volumeGain(const float* wav, int64_t n);

constexpr int kFft = 512, kHop = 160, kWin = 400, kBins = kFft / 2 + 1;

int64_t frameCount(int64_t samples);

// Magnitude spectrogram of `wav` * `gain` (float32 products, as the reference's normalised
// waveform; pass 1 for none) into `out` (frameCount(n) * 257).
void magnitudeStft(const float* wav, int64_t n, float gain, float* out);

}  // namespace autospeech::features
