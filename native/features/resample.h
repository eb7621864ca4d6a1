// Band-limited resampling as librosa.load(sr=16000) does it (librosa 0.7.2 -> resampy
// 'kaiser_best'): a Kaiser-windowed sinc (50 zero crossings, 2^13 table entries per crossing,
// roll-off 0.917347, beta 12.9846) evaluated with linear table interpolation, float32 output
// accumulated tap by tap like resampy's loop, then zero-padded to ceil(n * to / from) samples
// (librosa's fix_length).
#pragma once
#include <cstdint>
#include <vector>

namespace autospeech::features {

std::vector<float> resampleKaiserBest(const float* x, int64_t n, int64_t fromRate, int64_t toRate);

}  // namespace autospeech::features
