// JS class `TdnnPredictor`: EfficientTDNN's MLP accuracy predictor (native/tdnn/predictor.h) with
// its state_dict (reference keys model.* / ynorm.*), strict tensor import/export, a batch
// predict and an async fit under autograd.
#include <napi.h>

#include <ATen/ATen.h>

#include <atomic>
#include <map>
#include <memory>
#include <sstream>

#include "binding/checked_wrap.h"
#include "binding/guard.h"
#include "binding/state_dict_bridge.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "binding/tensor_bridge.h"
#include "system/compute_thread.h"
#include "tdnn/predictor.h"

namespace autospeech {
namespace {

using tdnn::AccuracyPredictor;
using tdnn::PredictorFitOptions;
using tdnn::PredictorFitResult;

class PredictorWrap : public Napi::ObjectWrap<PredictorWrap> {
 public:
  static constexpr napi_type_tag kTypeTag{0x74646e6e70726564ULL, 0x1b2c3d4e5f607182ULL};  // binding/checked_wrap.h
  static constexpr const char* kClassName = "TdnnPredictor";

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TdnnPredictor",
                       {checkedMethod<PredictorWrap, &PredictorWrap::StateDict>("stateDict"),
                        checkedMethod<PredictorWrap, &PredictorWrap::GetTensor>("getTensor"),
                        checkedMethod<PredictorWrap, &PredictorWrap::SetTensor>("setTensor"),
                        checkedMethod<PredictorWrap, &PredictorWrap::Predict>("predict"),
                        checkedMethod<PredictorWrap, &PredictorWrap::Fit>("fit"),
                        checkedGetter<PredictorWrap, &PredictorWrap::InFeats>("inFeats"),
                        checkedGetter<PredictorWrap, &PredictorWrap::Hidden>("hidden")});
  }

  explicit PredictorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PredictorWrap>(info) {
    tagInstance<PredictorWrap>(info);
    guard(info.Env(), [&] {
      if (info.Length() < 1 || !info[0].IsNumber()) throw ArgumentError("new TdnnPredictor(inFeats, options?): inFeats must be a number");
      Napi::Object holder = Napi::Object::New(info.Env());
      holder.Set("inFeats", info[0]);
      int64_t inFeats = getInt(holder, "inFeats", "TdnnPredictor");
      int64_t hidden = 400;
      bool seeded = false;
      uint64_t seed = 0;
      if (info.Length() >= 2 && !info[1].IsUndefined()) {
        Napi::Object o = asObject(info[1], "TdnnPredictor options");
        hidden = getIntOr(o, "hidden", hidden, "options");
        if (o.Has("seed") && !o.Get("seed").IsUndefined()) {
          int64_t s = getInt(o, "seed", "options");
          if (s < 0) throw ArgumentError("options.seed must be non-negative");
          seeded = true;
          seed = static_cast<uint64_t>(s);
        }
      }
      if (inFeats < 1 || hidden < 1) throw ArgumentError("TdnnPredictor: inFeats and hidden must be positive integers");
      if (inFeats > 65536 || hidden > 65536) throw ArgumentError("TdnnPredictor: inFeats and hidden must be at most 65536");
      // Like torch.manual_seed(seed) before AccuracyPredictor(in): the Linear init draws come next.
      runOnComputeThread([&] {
        if (seeded) at::manual_seed(seed);
        predictor_ = std::make_shared<AccuracyPredictor>(inFeats, hidden);
      });
      for (auto& e : predictor_->namedTensors()) index_[e.name] = e;
      return 0;
    });
  }

  std::shared_ptr<AccuracyPredictor> predictor() { return predictor_; }
  std::atomic<bool> busy{false};

 private:
  void checkIdle(const std::string& what) const {
    if (busy) throw ArgumentError(what + ": the predictor is busy with fit(); await it first");
  }

  const nn::NamedTensor& lookup(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) throw ArgumentError("no tensor named '" + name + "' in the predictor's state_dict");
    return it->second;
  }

  Napi::Value InFeats(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(predictor_->inFeats())); }
  Napi::Value Hidden(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(predictor_->hidden())); }

  Napi::Value StateDict(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      return stateDictToJs(info.Env(), predictor_->namedTensors());
    });
  }

  Napi::Value GetTensor(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 1 || !info[0].IsString()) throw ArgumentError("getTensor(name): name must be a string");
      checkIdle("getTensor");
      return tensorToJsObject(info.Env(), lookup(info[0].As<Napi::String>().Utf8Value()).tensor->detach().clone());
    });
  }

  // setTensor(name, data, shape): same shape (a 0-d tensor also takes [1]) and dtype, or an error naming the key.
  Napi::Value SetTensor(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 3 || !info[0].IsString()) throw ArgumentError("setTensor(name, data, shape) needs 3 arguments");
      checkIdle("setTensor");
      std::string name = info[0].As<Napi::String>().Utf8Value();
      setNamedTensorFromJs(*lookup(name).tensor, name, info[1], info[2], "predictor");
      return info.Env().Undefined();
    });
  }

  // predict(x: Float32Array (n * inFeats), n) -> { raw: Float32Array(n), eer: Float32Array(n) }
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 2 || !info[1].IsNumber()) throw ArgumentError("predict(x, n): n must be a number");
      Napi::Object holder = Napi::Object::New(info.Env());
      holder.Set("n", info[1]);
      int64_t n = getInt(holder, "n", "predict");
      if (n < 1) throw ArgumentError("predict: n must be at least 1");
      checkIdle("predict");
      at::Tensor x = borrowFloat32(info[0], {n, predictor_->inFeats()}, "predict: x", /*requireFinite=*/true);
      at::Tensor raw, eer;
      runOnComputeThread([&] {
        auto r = predictor_->predict(x);
        raw = r.first.contiguous();
        eer = r.second.contiguous();
      });
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("raw", tensorToJs(info.Env(), raw));
      out.Set("eer", tensorToJs(info.Env(), eer));
      return out;
    });
  }

  Napi::Value Fit(const Napi::CallbackInfo& info);

  std::shared_ptr<AccuracyPredictor> predictor_;
  std::map<std::string, nn::NamedTensor> index_;
};

