// Feature extraction for JS: waveform (float32) -> gain info + (T, 257) magnitude spectrogram,
// Kaldi-style fbank, or the EfficientTDNN log-mel front end.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/ops/from_blob.h>

#include "binding/guard.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "binding/tensor_bridge.h"
#include "features/fbank.h"
#include "features/logmel.h"
#include "features/resample.h"
#include "features/spectrogram.h"
#include "system/compute_thread.h"

namespace autospeech {
namespace {

// info[i] as a Float32Array; `usage` is the error otherwise.
Napi::Float32Array float32Arg(const Napi::CallbackInfo& info, size_t i, const std::string& usage) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw ArgumentError(usage);
  return info[i].As<Napi::Float32Array>();
}

void requireFiniteSamples(const Napi::Float32Array& a, const char* what) {
  for (size_t k = 0; k < a.ElementLength(); ++k)
    if (!std::isfinite(a.Data()[k])) throw ArgumentError(std::string(what) + ": the waveform contains NaN or infinite samples");
}

// spectrogram(wav: Float32Array) -> { data: Float32Array (T*257), frames, rms, dbfs, gain, gainApplied }
// The result object of spectrogram / spectrogramAsync.
Napi::Object spectrogramResult(Napi::Env env, const Napi::Float32Array& data, int64_t frames, const features::GainInfo& g, bool finite) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("data", data);
  r.Set("frames", static_cast<double>(frames));
  r.Set("rms", g.rms);
  r.Set("dbfs", g.dbfs);
  r.Set("gain", g.gain);
  r.Set("gainApplied", g.applied);
  r.Set("finite", finite);
  return r;
}

Napi::Value Spectrogram(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    // NaN/Inf are found by volumeGain on the compute thread
    Napi::Float32Array in = float32Arg(info, 0, "spectrogram(wav): wav must be a Float32Array");
    const float* wav = in.Data();  // read in place: the main thread waits for the job
    const int64_t n = static_cast<int64_t>(in.ElementLength());
    if (n <= features::kFft / 2)
      throw ArgumentError("spectrogram: the waveform has " + std::to_string(n) + " samples; at least 257 are needed");
    int64_t T = features::frameCount(n);
    Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(T * features::kBins));
    float* dst = out.Data();
    features::GainInfo g;
    bool finite = true;
    // On the compute thread, whose OpenMP team spreads the work over the cores.
    try {
      runOnComputeThread([&] {
        g = features::volumeGain(wav, n);
        features::magnitudeStft(wav, n, g.applied ? g.gain : 1.f, dst);
        // A silent file makes the -30 dBFS gain infinite and every magnitude NaN: callers must know.
        for (int64_t k = 0; k < T * features::kBins && finite; ++k) finite = std::isfinite(dst[k]);
      });
    } catch (const std::invalid_argument& e) {
      throw ArgumentError(std::string("spectrogram: ") + e.what());
    }
    return spectrogramResult(env, out, T, g, finite);
  });
}

// fbank(wav: Float32Array, opts?: { melBins, lowFreq, highFreq, preemphasis, scale })
//   -> { data: Float32Array (T*melBins), frames, melBins }
Napi::Value Fbank(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Float32Array in = float32Arg(info, 0, "fbank(wav, opts?): wav must be a Float32Array");
    features::FbankOptions opt;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      if (!info[1].IsObject()) throw ArgumentError("fbank(wav, opts?): opts must be an object");
      Napi::Object o = info[1].As<Napi::Object>();
      double bins = getNumberOr(o, "melBins", opt.numMelBins, "fbank");
      if (bins != std::floor(bins) || bins < 1 || bins > 256) throw ArgumentError("fbank: melBins must be an integer in [1, 256]");
      opt.numMelBins = static_cast<int>(bins);
      opt.lowFreq = getNumberOr(o, "lowFreq", opt.lowFreq, "fbank");
      opt.highFreq = getNumberOr(o, "highFreq", opt.highFreq, "fbank");
      opt.preemphasis = getNumberOr(o, "preemphasis", opt.preemphasis, "fbank");
      opt.scale = getNumberOr(o, "scale", opt.scale, "fbank");
    }
    requireFiniteSamples(in, "fbank");
    const float* wav = in.Data();
    const int64_t n = static_cast<int64_t>(in.ElementLength());
    const int64_t T = features::fbankFrameCount(n);
    if (T == 0) throw ArgumentError("fbank: the waveform has " + std::to_string(n) + " samples; at least 400 (one 25 ms frame) are needed");
    Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(T * opt.numMelBins));
    float* dst = out.Data();
    runOnComputeThread([&] { features::fbank(wav, n, opt, dst); });
    Napi::Object r = Napi::Object::New(env);
    r.Set("data", out);
    r.Set("frames", static_cast<double>(T));
    r.Set("melBins", opt.numMelBins);
    return r;
  });
}

