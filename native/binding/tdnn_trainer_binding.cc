// JS class `TdnnTrainer(model, options)`: sugar's EfficientTDNN training step on a Model of kind
// 'tdnn' (see train/tdnn_trainer.h): step(input, shape, labels, {subnets, lr}) runs the walks of
// one batch (waveform crops (B, L) through LogMelFbanks natively, or features (B, F, T)) and one
// Adam step; the optimizer state and the AAM weight go to and come from checkpoints.
#include <napi.h>

#include <ATen/ATen.h>

#include <cmath>

#include "binding/checked_wrap.h"
#include "binding/guard.h"
#include "dist/process_group.h"
#include "binding/model_wrap.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "binding/tdnn_subnet_arg.h"
#include "binding/tensor_bridge.h"
#include "train/tdnn_trainer.h"

namespace autospeech {
namespace {

using models::tdnn::DynamicTdnn;
using models::tdnn::TdnnSubnet;

struct Lease {
  ModelWrap* owner;
  ~Lease() { owner->busy = false; }
};

double finiteNumber(const Napi::Object& o, const char* key, double fallback, const std::string& what) {
  double v = getNumberOr(o, key, fallback, what);
  if (!std::isfinite(v)) throw ArgumentError(what + "." + key + " must be a finite number");
  return v;
}

class TdnnTrainerWrap : public Napi::ObjectWrap<TdnnTrainerWrap> {
 public:
  static constexpr napi_type_tag kTypeTag{0x74646e6e74726e72ULL, 0x6a5b4c3d2e1f0a19ULL};  // binding/checked_wrap.h
  static constexpr const char* kClassName = "TdnnTrainer";

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TdnnTrainer",
                       {checkedMethod<TdnnTrainerWrap, &TdnnTrainerWrap::Step>("step"),
                        checkedMethod<TdnnTrainerWrap, &TdnnTrainerWrap::OptimizerState>("optimizerState"),
                        checkedMethod<TdnnTrainerWrap, &TdnnTrainerWrap::LoadOptimizerState>("loadOptimizerState"),
                        checkedMethod<TdnnTrainerWrap, &TdnnTrainerWrap::HeadState>("headState"),
                        checkedMethod<TdnnTrainerWrap, &TdnnTrainerWrap::LoadHeadState>("loadHeadState")});
  }

  explicit TdnnTrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TdnnTrainerWrap>(info) {
    tagInstance<TdnnTrainerWrap>(info);
    guard(info.Env(), [&] {
      const char* usage = "new TdnnTrainer(model, {classes, lr?, beta1?, beta2?, eps?, weightDecay?, margin?, scale?, easyMargin?})";
      if (info.Length() < 2) throw ArgumentError(std::string(usage) + ": model and options are required");
      owner_ = ModelWrap::From(info[0], "TdnnTrainer: model");
      auto net = std::dynamic_pointer_cast<DynamicTdnn>(owner_->shared());
      if (!net) throw ArgumentError("TdnnTrainer: the model is not a TDNN supernet (kind '" + owner_->model().kind() + "')");
      if (net->dims().standalone) throw ArgumentError("TdnnTrainer: the model is a standalone subnet (clone); train the supernet");
      modelRef_ = Napi::Persistent(info[0].As<Napi::Object>());
      Napi::Object o = asObject(info[1], "options");
      train::TdnnTrainerOptions opt;
      opt.classes = getInt(o, "classes", "options");
      if (opt.classes < 1 || opt.classes > (1 << 24)) throw ArgumentError("options.classes must be in [1, 2^24]");
      opt.adam.lr = finiteNumber(o, "lr", opt.adam.lr, "options");
      opt.adam.beta1 = finiteNumber(o, "beta1", opt.adam.beta1, "options");
      opt.adam.beta2 = finiteNumber(o, "beta2", opt.adam.beta2, "options");
      opt.adam.eps = finiteNumber(o, "eps", opt.adam.eps, "options");
      opt.adam.weightDecay = finiteNumber(o, "weightDecay", opt.adam.weightDecay, "options");
      if (!(opt.adam.lr >= 0) || !(opt.adam.beta1 >= 0 && opt.adam.beta1 < 1) || !(opt.adam.beta2 >= 0 && opt.adam.beta2 < 1) ||
          !(opt.adam.eps > 0) || !(opt.adam.weightDecay >= 0))
        throw ArgumentError("options: need lr >= 0, betas in [0, 1), eps > 0, weightDecay >= 0");
      opt.aam.margin = finiteNumber(o, "margin", opt.aam.margin, "options");
      opt.aam.scale = finiteNumber(o, "scale", opt.aam.scale, "options");
      opt.aam.easyMargin = getBoolOr(o, "easyMargin", opt.aam.easyMargin, "options");
      opt.logmel.melBins = net->dims().inFeats;  // LogMelFbanks(n_mels = in_feats)
      opt.distributed = getBoolOr(o, "distributed", false, "options");
      opt.syncBn = getBoolOr(o, "syncBn", false, "options");
      if (opt.distributed && !dist::info().initialized)
        throw ArgumentError("options.distributed: the process group is not initialised (distInit first)");
      if (opt.syncBn && !opt.distributed) throw ArgumentError("options.syncBn needs options.distributed");
      owner_->checkIdle("new TdnnTrainer");
      trainer_ = std::make_shared<train::TdnnTrainer>(net, opt);
      classes_ = opt.classes;
      return 0;
    });
  }

