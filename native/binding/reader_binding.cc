// JS class `FeatureReader`: feature-store shards read through checked preads, and training batches / test
// windows assembled on the prefetch thread (so the next batch is ready when a step ends).
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "binding/checked_wrap.h"
#include "binding/guard.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "data/feature_reader.h"
#include "system/compute_thread.h"

namespace autospeech {
namespace {

using data::FeatureReader;
using data::Span;

// A float vector handed to JS without a copy: the ArrayBuffer owns it.
Napi::Float32Array floatsToJs(Napi::Env env, std::vector<float>&& v) {
  auto* owned = new std::vector<float>(std::move(v));
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, owned->data(), owned->size() * sizeof(float),
                                                 [](Napi::Env, void*, std::vector<float>* p) { delete p; }, owned);
  return Napi::Float32Array::New(env, owned->size(), buf, 0);
}

std::vector<float> binVector(const Napi::Value& v, int64_t bins, const std::string& what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw ArgumentError(what + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (static_cast<int64_t>(a.ElementLength()) != bins)
    throw ArgumentError(what + " has " + std::to_string(a.ElementLength()) + " values, expected " + std::to_string(bins));
  std::vector<float> out(a.Data(), a.Data() + bins);
  for (float x : out)
    if (!std::isfinite(x)) throw ArgumentError(what + " contains NaN or infinite values");
  return out;
}

int64_t intArg(const Napi::Value& v, const std::string& what, int64_t lo) {
  if (!v.IsNumber()) throw ArgumentError(what + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != std::floor(d) || d < static_cast<double>(lo) || d > 1e12) throw ArgumentError(what + " must be an integer >= " + std::to_string(lo));
  return static_cast<int64_t>(d);
}

// plan: Int32Array of `width` columns per row; columns 0..2 are shard, offset, frames.
std::vector<int32_t> planArg(const Napi::Value& v, size_t width, const std::string& what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw ArgumentError(what + " must be an Int32Array");
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  if (a.ElementLength() == 0 || a.ElementLength() % width != 0)
    throw ArgumentError(what + " must hold a non-empty list of " + std::to_string(width) + "-value rows");
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

class ReaderWrap : public Napi::ObjectWrap<ReaderWrap> {
 public:
  static constexpr napi_type_tag kTypeTag{0x7265616465727772ULL, 0x5d4c3b2a19087f6eULL};  // binding/checked_wrap.h
  static constexpr const char* kClassName = "FeatureReader";

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FeatureReader", {
      checkedMethod<ReaderWrap, &ReaderWrap::Read>("read"),
      checkedMethod<ReaderWrap, &ReaderWrap::TrainBatch>("trainBatch"),
      checkedMethod<ReaderWrap, &ReaderWrap::Windows>("windows"),
      checkedMethod<ReaderWrap, &ReaderWrap::Close>("close"),
    });
  }

  explicit ReaderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ReaderWrap>(info) {
    tagInstance<ReaderWrap>(info);
    guard(info.Env(), [&] {
      if (info.Length() < 2 || !info[0].IsArray()) throw ArgumentError("new FeatureReader(shardFiles: string[], bins: number)");
      Napi::Array files = info[0].As<Napi::Array>();
      std::vector<std::string> paths;
      for (uint32_t i = 0; i < files.Length(); ++i) {
        Napi::Value f = files.Get(i);
        if (!f.IsString()) throw ArgumentError("FeatureReader: shardFiles[" + std::to_string(i) + "] must be a string");
        paths.push_back(f.As<Napi::String>().Utf8Value());
      }
      reader_ = std::make_shared<FeatureReader>(paths, intArg(info[1], "FeatureReader: bins", 1));
      return 0;
    });
  }

 private:
  std::shared_ptr<FeatureReader> get() const {
    if (!reader_) throw std::runtime_error("FeatureReader: the reader is closed");
    return reader_;
  }

  static Span spanAt(const std::vector<int32_t>& plan, size_t row, size_t width) {
    return Span{plan[row * width], plan[row * width + 1], plan[row * width + 2]};
  }

