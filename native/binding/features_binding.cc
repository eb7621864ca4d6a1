// Feature extraction for JS: waveform (float32) -> gain info + (T, 257) magnitude spectrogram.
#include <napi.h>

#include <cmath>

#include "binding/guard.h"
#include "binding/registry.h"
#include "features/spectrogram.h"
#include "system/compute_thread.h"

namespace autospeech {
namespace {

// spectrogram(wav: Float32Array) -> { data: Float32Array (T*257), frames, rms, dbfs, gain, gainApplied }
Napi::Value Spectrogram(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw ArgumentError("spectrogram(wav): wav must be a Float32Array");
    Napi::Float32Array in = info[0].As<Napi::Float32Array>();
    std::vector<float> wav(in.Data(), in.Data() + in.ElementLength());
    for (float s : wav)
      if (!std::isfinite(s)) throw ArgumentError("spectrogram: the waveform contains NaN or infinite samples");
    if (wav.size() <= static_cast<size_t>(features::kFft / 2))
      throw ArgumentError("spectrogram: the waveform has " + std::to_string(wav.size()) + " samples; at least 257 are needed");
    int64_t T = features::frameCount(static_cast<int64_t>(wav.size()));
    Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(T * features::kBins));
    float* dst = out.Data();
    features::GainInfo g;
    // On the compute thread, whose OpenMP team spreads the frames over the cores.
    // On the compute thread, whose OpenMP team spreads the frames over the cores.
    runOnComputeThread([&] {
      g = features::normalizeVolume(wav);
      features::magnitudeStft(wav.data(), static_cast<int64_t>(wav.size()), dst);
    });
    Napi::Object r = Napi::Object::New(env);
    r.Set("data", out);
    r.Set("frames", static_cast<double>(T));
    r.Set("rms", g.rms);
    r.Set("dbfs", g.dbfs);
    r.Set("gain", g.gain);
    r.Set("gainApplied", g.applied);
    return r;
  });
}

Registrar reg("features", [](Napi::Env env, Napi::Object exports) {
  exports.Set("spectrogram", Napi::Function::New(env, Spectrogram, "spectrogram"));
});

}  // namespace
}  // namespace autospeech