// logmel(wav: Float32Array, opts?: { melBins, scale, preemphasis, intermediates })
//   -> { data: Float32Array (melBins*T, (melBins, T) row-major), frames, melBins,
//        + with intermediates: preemphasis (n), melPower, logMel (melBins*T each), window (400),
//          melFilterbank (257*melBins, (257, melBins) row-major) }
// The reference feeds int16-range samples: scale (default 1) multiplies the input first, so
// decoder samples in [-1, 1) take scale 32768.
Napi::Value Logmel(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Float32Array in = float32Arg(info, 0, "logmel(wav, opts?): wav must be a Float32Array");
    features::LogMelOptions opt;
    double scale = 1;
    bool intermediates = false;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      Napi::Object o = asObject(info[1], "logmel(wav, opts?): opts");
      double bins = getNumberOr(o, "melBins", static_cast<double>(opt.melBins), "logmel");
      if (bins != std::floor(bins) || bins < 1 || bins > 256) throw ArgumentError("logmel: melBins must be an integer in [1, 256]");
      opt.melBins = static_cast<int64_t>(bins);
      scale = getNumberOr(o, "scale", scale, "logmel");
      if (!std::isfinite(scale) || scale <= 0) throw ArgumentError("logmel: scale must be a positive finite number");
      opt.preemphasis = getNumberOr(o, "preemphasis", opt.preemphasis, "logmel");
      if (!std::isfinite(opt.preemphasis)) throw ArgumentError("logmel: preemphasis must be a finite number");
      intermediates = getBoolOr(o, "intermediates", false, "logmel");
    }
    requireFiniteSamples(in, "logmel");
    const int64_t n = static_cast<int64_t>(in.ElementLength());
    if (n < features::kLogMelMinSamples)
      throw ArgumentError("logmel: the waveform has " + std::to_string(n) + " samples; at least " +
                          std::to_string(features::kLogMelMinSamples) + " are needed (the STFT reflect-pads 256 on each side)");
    at::Tensor wav = borrowFloat32(in, {n}, "logmel: wav");  // read in place: the main thread waits for the job
    features::LogMelStages s;
    at::Tensor window, filterbank;
    runOnComputeThread([&] {
      // float32 products, as the reference's int16 -> float32 conversion (exact for x / 32768 * 32768)
      s = features::logMel(scale == 1 ? wav : wav.mul(scale), opt);
      if (intermediates) {
        window = features::logMelWindow();
        filterbank = features::melFilterbank(opt.melBins);
      }
    });
    Napi::Object r = Napi::Object::New(env);
    r.Set("data", tensorToJs(env, s.features));
    r.Set("frames", static_cast<double>(s.features.size(1)));
    r.Set("melBins", static_cast<double>(opt.melBins));
    if (intermediates) {
      r.Set("preemphasis", tensorToJs(env, s.preemphasis));
      r.Set("melPower", tensorToJs(env, s.melPower));
      r.Set("logMel", tensorToJs(env, s.logMel));
      r.Set("window", tensorToJs(env, window));
      r.Set("melFilterbank", tensorToJs(env, filterbank));
    }
    return r;
  });
}