 private:
  class StepWorker : public PromiseWorker {
   public:
    StepWorker(Napi::Env env, TdnnTrainerWrap* self, at::Tensor input, at::Tensor labels, std::vector<TdnnSubnet> walks,
               std::vector<Napi::Value> keep)
        : PromiseWorker(env), self_(self), input_(std::move(input)), labels_(std::move(labels)), walks_(std::move(walks)) {
      selfRef_ = Napi::Persistent(self->Value());
      for (auto& v : keep) keep_.push_back(Napi::Persistent(v));
    }

   protected:
    void Run() override {
      Lease lease{self_->owner_};
      auto device = self_->owner_->device();
      stats_ = self_->trainer_->step(input_.to(device), labels_.to(device), walks_);
    }
    Napi::Value Resolve(Napi::Env env) override {
      Napi::Object o = Napi::Object::New(env);
      o.Set("loss", stats_.loss);
      o.Set("acc1", stats_.acc1);
      o.Set("acc5", stats_.acc5);
      Napi::Array w = Napi::Array::New(env, stats_.walkLosses.size());
      for (size_t i = 0; i < stats_.walkLosses.size(); ++i) w.Set(static_cast<uint32_t>(i), stats_.walkLosses[i]);
      o.Set("walkLosses", w);
      Napi::Object phases = Napi::Object::New(env);
      phases.Set("features", stats_.featuresMs);
      phases.Set("forward+backward", stats_.forwardBackwardMs);
      phases.Set("update", stats_.updateMs);
      o.Set("phasesMs", phases);
      return o;
    }

   private:
    TdnnTrainerWrap* self_;
    Napi::ObjectReference selfRef_;
    std::vector<Napi::Reference<Napi::Value>> keep_;
    at::Tensor input_, labels_;
    std::vector<TdnnSubnet> walks_;
    train::TdnnStepStats stats_;
  };

