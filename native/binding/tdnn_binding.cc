// tdnnForward(model, input, shape [B, F, T], options) -> Promise<{embedding, logits?, loss?,
// grads?, buffers?, subnetState?, trace?}>: one forward of the EfficientTDNN supernet (a Model of
// kind 'tdnn') on a chosen subnet, in eval or train mode; in train mode with the AAM weight and
// labels also the AAM-softmax loss, the gradient of every parameter that got one (full supernet
// shape, zero outside the slice) and of the AAM weight; optionally every buffer after the forward
// (the BN write-back) and the subnet's clone (sugar's clone(), taken from the weights as they are
// BEFORE the forward, with the supernet in eval mode, so it does not depend on the mode). A
// train-mode forward without the loss runs under no_grad: it only updates the BN running statistics
// (the BN recalibration of `tdnn evaluate --recalibrate`).
#include <napi.h>

#include <ATen/ATen.h>

#include <cmath>

#include "binding/guard.h"
#include "binding/model_wrap.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "binding/tensor_bridge.h"
#include "binding/tdnn_subnet_arg.h"
#include "models/tdnn/clone.h"
#include "train/aam_softmax.h"

namespace autospeech {
namespace {

using models::tdnn::DynamicTdnn;
using models::tdnn::TdnnSubnet;

using Named = std::vector<std::pair<std::string, at::Tensor>>;

class TdnnForwardWorker : public PromiseWorker {
 public:
  struct Request {
    at::Tensor input, labels, aamWeight;
    TdnnSubnet subnet;
    train::AamSoftmaxOptions aam;
    bool train = false, buffers = false, exportSubnet = false, trace = false;
  };

  TdnnForwardWorker(Napi::Env env, ModelWrap* owner, Napi::Object ownerObject, Request req, std::vector<Napi::Value> keep)
      : PromiseWorker(env), owner_(owner), req_(std::move(req)) {
    ownerRef_ = Napi::Persistent(ownerObject);
    for (auto& v : keep) keep_.push_back(Napi::Persistent(v));
  }
  ~TdnnForwardWorker() override { owner_->busy = false; }

 protected:
  void Run() override {
    auto& net = dynamic_cast<DynamicTdnn&>(owner_->model());
    at::Tensor x = req_.input.to(owner_->device());
    if (req_.exportSubnet) {
      net.train(false);
      auto clone = models::tdnn::cloneSubnet(net, req_.subnet);
      for (auto& e : clone->namedTensors()) subnetState_.emplace_back(e.name, e.tensor->detach().clone());
      kinds_.clear();
      for (auto& e : clone->namedTensors()) kinds_.push_back(e.kind == nn::TensorKind::Parameter);
    }
    net.setSubnet(req_.subnet);
    net.train(req_.train);
    models::Trace* trace = req_.trace ? &trace_ : nullptr;
    auto params = [&] {
      std::vector<nn::NamedTensor> out;
      for (auto& e : net.namedTensors())
        if (e.kind == nn::TensorKind::Parameter) out.push_back(e);
      return out;
    };
    const bool withLoss = req_.aamWeight.defined() && req_.labels.defined();
    if (!req_.train || !withLoss) {
      // No gradient is returned without the loss: eval, or a train-mode forward that only updates
      // the BN running statistics (sugar's batch_forward recalibration runs under no_grad too).
      at::NoGradGuard noGrad;
      embedding_ = net.embed(x, trace);
    } else {
      for (auto& e : params()) e.tensor->mutable_grad() = at::Tensor();
      embedding_ = net.embed(x, trace);
      {
        at::Tensor W = req_.aamWeight.to(owner_->device()).clone().requires_grad_(true);
        train::AamSoftmaxOutput r = train::aamSoftmax(embedding_, W, req_.labels, req_.aam);
        logits_ = r.logits.detach();
        r.loss.backward();
        loss_ = r.loss.item<double>();
        for (auto& e : params()) {
          at::Tensor g = e.tensor->grad();
          if (g.defined()) grads_.emplace_back(e.name, g.detach().clone());
          e.tensor->mutable_grad() = at::Tensor();
        }
        aamGrad_ = W.grad().detach().clone();
      }
      embedding_ = embedding_.detach();
    }
    if (req_.buffers)
      for (auto& e : net.namedTensors())
        if (e.kind == nn::TensorKind::Buffer) buffers_.emplace_back(e.name, e.tensor->detach().clone());
  }

  Napi::Value Resolve(Napi::Env env) override {
    auto record = [&](const Named& list) {
      Napi::Object o = Napi::Object::New(env);
      for (auto& [name, t] : list) o.Set(name, tensorToJsObject(env, t));
      return o;
    };
    Napi::Object out = Napi::Object::New(env);
    out.Set("embedding", tensorToJsObject(env, embedding_));
    if (logits_.defined()) {
      out.Set("logits", tensorToJsObject(env, logits_));
      out.Set("loss", Napi::Number::New(env, loss_));
      Napi::Object g = record(grads_);
      g.Set("aam.W", tensorToJsObject(env, aamGrad_));
      out.Set("grads", g);
    }
    if (req_.buffers) out.Set("buffers", record(buffers_));
    if (req_.exportSubnet) {
      Napi::Array arr = Napi::Array::New(env, subnetState_.size());
      for (size_t i = 0; i < subnetState_.size(); ++i) {
        Napi::Object e = Napi::Object::New(env);
        e.Set("name", subnetState_[i].first);
        e.Set("kind", kinds_[i] ? "parameter" : "buffer");
        e.Set("tensor", tensorToJsObject(env, subnetState_[i].second));
        arr.Set(static_cast<uint32_t>(i), e);
      }
      out.Set("subnetState", arr);
    }
    if (!trace_.empty()) {
      Named t;
      for (auto& [name, v] : trace_) t.emplace_back(name, v.detach());
      out.Set("trace", record(t));
    }
    return out;
  }