  // read(shard, offset, frames) -> Float32Array (frames * bins), a copy
  Napi::Value Read(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 3) throw ArgumentError("read(shard, offset, frames)");
      auto r = get();
      Span s{static_cast<int32_t>(intArg(info[0], "read: shard", 0)), intArg(info[1], "read: offset", 0), intArg(info[2], "read: frames", 1)};
      r->checkSpan(s);  // before allocating: frames comes from JS and may be absurd
      std::vector<float> out(static_cast<size_t>(s.frames * r->bins()));
      r->readRows(s, 0, s.frames, out.data());
      return floatsToJs(info.Env(), std::move(out));
    });
  }

  // A data job on the prefetch thread: the reader (kept alive), the plan, P and the normalisation.
  class ReaderJob : public PromiseWorker {
   public:
    ReaderJob(Napi::Env env, std::shared_ptr<FeatureReader> r, std::vector<int32_t> plan, int64_t P, std::vector<float> mean, std::vector<float> std)
        : PromiseWorker(env, runOnPrefetchThread), r_(std::move(r)), plan_(std::move(plan)), P_(P), mean_(std::move(mean)), std_(std::move(std)) {}

   protected:
    std::shared_ptr<FeatureReader> r_;
    std::vector<int32_t> plan_;
    int64_t P_;
    std::vector<float> mean_, std_, out_;
  };

  class BatchWorker : public ReaderJob {
   public:
    using ReaderJob::ReaderJob;

   protected:
    void Run() override {
      const size_t rows = plan_.size() / 5;
      const int64_t sample = P_ * r_->bins();
      out_.resize(rows * static_cast<size_t>(sample));
      for (size_t i = 0; i < rows; ++i)
        r_->trainCrop(spanAt(plan_, i, 5), plan_[i * 5 + 3], plan_[i * 5 + 4] != 0, P_, mean_.data(), std_.data(), out_.data() + i * sample);
    }
    Napi::Value Resolve(Napi::Env env) override { return floatsToJs(env, std::move(out_)); }
  };

  // trainBatch(plan: Int32Array [shard, offset, frames, start, flip] per sample, P, mean, std) -> Promise<Float32Array>
  Napi::Value TrainBatch(const Napi::CallbackInfo& info) { return queue<BatchWorker>(info, "trainBatch", 5, 1); }

  class WindowsWorker : public ReaderJob {
   public:
    using ReaderJob::ReaderJob;

   protected:
    void Run() override {
      const size_t rows = plan_.size() / 3;
      int64_t total = 0;
      for (size_t i = 0; i < rows; ++i) {
        counts_.push_back(static_cast<int32_t>(FeatureReader::windowCount(plan_[i * 3 + 2], P_)));
        total += counts_.back();
      }
      const int64_t window = P_ * r_->bins();
      out_.resize(static_cast<size_t>(total * window));
      int64_t at = 0;
      for (size_t i = 0; i < rows; ++i) {
        r_->testWindows(spanAt(plan_, i, 3), P_, mean_.data(), std_.data(), out_.data() + at * window);
        at += counts_[i];
      }
    }
    Napi::Value Resolve(Napi::Env env) override {
      Napi::Object o = Napi::Object::New(env);
      Napi::Int32Array counts = Napi::Int32Array::New(env, counts_.size());
      std::copy(counts_.begin(), counts_.end(), counts.Data());
      o.Set("data", floatsToJs(env, std::move(out_)));
      o.Set("counts", counts);
      return o;
    }

   private:
    std::vector<int32_t> counts_;
  };

  // windows(plan: Int32Array [shard, offset, frames] per utterance, P, mean, std) -> Promise<{ data, counts }>
  Napi::Value Windows(const Napi::CallbackInfo& info) { return queue<WindowsWorker>(info, "windows", 3, 2); }

  // Both jobs take (plan, P, mean, std): plan rows of `width` values, P >= minP.
  template <typename Job>
  Napi::Value queue(const Napi::CallbackInfo& info, const std::string& name, size_t width, int64_t minP) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 4) throw ArgumentError(name + "(plan, P, mean, std)");
      auto r = get();
      auto plan = planArg(info[0], width, name + ": plan");
      const int64_t P = intArg(info[1], name + ": P", minP);
      if (P > (1 << 20)) throw ArgumentError(name + ": P must be at most 1048576 frames, got " + std::to_string(P));
      // Every row checked here, on the JS thread, before any memory is sized from it.
      double floats = 0;
      for (size_t i = 0; i < plan.size() / width; ++i) {
        const Span s = spanAt(plan, i, width);
        r->checkSpan(s);
        floats += static_cast<double>(width == 3 ? FeatureReader::windowCount(s.frames, P) : 1) * static_cast<double>(P * r->bins());
      }
      if (floats > static_cast<double>(1LL << 31))
        throw ArgumentError(name + ": the result would hold " + std::to_string(static_cast<int64_t>(floats)) + " floats (limit 2^31)");
      auto* w = new Job(info.Env(), r, std::move(plan), P, binVector(info[2], r->bins(), name + ": mean"),
                        binVector(info[3], r->bins(), name + ": std"));
      w->Queue();
      return w->Promise();
    });
  }

  // close(): closes the shards once pending jobs finish (they hold their own reference).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    reader_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<FeatureReader> reader_;
};

Registrar reg("reader", [](Napi::Env env, Napi::Object exports) {
  exports.Set("FeatureReader", ReaderWrap::Define(env));
});

}  // namespace
}  // namespace autospeech
