// The EfficientTDNN front end, sugar's LogMelFbanks(n_mels): pre-emphasis 0.97 (one-sample left
// reflect pad, so y[0] = x[0] - 0.97 x[1]), torchaudio 0.13's MelSpectrogram (n_fft 512, a
// 400-sample periodic Hamming window centred in the frame, hop 160, center=True with reflect
// padding of 256, onesided |STFT|^2, HTK mel filters 20-7600 Hz, norm None), + 1e-6, natural log,
// InstanceNorm1d (per mel bin over time, biased variance, eps 1e-5, no affine). The input is in
// the int16 range: the reference never divides by 32768. Everything is float32 through the same
// ATen ops torchaudio calls, so the numbers are torchaudio's on this libtorch. Output (melBins, T),
// channel-first as the reference's network takes it, T = 1 + n / 160.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace autospeech::features {

struct LogMelOptions {
  int64_t melBins = 80;
  double preemphasis = 0.97;
};

constexpr int64_t kLogMelFft = 512, kLogMelWin = 400, kLogMelHop = 160, kLogMelFreqs = kLogMelFft / 2 + 1;
constexpr double kLogMelRate = 16000, kLogMelFMin = 20, kLogMelFMax = 7600;

// The STFT's reflect padding (256) must be shorter than the signal.
constexpr int64_t kLogMelMinSamples = kLogMelFft / 2 + 1;

int64_t logMelFrameCount(int64_t samples);

// torch.hamming_window(400): periodic, float32.
at::Tensor logMelWindow();

// torchaudio.functional.melscale_fbanks(257, 20, 7600, melBins, 16000, norm=None, mel_scale='htk'):
// (257, melBins) float32, built with the same float32 ops (linspace in mel, back to Hz, slopes).
at::Tensor melFilterbank(int64_t melBins);

// Each stage of one waveform, for checking them separately.
struct LogMelStages {
  at::Tensor preemphasis;  // (n)
  at::Tensor melPower;     // (melBins, T), before + 1e-6
  at::Tensor logMel;       // (melBins, T), before the instance norm
  at::Tensor features;     // (melBins, T)
};

// `wav`: (n) float32 in the int16 range, n >= kLogMelMinSamples.
LogMelStages logMel(const at::Tensor& wav, const LogMelOptions& options);

}  // namespace autospeech::features
