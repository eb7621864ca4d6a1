// JS class `Trainer`: the reference's training step (search: alpha step + weight step; scratch:
// weight step) on a Model, optimizer state for checkpoints, and batched utterance embeddings; and
// aamSoftmax, the EfficientTDNN loss head with its gradients, for tests.
#include <napi.h>

#include <ATen/ATen.h>

#include <cmath>

#include "binding/checked_wrap.h"
#include "binding/guard.h"
#include "binding/model_wrap.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "binding/tensor_bridge.h"
#include "dist/process_group.h"
#include "system/compute_thread.h"
#include "train/aam_softmax.h"
#include "train/trainer.h"

namespace autospeech {
namespace {

train::AdamOptions adamFrom(const Napi::Object& o, const char* key, train::AdamOptions base) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return base;
  std::string what = std::string("options.") + key;
  Napi::Object a = asObject(v, what);
  base.lr = getNumberOr(a, "lr", base.lr, what);
  base.beta1 = getNumberOr(a, "beta1", base.beta1, what);
  base.beta2 = getNumberOr(a, "beta2", base.beta2, what);
  base.eps = getNumberOr(a, "eps", base.eps, what);
  base.weightDecay = getNumberOr(a, "weightDecay", base.weightDecay, what);
  if (!(base.lr >= 0) || !(base.beta1 >= 0 && base.beta1 < 1) || !(base.beta2 >= 0 && base.beta2 < 1) || !(base.eps > 0) ||
      !(base.weightDecay >= 0))
    throw ArgumentError(what + ": need lr >= 0, betas in [0, 1), eps > 0, weightDecay >= 0");
  return base;
}

// Releases the model's busy flag when a job ends, however it ends.
struct Lease {
  ModelWrap* owner;
  ~Lease() { owner->busy = false; }
};

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static constexpr napi_type_tag kTypeTag{0x747261696e657277ULL, 0x3a9b5c7d1e2f4061ULL};  // binding/checked_wrap.h
  static constexpr const char* kClassName = "Trainer";

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Trainer",
                       {checkedMethod<TrainerWrap, &TrainerWrap::Step>("step"),
                        checkedMethod<TrainerWrap, &TrainerWrap::SetLr>("setLr"),
                        checkedMethod<TrainerWrap, &TrainerWrap::EmbedUtterances>("embedUtterances"),
                        checkedMethod<TrainerWrap, &TrainerWrap::OptimizerState>("optimizerState"),
                        checkedMethod<TrainerWrap, &TrainerWrap::LoadOptimizerState>("loadOptimizerState")});
  }

  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    tagInstance<TrainerWrap>(info);
    guard(info.Env(), [&] {
      if (info.Length() < 1) throw ArgumentError("new Trainer(model, options?): model is required");
      owner_ = ModelWrap::From(info[0], "Trainer: model");
      modelRef_ = Napi::Persistent(info[0].As<Napi::Object>());
      train::TrainerOptions options;
      if (info.Length() >= 2 && !info[1].IsUndefined()) {
        Napi::Object o = asObject(info[1], "options");
        options.weights = adamFrom(o, "weights", options.weights);
        options.arch = adamFrom(o, "arch", options.arch);
        options.labelSmoothing = getNumberOr(o, "labelSmoothing", options.labelSmoothing, "options");
        options.secondOrderArch = getBoolOr(o, "secondOrderArch", false, "options");
        options.fastSearch = getBoolOr(o, "fastSearch", false, "options");
        options.skipUnusedGrads = getBoolOr(o, "skipUnusedGrads", true, "options");
        options.sampledBackwardOnly = getBoolOr(o, "sampledBackwardOnly", true, "options");
        options.distributed = getBoolOr(o, "distributed", false, "options");
        options.syncBn = getBoolOr(o, "syncBn", false, "options");
        if (options.distributed && !dist::info().initialized)
          throw ArgumentError("options.distributed: the process group is not initialised (distInit first)");
        if (options.syncBn && !options.distributed) throw ArgumentError("options.syncBn needs options.distributed");
        if (options.labelSmoothing < 0 || options.labelSmoothing >= 1)
          throw ArgumentError("options.labelSmoothing must be in [0, 1)");
      }
      owner_->checkIdle("new Trainer");
      if (options.secondOrderArch && owner_->model().archParameters().empty())
        throw ArgumentError("options.secondOrderArch: only the search supernet has architecture parameters");
      trainer_ = std::make_shared<train::Trainer>(owner_->shared(), options);
      // Names of the optimizer parameters, for checkpoints (state_dict names of the model).
      auto arch = owner_->model().archParameters();
      for (auto& e : owner_->model().namedTensors()) {
        if (e.kind != nn::TensorKind::Parameter) continue;
        bool isArch = false;
        for (auto& a : arch) isArch = isArch || a.is_same(*e.tensor);
        (isArch ? archNames_ : weightNames_).push_back(e.name);
      }
      return 0;
    });
  }

 private:
  class StepWorker : public PromiseWorker {
   public:
    StepWorker(Napi::Env env, TrainerWrap* self, std::vector<at::Tensor> batch, std::vector<Napi::Value> keep)
        : PromiseWorker(env), self_(self), batch_(std::move(batch)) {
      selfRef_ = Napi::Persistent(self->Value());
      for (auto& v : keep) keep_.push_back(Napi::Persistent(v));
    }

   protected:
    void Run() override {
      Lease lease{self_->owner_};
      auto device = self_->owner_->device();
      auto on = [&](size_t i) { return batch_.size() > i && batch_[i].defined() ? batch_[i].to(device) : at::Tensor(); };
      stats_ = self_->trainer_->step(on(0), on(1), on(2), on(3));
    }
    Napi::Value Resolve(Napi::Env env) override {
      Napi::Object o = Napi::Object::New(env);
      o.Set("loss", stats_.loss);
      o.Set("acc1", stats_.acc1);
      o.Set("acc5", stats_.acc5);
      if (self_->trainer_->isSearch()) {
        o.Set("archLoss", stats_.archLoss);
        o.Set("archEntropy", stats_.archEntropy);
      }
      if (self_->trainer_->distributed()) {
        o.Set("gradientBuckets", static_cast<double>(self_->trainer_->gradientBuckets()));
        o.Set("overlappedBuckets", static_cast<double>(self_->trainer_->overlappedBuckets()));
      }
      Napi::Object phases = Napi::Object::New(env);
      for (const auto& [name, ms] : stats_.phasesMs) phases.Set(name, ms);
      o.Set("phasesMs", phases);
      return o;
    }

   private:
    TrainerWrap* self_;
    Napi::ObjectReference selfRef_;
    std::vector<Napi::Reference<Napi::Value>> keep_;
    std::vector<at::Tensor> batch_;
    train::StepStats stats_;
  };

  class EmbedWorker : public PromiseWorker {
   public:
    EmbedWorker(Napi::Env env, TrainerWrap* self, at::Tensor windows, std::vector<int64_t> counts, int64_t maxBatch,
                Napi::Value keep)
        : PromiseWorker(env), self_(self), windows_(windows), counts_(std::move(counts)),
          maxBatch_(maxBatch) {
      selfRef_ = Napi::Persistent(self->Value());
      keep_ = Napi::Persistent(keep);
    }

   protected:
    void Run() override {
      Lease lease{self_->owner_};
      at::Tensor e = self_->trainer_->embedUtterances(windows_.to(self_->owner_->device()), counts_, maxBatch_);
      logits_ = self_->trainer_->classify(e).cpu();
      out_ = e.cpu();
    }
    Napi::Value Resolve(Napi::Env env) override {
      Napi::Object o = tensorToJsObject(env, out_);
      o.Set("logits", tensorToJsObject(env, logits_));
      return o;
    }

   private:
    TrainerWrap* self_;
    Napi::ObjectReference selfRef_;
    Napi::Reference<Napi::Value> keep_;
    at::Tensor windows_;
    std::vector<int64_t> counts_;
    int64_t maxBatch_;
    at::Tensor out_, logits_;
  };

  // step(x, shape, y, xv?, vshape?, yv?) -> Promise<{loss, acc1, acc5, archLoss?, archEntropy?}>
  Napi::Value Step(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 3) throw ArgumentError("step(x, shape, y, xv?, vshape?, yv?) needs x, shape and y");
      auto readBatch = [&](size_t xi, size_t si, size_t yi, const std::string& name, std::vector<at::Tensor>& out) {
        std::vector<int64_t> shape = shapeFromJs(info[si], name + " shape");
        if (shape.size() != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1)
          throw ArgumentError(name + " shape must be [batch, frames, bins] with every size >= 1");
        out.push_back(borrowFloat32(info[xi], shape, name, /*requireFinite=*/true));
        at::Tensor y = borrowTypedArray(info[yi], {shape[0]}, name + " labels");
        if (y.scalar_type() != at::kLong && y.scalar_type() != at::kInt)
          throw ArgumentError(name + " labels must be an Int32Array or BigInt64Array");
        out.push_back(y);
      };
      std::vector<at::Tensor> batch;
      std::vector<Napi::Value> keep{info[0], info[2]};
      readBatch(0, 1, 2, "x", batch);
      bool hasVal = info.Length() >= 6 && !info[3].IsUndefined();
      if (trainer_->isSearch() && !hasVal)
        throw ArgumentError("step: the search supernet needs a validation batch (xv, vshape, yv) for the alpha step");
      if (!trainer_->isSearch() && hasVal) throw ArgumentError("step: only the search supernet takes a validation batch");
      if (hasVal) {
        readBatch(3, 4, 5, "xv", batch);
        keep.push_back(info[3]);
        keep.push_back(info[5]);
      }
      owner_->acquire("step");
      auto* worker = new StepWorker(info.Env(), this, std::move(batch), keep);
      worker->Queue();
      return worker->Promise();
    });
  }

  Napi::Value SetLr(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 1 || !info[0].IsNumber()) throw ArgumentError("setLr(lr, archLr?): lr must be a number");
      double lr = info[0].As<Napi::Number>().DoubleValue();
      if (!(lr >= 0) || !std::isfinite(lr)) throw ArgumentError("setLr: lr must be a finite number >= 0");
      owner_->checkIdle("setLr");
      trainer_->weightOptimizer().setLr(lr);
      if (info.Length() >= 2 && !info[1].IsUndefined()) {
        if (!info[1].IsNumber()) throw ArgumentError("setLr: archLr must be a number");
        double archLr = info[1].As<Napi::Number>().DoubleValue();
        if (!(archLr >= 0) || !std::isfinite(archLr)) throw ArgumentError("setLr: archLr must be a finite number >= 0");
        if (!trainer_->archOptimizer()) throw ArgumentError("setLr: only the search supernet has an architecture optimizer");
        trainer_->archOptimizer()->setLr(archLr);
      }
      return info.Env().Undefined();
    });
  }

  // embedUtterances(windows, shape [N, T, F], counts: Int32Array, maxBatch?) -> Promise<{data, shape: [U, D]}>
  Napi::Value EmbedUtterances(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 3) throw ArgumentError("embedUtterances(windows, shape, counts, maxBatch?) needs 3 arguments");
      std::vector<int64_t> shape = shapeFromJs(info[1], "shape");
      if (shape.size() != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1)
        throw ArgumentError("embedUtterances: shape must be [windows, frames, bins] with every size >= 1");
      at::Tensor windows = borrowFloat32(info[0], shape, "windows", true);
      if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw ArgumentError("embedUtterances: counts must be an Int32Array");
      Napi::Int32Array c = info[2].As<Napi::Int32Array>();
      std::vector<int64_t> counts(c.Data(), c.Data() + c.ElementLength());
      int64_t total = 0;
      for (int64_t n : counts) {
        if (n < 1) throw ArgumentError("embedUtterances: every count must be >= 1");
        total += n;
      }
      if (counts.empty() || total != shape[0])
        throw ArgumentError("embedUtterances: counts sum to " + std::to_string(total) + ", shape has " +
                            std::to_string(shape[0]) + " windows");
      int64_t maxBatch = 64;
      if (info.Length() >= 4 && !info[3].IsUndefined()) {
        Napi::Object holder = Napi::Object::New(info.Env());
        holder.Set("maxBatch", info[3]);
        maxBatch = getInt(holder, "maxBatch", "embedUtterances");
        if (maxBatch < 1) throw ArgumentError("embedUtterances: maxBatch must be >= 1");
      }
      owner_->acquire("embedUtterances");
      auto* worker = new EmbedWorker(info.Env(), this, windows, std::move(counts), maxBatch, info[0]);
      worker->Queue();
      return worker->Promise();
    });
  }

  // { "<weights|arch>.<param>.exp_avg" | ".exp_avg_sq" | ".step": tensor, "<group>.lr": ... }
  Napi::Value OptimizerState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      owner_->checkIdle("optimizerState");
      Napi::Env env = info.Env();
      Napi::Object out = Napi::Object::New(env);
      auto put = [&](const std::string& group, train::Adam& opt, const std::vector<std::string>& names) {
        for (size_t i = 0; i < names.size(); ++i) {
          auto& s = opt.state()[i];
          out.Set(group + "." + names[i] + ".step", tensorToJsObject(env, at::full({}, s.step, at::kLong)));
          if (s.step == 0) continue;
          out.Set(group + "." + names[i] + ".exp_avg", tensorToJsObject(env, s.expAvg.cpu().clone()));
          out.Set(group + "." + names[i] + ".exp_avg_sq", tensorToJsObject(env, s.expAvgSq.cpu().clone()));
        }
      };
      put("weights", trainer_->weightOptimizer(), weightNames_);
      if (trainer_->archOptimizer()) put("arch", *trainer_->archOptimizer(), archNames_);
      return out;
    });
  }

  // Strict inverse of optimizerState(): every step entry must be present, moments must match shapes.
  Napi::Value LoadOptimizerState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      owner_->checkIdle("loadOptimizerState");
      Napi::Object in = asObject(info.Length() ? info[0] : info.Env().Undefined(), "optimizer state");
      auto tensorOf = [&](const std::string& key) -> at::Tensor {
        if (!in.Has(key)) throw ArgumentError("optimizer state: missing '" + key + "'");
        Napi::Object t = asObject(in.Get(key), "optimizer state '" + key + "'");
        return borrowTypedArray(t.Get("data"), shapeFromJs(t.Get("shape"), key + ".shape"), key).clone();
      };
      auto load = [&](const std::string& group, train::Adam& opt, const std::vector<std::string>& names) {
        std::vector<train::Adam::ParamState> next(names.size());
        for (size_t i = 0; i < names.size(); ++i) {
          std::string base = group + "." + names[i];
          at::Tensor step = tensorOf(base + ".step");
          if (step.numel() != 1 || step.scalar_type() != at::kLong) throw ArgumentError(base + ".step must be one int64");
          next[i].step = step.item<int64_t>();
          if (next[i].step < 0) throw ArgumentError(base + ".step must be >= 0");
          if (next[i].step == 0) continue;
          const at::Tensor& p = opt.params()[i];
          next[i].expAvg = tensorOf(base + ".exp_avg");
          next[i].expAvgSq = tensorOf(base + ".exp_avg_sq");
          for (auto* m : {&next[i].expAvg, &next[i].expAvgSq}) {
            if (m->sizes() != p.sizes() || m->scalar_type() != p.scalar_type())
              throw ArgumentError(base + ": moment shape/dtype does not match the parameter");
            *m = m->to(p.device()).contiguous(p.suggest_memory_format());  // the parameter's layout
          }
        }
        opt.state() = std::move(next);
      };
      load("weights", trainer_->weightOptimizer(), weightNames_);
      if (trainer_->archOptimizer()) load("arch", *trainer_->archOptimizer(), archNames_);
      return info.Env().Undefined();
    });
  }

  ModelWrap* owner_ = nullptr;
  Napi::ObjectReference modelRef_;
  std::shared_ptr<train::Trainer> trainer_;
  std::vector<std::string> weightNames_, archNames_;
};

