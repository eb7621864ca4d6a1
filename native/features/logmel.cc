#include "features/logmel.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace autospeech::features {
namespace {

// torchaudio's _hz_to_mel (htk), a Python float computation.
double hzToMelHtk(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }

}  // namespace

int64_t logMelFrameCount(int64_t samples) { return 1 + samples / kLogMelHop; }

at::Tensor logMelWindow() { return at::hamming_window(kLogMelWin, at::TensorOptions().dtype(at::kFloat)); }

at::Tensor melFilterbank(int64_t melBins) {
  if (melBins < 1 || melBins > 256) throw std::invalid_argument("logmel: mel bins must be in [1, 256], got " + std::to_string(melBins));
  const at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat);
  // float32 linspaces with float64 end points, as torch.linspace gets Python floats; the Nyquist
  // end is sample_rate // 2.
  at::Tensor allFreqs = at::linspace(0, static_cast<int64_t>(kLogMelRate) / 2, kLogMelFreqs, f32);
  at::Tensor mels = at::linspace(hzToMelHtk(kLogMelFMin), hzToMelHtk(kLogMelFMax), melBins + 2, f32);
  at::Tensor hz = 700.0 * (at::pow(10.0, mels / 2595.0) - 1.0);
  at::Tensor diff = hz.slice(0, 1) - hz.slice(0, 0, -1);                  // (melBins + 1)
  at::Tensor slopes = hz.unsqueeze(0) - allFreqs.unsqueeze(1);              // (257, melBins + 2)
  at::Tensor down = (-1.0 * slopes.slice(1, 0, -2)) / diff.slice(0, 0, -1);  // (257, melBins)
  at::Tensor up = slopes.slice(1, 2) / diff.slice(0, 1);
  return at::max(at::zeros({1}, f32), at::min(down, up));
}

LogMelStages logMel(const at::Tensor& wav, const LogMelOptions& o) {
  if (wav.dim() != 1 || wav.scalar_type() != at::kFloat) throw std::invalid_argument("logmel: the waveform must be a 1-d float32 tensor");
  const int64_t n = wav.size(0);
  if (n < kLogMelMinSamples)
    throw std::invalid_argument("logmel: the waveform has " + std::to_string(n) + " samples; at least " + std::to_string(kLogMelMinSamples) +
                                " are needed (the STFT reflect-pads 256 on each side)");
  at::NoGradGuard noGrad;
  LogMelStages s;
  // PreEmphasis: reflect-pad one sample on the left, then x[t] - c x[t-1] (float32 c, as the
  // reference's FloatTensor filter).
  at::Tensor padded = at::reflection_pad1d(wav.reshape({1, 1, n}), {1, 0}).reshape({n + 1});
  const float c = static_cast<float>(o.preemphasis);
  s.preemphasis = padded.slice(0, 1) - padded.slice(0, 0, n) * c;
  // torchaudio.functional.spectrogram on a (1, n) batch: torch.stft with the same arguments, then
  // abs().pow(2); MelScale: (spec^T @ fb)^T.
  at::Tensor spec = at::stft(s.preemphasis.unsqueeze(0), kLogMelFft, kLogMelHop, kLogMelWin, logMelWindow(), /*center=*/true, "reflect",
                             /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
  at::Tensor power = at::abs(spec).pow(2.0);  // (1, 257, T)
  at::Tensor mel = at::matmul(power.transpose(-1, -2), melFilterbank(o.melBins)).transpose(-1, -2);  // (1, melBins, T)
  s.melPower = mel.squeeze(0).contiguous();
  at::Tensor logMel = at::log(mel + 1e-6);
  s.logMel = logMel.squeeze(0).contiguous();
  s.features = at::instance_norm(logMel, {}, {}, {}, {}, /*use_input_stats=*/true, 0.1, 1e-5, /*cudnn_enabled=*/false).squeeze(0).contiguous();
  return s;
}

}  // namespace autospeech::features