 private:
  ModelWrap* owner_;
  Napi::ObjectReference ownerRef_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
  Request req_;
  at::Tensor embedding_, logits_, aamGrad_;
  double loss_ = 0;
  Named grads_, buffers_, subnetState_;
  std::vector<bool> kinds_;
  models::Trace trace_;
};

Napi::Value TdnnForward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const char* usage = "tdnnForward(model, input, shape, options?)";
    if (info.Length() < 3) throw ArgumentError(std::string(usage) + " needs model, input and shape");
    ModelWrap* owner = ModelWrap::From(info[0], "tdnnForward: model");
    auto* net = dynamic_cast<DynamicTdnn*>(&owner->model());
    if (!net) throw ArgumentError("tdnnForward: the model is not a TDNN supernet (kind '" + owner->model().kind() + "')");
    std::vector<int64_t> shape = shapeFromJs(info[2], "shape");
    if (shape.size() != 3 || shape[0] < 1 || shape[2] < 1 || shape[1] != net->dims().inFeats)
      throw ArgumentError("tdnnForward: shape must be [batch, " + std::to_string(net->dims().inFeats) + ", frames] (channel-first)");
    TdnnForwardWorker::Request req;
    std::vector<Napi::Value> keep{info[1]};
    req.input = borrowFloat32(info[1], shape, "input", /*requireFinite=*/true);
    req.subnet = net->largest();
    if (info.Length() >= 4 && !info[3].IsUndefined()) {
      Napi::Object o = asObject(info[3], "options");
      std::string mode = getStringOr(o, "mode", "eval", "options");
      if (mode != "eval" && mode != "train") throw ArgumentError("options.mode must be 'eval' or 'train', got '" + mode + "'");
      req.train = mode == "train";
      if (o.Has("subnet") && !o.Get("subnet").IsUndefined() && !o.Get("subnet").IsNull()) req.subnet = tdnnSubnetArg(o.Get("subnet"), "options.subnet");
      req.buffers = getBoolOr(o, "buffers", false, "options");
      req.exportSubnet = getBoolOr(o, "exportSubnet", false, "options");
      req.trace = getBoolOr(o, "trace", false, "options");
      req.aam.margin = getNumberOr(o, "margin", req.aam.margin, "options");
      req.aam.scale = getNumberOr(o, "scale", req.aam.scale, "options");
      req.aam.easyMargin = getBoolOr(o, "easyMargin", req.aam.easyMargin, "options");
      if (!std::isfinite(req.aam.margin) || !std::isfinite(req.aam.scale)) throw ArgumentError("options: margin and scale must be finite");
      Napi::Value w = o.Get("aamWeight");
      Napi::Value labels = o.Get("labels");
      const bool hasW = !w.IsUndefined() && !w.IsNull(), hasLabels = !labels.IsUndefined() && !labels.IsNull();
      if (hasW != hasLabels) throw ArgumentError("options.aamWeight and options.labels go together (the AAM loss needs both)");
      if (hasW) {
        if (!req.train) throw ArgumentError("options.aamWeight/labels: the loss and gradients are computed in train mode only");
        std::vector<int64_t> wShape = shapeFromJs(o.Get("aamShape"), "options.aamShape");
        if (wShape.size() != 2 || wShape[0] != net->dims().embedDim || wShape[1] < 1)
          throw ArgumentError("options.aamShape must be [" + std::to_string(net->dims().embedDim) + " (embedding dim), classes]");
        req.aamWeight = borrowFloat32(w, wShape, "options.aamWeight", /*requireFinite=*/true);
        if (!labels.IsTypedArray()) throw ArgumentError("options.labels must be an Int32Array or BigInt64Array");
        req.labels = borrowTypedArray(labels, {shape[0]}, "options.labels");
        if (req.labels.scalar_type() != at::kLong && req.labels.scalar_type() != at::kInt)
          throw ArgumentError("options.labels must be an Int32Array or BigInt64Array");
        keep.push_back(w);
        keep.push_back(labels);
      }
    }
    if (req.train && shape[0] < 2) throw ArgumentError("tdnnForward: train mode needs a batch of at least 2 (BatchNorm batch statistics)");
    owner->acquire("tdnnForward");
    try {
      net->setSubnet(req.subnet);  // validated here, on the main thread, for a synchronous error
    } catch (...) {
      owner->busy = false;
      throw;
    }
    auto* worker = new TdnnForwardWorker(info.Env(), owner, info[0].As<Napi::Object>(), std::move(req), keep);
    worker->Queue();
    return worker->Promise();
  });
}

Registrar reg("tdnn", [](Napi::Env env, Napi::Object exports) {
  exports.Set("tdnnForward", Napi::Function::New(env, TdnnForward, "tdnnForward"));
});

}  // namespace
}  // namespace autospeech