// frameSums(x: Float32Array (frames*bins), frames, bins) -> { sum, sumSq } (Float32Array bins each):
// per-bin float32 sums of x and x*x over the frames in order, as the reference's compute_mean_std.
Napi::Value FrameSums(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Float32Array x = float32Arg(info, 0, "frameSums(x: Float32Array, frames, bins)");
    if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) throw ArgumentError("frameSums(x: Float32Array, frames, bins)");
    const double framesD = info[1].As<Napi::Number>().DoubleValue(), binsD = info[2].As<Napi::Number>().DoubleValue();
    if (framesD < 0 || binsD < 1 || framesD != std::floor(framesD) || binsD != std::floor(binsD) || framesD * binsD > static_cast<double>(x.ElementLength()))
      throw ArgumentError("frameSums: frames x bins exceeds the array (" + std::to_string(x.ElementLength()) + " values)");
    // The outputs are sized by bins alone (frames may be 0): bound it, a failed JS allocation is fatal.
    if (binsD > 65536) throw ArgumentError("frameSums: bins must be in [1, 65536], got " + std::to_string(binsD));
    const int64_t frames = static_cast<int64_t>(framesD), bins = static_cast<int64_t>(binsD);
    Napi::Float32Array sum = Napi::Float32Array::New(env, static_cast<size_t>(bins));
    Napi::Float32Array sumSq = Napi::Float32Array::New(env, static_cast<size_t>(bins));
    float* s = sum.Data();
    float* s2 = sumSq.Data();
    std::fill(s, s + bins, 0.f);
    std::fill(s2, s2 + bins, 0.f);
    const float* p = x.Data();
    for (int64_t t = 0; t < frames; ++t, p += bins)
      for (int64_t k = 0; k < bins; ++k) {
        s[k] += p[k];
        s2[k] += p[k] * p[k];
      }
    Napi::Object r = Napi::Object::New(env);
    r.Set("sum", sum);
    r.Set("sumSq", sumSq);
    return r;
  });
}

// resample(x: Float32Array, fromRate, toRate) -> Float32Array: librosa.load's resampy kaiser_best path.
Napi::Value Resample(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const char* usage = "resample(x: Float32Array, fromRate: number, toRate: number)";
    Napi::Float32Array x = float32Arg(info, 0, usage);
    if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) throw ArgumentError(usage);
    const double from = info[1].As<Napi::Number>().DoubleValue(), to = info[2].As<Napi::Number>().DoubleValue();
    if (from != std::floor(from) || to != std::floor(to) || from < 1 || to < 1 || from > 1e7 || to > 1e7)
      throw ArgumentError("resample: sample rates must be positive integers");
    requireFiniteSamples(x, "resample");
    // Plain loops (no libtorch): run on the calling thread.
    std::vector<float> y = features::resampleKaiserBest(x.Data(), static_cast<int64_t>(x.ElementLength()), static_cast<int64_t>(from), static_cast<int64_t>(to));
    Napi::Float32Array out = Napi::Float32Array::New(env, y.size());
    std::copy(y.begin(), y.end(), out.Data());
    return out;
  });
}

// The front ends as promises (the Node API's embed: the event loop runs while they do): the input
// is copied, the work runs on the compute thread as in the synchronous versions, same results.
class SpectrogramJob : public PromiseWorker {
 public:
  SpectrogramJob(Napi::Env env, std::vector<float> wav) : PromiseWorker(env), wav_(std::move(wav)) {}

 protected:
  void Run() override {
    const int64_t n = static_cast<int64_t>(wav_.size());
    const int64_t T = features::frameCount(n);
    out_.resize(static_cast<size_t>(T * features::kBins));
    g_ = features::volumeGain(wav_.data(), n);
    features::magnitudeStft(wav_.data(), n, g_.applied ? g_.gain : 1.f, out_.data());
    for (size_t k = 0; k < out_.size() && finite_; ++k) finite_ = std::isfinite(out_[k]);
    frames_ = T;
  }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Float32Array data = Napi::Float32Array::New(env, out_.size());
    std::copy(out_.begin(), out_.end(), data.Data());
    return spectrogramResult(env, data, frames_, g_, finite_);
  }

 private:
  std::vector<float> wav_, out_;
  features::GainInfo g_;
  bool finite_ = true;
  int64_t frames_ = 0;
};