  // step(input, shape [B, L] | [B, F, T], labels, {subnets: Subnet[], lr, margin?}) -> Promise<stats>
  Napi::Value Step(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const char* usage = "step(input, shape, labels, {subnets, lr, margin?})";
      if (info.Length() < 4) throw ArgumentError(std::string(usage) + " needs 4 arguments");
      auto& net = trainer_->model();
      std::vector<int64_t> shape = shapeFromJs(info[1], "shape");
      const bool waves = shape.size() == 2;
      if (waves) {
        if (shape[0] < 2 || shape[1] < features::kLogMelMinSamples)
          throw ArgumentError("step: waveform shape must be [batch >= 2, samples >= " + std::to_string(features::kLogMelMinSamples) + "]");
      } else if (shape.size() != 3 || shape[0] < 2 || shape[1] != net.dims().inFeats || shape[2] < 1) {
        throw ArgumentError("step: shape must be [batch >= 2, samples] (waveforms) or [batch >= 2, " + std::to_string(net.dims().inFeats) + ", frames]");
      }
      at::Tensor input = borrowFloat32(info[0], shape, "input", /*requireFinite=*/true);
      if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw ArgumentError("step: labels must be an Int32Array");
      at::Tensor labels = borrowTypedArray(info[2], {shape[0]}, "labels");
      {
        const int32_t* y = labels.data_ptr<int32_t>();
        for (int64_t i = 0; i < shape[0]; ++i)
          if (y[i] < 0 || y[i] >= classes_)
            throw ArgumentError("step: label " + std::to_string(y[i]) + " at index " + std::to_string(i) + " is outside [0, " + std::to_string(classes_) + ")");
      }
      Napi::Object o = asObject(info[3], "step options");
      Napi::Value list = o.Get("subnets");
      if (!list.IsArray() || list.As<Napi::Array>().Length() < 1) throw ArgumentError("step options.subnets must be a non-empty array (one subnet per walk)");
      std::vector<TdnnSubnet> walks;
      Napi::Array arr = list.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) walks.push_back(tdnnSubnetArg(arr.Get(i), "step options.subnets[" + std::to_string(i) + "]"));
      double lr = getNumberOr(o, "lr", trainer_->optimizer().lr(), "step options");
      if (!std::isfinite(lr) || lr < 0) throw ArgumentError("step options.lr must be a finite number >= 0");
      Napi::Value margin = o.Get("margin");
      owner_->acquire("TdnnTrainer.step");
      try {
        for (auto& w : walks) net.setSubnet(w);  // validated here, on the main thread, for a synchronous error
      } catch (...) {
        owner_->busy = false;
        throw;
      }
      trainer_->optimizer().setLr(lr);
      if (!margin.IsUndefined()) trainer_->setMargin(finiteNumber(o, "margin", 0, "step options"));
      auto* worker = new StepWorker(info.Env(), this, input, labels.to(at::kLong), std::move(walks), {info[0], info[2]});
      worker->Queue();
      return worker->Promise();
    });
  }

  // { "weights.<key>.step" | ".exp_avg" | ".exp_avg_sq": tensor }, keys = the supernet's, then aam.W.
  Napi::Value OptimizerState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      owner_->checkIdle("optimizerState");
      Napi::Env env = info.Env();
      Napi::Object out = Napi::Object::New(env);
      auto& opt = trainer_->optimizer();
      const auto& names = trainer_->paramNames();
      for (size_t i = 0; i < names.size(); ++i) {
        auto& s = opt.state()[i];
        out.Set("weights." + names[i] + ".step", tensorToJsObject(env, at::full({}, s.step, at::kLong)));
        if (s.step == 0) continue;
        out.Set("weights." + names[i] + ".exp_avg", tensorToJsObject(env, s.expAvg.cpu().clone()));
        out.Set("weights." + names[i] + ".exp_avg_sq", tensorToJsObject(env, s.expAvgSq.cpu().clone()));
      }
      return out;
    });
  }

  // Strict inverse of optimizerState(). A parameter that has been stepped gets a zero gradient: in
  // the uninterrupted run its gradient stays defined after zero_grad() (torch 1.x zeroes in place),
  // so Adam keeps stepping it on the paths that do not use it, and a resumed run must too.
  Napi::Value LoadOptimizerState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      owner_->checkIdle("loadOptimizerState");
      Napi::Object in = asObject(info.Length() ? info[0] : info.Env().Undefined(), "optimizer state");
      auto tensorOf = [&](const std::string& key) -> at::Tensor {
        if (!in.Has(key)) throw ArgumentError("optimizer state: missing '" + key + "'");
        Napi::Object t = asObject(in.Get(key), "optimizer state '" + key + "'");
        return borrowTypedArray(t.Get("data"), shapeFromJs(t.Get("shape"), key + ".shape"), key).clone();
      };
      auto& opt = trainer_->optimizer();
      const auto& names = trainer_->paramNames();
      std::vector<train::Adam::ParamState> next(names.size());
      for (size_t i = 0; i < names.size(); ++i) {
        std::string base = "weights." + names[i];
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
          *m = m->to(p.device()).contiguous();
        }
      }
      opt.state() = std::move(next);
      for (size_t i = 0; i < names.size(); ++i) {
        at::Tensor p = opt.params()[i];
        p.mutable_grad() = opt.state()[i].step > 0 ? at::zeros_like(p) : at::Tensor();
      }
      return info.Env().Undefined();
    });
  }

  // { "aam.W": tensor (embed_dim, classes) }
  Napi::Value HeadState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      owner_->checkIdle("headState");
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("aam.W", tensorToJsObject(info.Env(), trainer_->aamWeight().detach().cpu().clone()));
      return out;
    });
  }

  Napi::Value LoadHeadState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      owner_->checkIdle("loadHeadState");
      Napi::Object in = asObject(info.Length() ? info[0] : info.Env().Undefined(), "head state");
      if (!in.Has("aam.W")) throw ArgumentError("head state: missing 'aam.W'");
      Napi::Object t = asObject(in.Get("aam.W"), "head state 'aam.W'");
      at::Tensor& W = trainer_->aamWeight();
      std::vector<int64_t> shape = shapeFromJs(t.Get("shape"), "aam.W.shape");
      if (shape != W.sizes().vec())
        throw ArgumentError("head state 'aam.W': shape [" + std::to_string(shape.size() == 2 ? shape[0] : -1) + ", " +
                            std::to_string(shape.size() == 2 ? shape[1] : -1) + "] does not match the trainer's [" +
                            std::to_string(W.size(0)) + ", " + std::to_string(W.size(1)) + "] (MODEL.EMBED_DIM, MODEL.NUM_CLASSES)");
      at::Tensor v = borrowFloat32(t.Get("data"), shape, "aam.W", /*requireFinite=*/false);
      at::NoGradGuard noGrad;
      W.copy_(v);
      return info.Env().Undefined();
    });
  }

  ModelWrap* owner_ = nullptr;
  Napi::ObjectReference modelRef_;
  std::shared_ptr<train::TdnnTrainer> trainer_;
  int64_t classes_ = 0;
};

Registrar reg("tdnn_trainer", [](Napi::Env env, Napi::Object exports) {
  exports.Set("TdnnTrainer", TdnnTrainerWrap::Define(env));
});

}  // namespace
}  // namespace autospeech