Napi::Value RngState(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return tensorToJs(info.Env(), gen.get_state());
  });
}

Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw ArgumentError("setRngState(state): state must be a Uint8Array from rngState()");
    Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
    at::Tensor state = borrowTypedArray(a, {static_cast<int64_t>(a.ElementLength())}, "state").clone();
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
    return info.Env().Undefined();
  });
}

// aamSoftmax(x, xShape [B, D], W, wShape [D, C], labels (Int32Array | BigInt64Array, B),
//            { margin, scale, easyMargin, soft }) -> { cosine, phi, logits, gradX, gradW,
//            targetUsesPhi (uint8, B): NativeTensor; loss: number }
// The AAM-softmax head the TDNN trainer uses, with the gradients of its mean cross-entropy with
// respect to x and W, so tests can check it against the reference in isolation.
Napi::Value AamSoftmax(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const char* usage = "aamSoftmax(x, xShape, W, wShape, labels, options?)";
    if (info.Length() < 5) throw ArgumentError(std::string(usage) + " needs at least 5 arguments");
    std::vector<int64_t> xShape = shapeFromJs(info[1], "xShape"), wShape = shapeFromJs(info[3], "wShape");
    if (xShape.size() != 2 || wShape.size() != 2 || wShape[0] != xShape[1])
      throw ArgumentError("aamSoftmax: xShape must be [B, D] and wShape [D, C]");
    at::Tensor xIn = borrowFloat32(info[0], xShape, "x", /*requireFinite=*/true);
    at::Tensor wIn = borrowFloat32(info[2], wShape, "W", /*requireFinite=*/true);
    if (!info[4].IsTypedArray() || (info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array &&
                                    info[4].As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array))
      throw ArgumentError("aamSoftmax: labels must be an Int32Array or a BigInt64Array");
    at::Tensor labels = borrowTypedArray(info[4], {xShape[0]}, "labels");
    train::AamSoftmaxOptions opt;
    opt.diagnostics = true;
    if (info.Length() > 5 && !info[5].IsUndefined()) {
      Napi::Object o = asObject(info[5], "aamSoftmax: options");
      opt.margin = getNumberOr(o, "margin", opt.margin, "aamSoftmax options");
      opt.scale = getNumberOr(o, "scale", opt.scale, "aamSoftmax options");
      opt.easyMargin = getBoolOr(o, "easyMargin", opt.easyMargin, "aamSoftmax options");
      opt.soft = getBoolOr(o, "soft", opt.soft, "aamSoftmax options");
      if (!std::isfinite(opt.margin) || !std::isfinite(opt.scale)) throw ArgumentError("aamSoftmax: margin and scale must be finite");
    }
    train::AamSoftmaxOutput r;
    at::Tensor gradX, gradW, targetUsesPhi;
    double loss = 0;
    runOnComputeThread([&] {
      // Fresh leaves: the borrowed JS memory is never written, and their gradients are the answer.
      at::Tensor x = xIn.clone().requires_grad_(true), W = wIn.clone().requires_grad_(true);
      r = train::aamSoftmax(x, W, labels, opt);
      r.loss.backward();
      loss = r.loss.item<double>();
      gradX = x.grad();
      gradW = W.grad();
      targetUsesPhi = r.usesPhi.gather(1, labels.to(at::kLong).unsqueeze(1)).squeeze(1);
    });
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("cosine", tensorToJsObject(env, r.cosine));
    out.Set("phi", tensorToJsObject(env, r.phi));
    out.Set("logits", tensorToJsObject(env, r.logits));
    out.Set("loss", loss);
    out.Set("gradX", tensorToJsObject(env, gradX));
    out.Set("gradW", tensorToJsObject(env, gradW));
    out.Set("targetUsesPhi", tensorToJsObject(env, targetUsesPhi));
    return out;
  });
}

Registrar reg("trainer", [](Napi::Env env, Napi::Object exports) {
  exports.Set("Trainer", TrainerWrap::Define(env));
  exports.Set("rngState", Napi::Function::New(env, RngState, "rngState"));
  exports.Set("setRngState", Napi::Function::New(env, SetRngState, "setRngState"));
  exports.Set("aamSoftmax", Napi::Function::New(env, AamSoftmax, "aamSoftmax"));
});

}  // namespace
}  // namespace autospeech