// spectrogramAsync(wav) -> Promise<spectrogram(wav)'s result>
Napi::Value SpectrogramAsync(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Float32Array in = float32Arg(info, 0, "spectrogramAsync(wav): wav must be a Float32Array");
    const int64_t n = static_cast<int64_t>(in.ElementLength());
    if (n <= features::kFft / 2)
      throw ArgumentError("spectrogramAsync: the waveform has " + std::to_string(n) + " samples; at least 257 are needed");
    requireFiniteSamples(in, "spectrogramAsync");
    auto* job = new SpectrogramJob(info.Env(), std::vector<float>(in.Data(), in.Data() + n));
    Napi::Promise p = job->Promise();
    job->Queue();
    return p;
  });
}

class LogmelJob : public PromiseWorker {
 public:
  LogmelJob(Napi::Env env, std::vector<float> wav, features::LogMelOptions opt, double scale)
      : PromiseWorker(env), wav_(std::move(wav)), opt_(opt), scale_(scale) {}

 protected:
  void Run() override {
    at::Tensor wav = at::from_blob(wav_.data(), {static_cast<int64_t>(wav_.size())}, at::TensorOptions().dtype(at::kFloat));
    features_ = features::logMel(scale_ == 1 ? wav : wav.mul(scale_), opt_).features.contiguous();
  }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("data", tensorToJs(env, features_));
    r.Set("frames", static_cast<double>(features_.size(1)));
    r.Set("melBins", static_cast<double>(opt_.melBins));
    return r;
  }

 private:
  std::vector<float> wav_;
  features::LogMelOptions opt_;
  double scale_;
  at::Tensor features_;
};

// logmelAsync(wav, opts?: { melBins, scale, preemphasis }) -> Promise<logmel(wav, opts)'s result>
Napi::Value LogmelAsync(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Float32Array in = float32Arg(info, 0, "logmelAsync(wav, opts?): wav must be a Float32Array");
    features::LogMelOptions opt;
    double scale = 1;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      Napi::Object o = asObject(info[1], "logmelAsync(wav, opts?): opts");
      double bins = getNumberOr(o, "melBins", static_cast<double>(opt.melBins), "logmelAsync");
      if (bins != std::floor(bins) || bins < 1 || bins > 256) throw ArgumentError("logmelAsync: melBins must be an integer in [1, 256]");
      opt.melBins = static_cast<int64_t>(bins);
      scale = getNumberOr(o, "scale", scale, "logmelAsync");
      if (!std::isfinite(scale) || scale <= 0) throw ArgumentError("logmelAsync: scale must be a positive finite number");
      opt.preemphasis = getNumberOr(o, "preemphasis", opt.preemphasis, "logmelAsync");
      if (!std::isfinite(opt.preemphasis)) throw ArgumentError("logmelAsync: preemphasis must be a finite number");
    }
    requireFiniteSamples(in, "logmelAsync");
    const int64_t n = static_cast<int64_t>(in.ElementLength());
    if (n < features::kLogMelMinSamples)
      throw ArgumentError("logmelAsync: the waveform has " + std::to_string(n) + " samples; at least " +
                          std::to_string(features::kLogMelMinSamples) + " are needed (the STFT reflect-pads 256 on each side)");
    auto* job = new LogmelJob(info.Env(), std::vector<float>(in.Data(), in.Data() + n), opt, scale);
    Napi::Promise p = job->Promise();
    job->Queue();
    return p;
  });
}

Registrar reg("features", [](Napi::Env env, Napi::Object exports) {
  exports.Set("spectrogramAsync", Napi::Function::New(env, SpectrogramAsync, "spectrogramAsync"));
  exports.Set("logmelAsync", Napi::Function::New(env, LogmelAsync, "logmelAsync"));
  exports.Set("spectrogram", Napi::Function::New(env, Spectrogram, "spectrogram"));
  exports.Set("fbank", Napi::Function::New(env, Fbank, "fbank"));
  exports.Set("logmel", Napi::Function::New(env, Logmel, "logmel"));
  exports.Set("frameSums", Napi::Function::New(env, FrameSums, "frameSums"));
  exports.Set("resample", Napi::Function::New(env, Resample, "resample"));
});

}  // namespace
}  // namespace autospeech