// Runs fit() on the compute thread; the inputs are copied on the main thread, so JS may drop them.
class FitWorker : public PromiseWorker {
 public:
  FitWorker(Napi::Env env, PredictorWrap* owner, Napi::Object ownerObject, at::Tensor X, at::Tensor y, PredictorFitOptions o)
      : PromiseWorker(env), owner_(owner), X_(std::move(X)), y_(std::move(y)), options_(std::move(o)) {
    ownerRef_ = Napi::Persistent(ownerObject);
  }
  ~FitWorker() override { owner_->busy = false; }

 protected:
  void Run() override { result_ = owner_->predictor()->fit(X_, y_, options_); }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    Napi::Array loss = Napi::Array::New(env, result_.epochLoss.size());
    Napi::Array lr = Napi::Array::New(env, result_.epochLr.size());
    for (size_t i = 0; i < result_.epochLoss.size(); ++i) loss.Set(i, result_.epochLoss[i]);
    for (size_t i = 0; i < result_.epochLr.size(); ++i) lr.Set(i, result_.epochLr[i]);
    out.Set("epochLoss", loss);
    out.Set("epochLr", lr);
    out.Set("batchesPerEpoch", double(result_.batchesPerEpoch));
    out.Set("l1Error", result_.l1Error);
    return out;
  }

 private:
  PredictorWrap* owner_;
  Napi::ObjectReference ownerRef_;
  at::Tensor X_, y_;
  PredictorFitOptions options_;
  PredictorFitResult result_;
};

// fit(x: Float32Array (n * inFeats), n, y: Float32Array (n), options?) -> Promise<FitResult>
Napi::Value PredictorWrap::Fit(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 3 || !info[1].IsNumber()) throw ArgumentError("fit(x, n, y, options?) needs x, n and y");
    Napi::Object holder = Napi::Object::New(info.Env());
    holder.Set("n", info[1]);
    int64_t n = getInt(holder, "n", "fit");
    if (n < 1) throw ArgumentError("fit: n must be at least 1");
    at::Tensor X = borrowFloat32(info[0], {n, predictor_->inFeats()}, "fit: x", true).clone();
    at::Tensor y = borrowFloat32(info[2], {n}, "fit: y", true).clone();
    PredictorFitOptions o;
    if (info.Length() >= 4 && !info[3].IsUndefined()) {
      Napi::Object opts = asObject(info[3], "fit options");
      o.epochs = getIntOr(opts, "epochs", o.epochs, "options");
      o.lr = getNumberOr(opts, "lr", o.lr, "options");
      o.weightDecay = getNumberOr(opts, "weightDecay", o.weightDecay, "options");
      o.loss = getStringOr(opts, "loss", o.loss, "options");
      o.optimizer = getStringOr(opts, "optimizer", o.optimizer, "options");
      o.scheduler = getStringOr(opts, "scheduler", o.scheduler, "options");
      o.gamma = getNumberOr(opts, "gamma", o.gamma, "options");
      o.cycle = getIntOr(opts, "cycle", o.cycle, "options");
      o.batchSize = getIntOr(opts, "batchSize", o.batchSize, "options");
      o.dropLast = getBoolOr(opts, "dropLast", o.dropLast, "options");
      o.freshOptimizer = getBoolOr(opts, "freshOptimizer", o.freshOptimizer, "options");
      if (opts.Has("seed") && !opts.Get("seed").IsUndefined()) {
        int64_t s = getInt(opts, "seed", "options");
        if (s < 0) throw ArgumentError("options.seed must be non-negative");
        o.hasSeed = true;
        o.seed = static_cast<uint64_t>(s);
      }
      if (!(o.lr > 0) || !(o.weightDecay >= 0) || !(o.gamma > 0))
        throw ArgumentError("fit options: need lr > 0, weightDecay >= 0, gamma > 0");
    }
    if (busy.exchange(true)) throw ArgumentError("fit: the predictor is busy with another fit(); await it first");
    auto* worker = new FitWorker(info.Env(), this, Value(), std::move(X), std::move(y), std::move(o));
    worker->Queue();
    return worker->Promise();
  });
}

Registrar reg("tdnn_predictor", [](Napi::Env env, Napi::Object exports) {
  exports.Set("TdnnPredictor", PredictorWrap::Define(env));
});

}  // namespace
}  // namespace autospeech
