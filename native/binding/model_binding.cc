// JS class `Model`: builds a network from a spec, exposes its state_dict (reference names), strict
// tensor import/export, parameter counts, and an async forward (+ loss and gradients).
#include <napi.h>

#include <ATen/ATen.h>

#include <atomic>
#include <cmath>
#include <map>
#include <set>

#include "binding/checked_wrap.h"
#include "binding/guard.h"
#include "binding/state_dict_bridge.h"
#include "binding/model_wrap.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "binding/tensor_bridge.h"
#include "models/factory.h"
#include "models/model_search.h"
#include "nn/binary_conv.h"
#include "system/compute_thread.h"
#include "system/device.h"
#include "train/loss.h"

namespace autospeech {
namespace {

using models::ModelSpec;

std::set<ModelWrap*>& liveModels() {
  static std::set<ModelWrap*> live;
  return live;
}

std::vector<std::pair<std::string, int64_t>> parseGenes(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw ArgumentError(what + " must be an array of [op, index] pairs");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<std::pair<std::string, int64_t>> genes;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    std::string where = what + "[" + std::to_string(i) + "]";
    Napi::Value g = arr.Get(i);
    if (!g.IsArray() || g.As<Napi::Array>().Length() != 2) throw ArgumentError(where + " must be [op, index]");
    Napi::Array pair = g.As<Napi::Array>();
    if (!pair.Get(0u).IsString()) throw ArgumentError(where + "[0] must be an op name");
    Napi::Object holder = Napi::Object::New(v.Env());
    holder.Set("index", pair.Get(1u));
    genes.emplace_back(pair.Get(0u).As<Napi::String>().Utf8Value(), getInt(holder, "index", where));
  }
  return genes;
}

// Bounds far beyond any real speaker network, checked before anything is allocated: an absurd spec
// (LAYERS 2^25) must be an error, not minutes of construction or an out-of-memory kill. The rough
// weight count C^2 x layers x 16 (channels grow 4x through the reductions) is capped at 2^32.
void checkSpecSize(const ModelSpec& spec) {
  auto cap = [](const char* key, int64_t v, int64_t max) {
    if (v > max) throw ArgumentError("spec." + std::string(key) + " = " + std::to_string(v) + " is beyond this toolkit's limit " + std::to_string(max));
  };
  cap("C", spec.C, 4096);
  cap("layers", spec.layers, 4096);
  cap("numClasses", spec.numClasses, 10000000);
  cap("steps", spec.steps, 64);
  cap("multiplier", spec.multiplier, 64);
  cap("stemMultiplier", spec.stemMultiplier, 64);
  double weights = static_cast<double>(spec.C) * spec.C * spec.layers * 16 * std::max<int64_t>(1, spec.multiplier) / 4 +
                   static_cast<double>(spec.C) * 16 * spec.numClasses;
  if (spec.kind == "tdnn") {
    cap("inFeats", spec.inFeats, 4096);
    cap("embedDim", spec.embedDim, 65536);
    cap("numBlocks", spec.numBlocks, 64);
    cap("catChannels", spec.catChannels, 65536);
    int64_t c = 0, k = 0;
    for (int64_t v : spec.tdnnChannels) c = std::max(c, v);
    for (int64_t v : spec.tdnnKernels) k = std::max(k, v);
    cap("channels[i]", c, 65536);
    cap("kernels[i]", k, 63);
    // blocks of c x c convs of kernel k (and the Res2 ones), catconv, pooling, head
    weights = static_cast<double>(c) * c * std::max<int64_t>(1, k) * 4 * (spec.numBlocks + 1) + static_cast<double>(spec.catChannels) * c * (spec.numBlocks + 1) +
              static_cast<double>(spec.catChannels) * (spec.catChannels + 4 * spec.embedDim) + static_cast<double>(spec.embedDim) * spec.numClasses;
  }
  if (weights > 4294967296.0)
    throw ArgumentError("spec: about " + std::to_string(static_cast<int64_t>(weights / 1e6)) + "M weights (C " + std::to_string(spec.C) + ", layers " +
                        std::to_string(spec.layers) + ", numClasses " + std::to_string(spec.numClasses) + ") is beyond this toolkit's limit of 4295M");
}

ModelSpec parseSpec(const Napi::Value& value) {
  Napi::Object o = asObject(value, "spec");
  ModelSpec spec;
  spec.kind = getString(o, "kind", "spec");
  spec.C = getIntOr(o, "C", spec.C, "spec");
  spec.layers = getIntOr(o, "layers", spec.layers, "spec");
  spec.numClasses = getIntOr(o, "numClasses", spec.numClasses, "spec");
  spec.depth = getIntOr(o, "depth", spec.depth, "spec");
  spec.steps = getIntOr(o, "steps", spec.steps, "spec");
  spec.multiplier = getIntOr(o, "multiplier", spec.multiplier, "spec");
  spec.stemMultiplier = getIntOr(o, "stemMultiplier", spec.stemMultiplier, "spec");
  spec.shiftedFactorizedReduce = getBoolOr(o, "shiftedFactorizedReduce", false, "spec");
  spec.mixing = getStringOr(o, "mixing", "gumbel", "spec");
  if (o.Has("primitives") && !o.Get("primitives").IsUndefined()) {
    Napi::Value p = o.Get("primitives");
    if (!p.IsArray()) throw ArgumentError("spec.primitives must be an array of op names");
    Napi::Array arr = p.As<Napi::Array>();
    if (arr.Length() == 0) throw ArgumentError("search network: the primitive list is empty");
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      if (!arr.Get(i).IsString()) throw ArgumentError("spec.primitives[" + std::to_string(i) + "] must be a string");
      spec.primitives.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
    }
  }
  if (spec.kind == "resnet") {
    spec.widthMult = getNumberOr(o, "widthMult", spec.widthMult, "spec");
    spec.activation = getStringOr(o, "activation", spec.activation, "spec");
    if (o.Has("binarize") && !o.Get("binarize").IsUndefined()) {
      Napi::Value b = o.Get("binarize");
      if (!b.IsArray()) throw ArgumentError("spec.binarize must be an array of layer groups ('stem', 'blocks', 'shortcuts')");
      Napi::Array arr = b.As<Napi::Array>();
      if (arr.Length() > 16) throw ArgumentError("spec.binarize has " + std::to_string(arr.Length()) + " entries; there are 3 groups");
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        if (!arr.Get(i).IsString()) throw ArgumentError("spec.binarize[" + std::to_string(i) + "] must be a string");
        spec.binarize.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
      }
    }
    spec.binaryScale = getStringOr(o, "binaryScale", spec.binaryScale, "spec");
    spec.binarySte = getStringOr(o, "binarySte", spec.binarySte, "spec");
    spec.binaryAlphaGrad = getBoolOr(o, "binaryAlphaGrad", spec.binaryAlphaGrad, "spec");
    spec.latentClip = getNumberOr(o, "latentClip", spec.latentClip, "spec");
    const double base = 64.0 * spec.widthMult;
    if (!(base >= 1 && base <= 4096 && base == std::floor(base)))
      throw ArgumentError("spec.widthMult " + std::to_string(spec.widthMult) + " must make 64 x widthMult a whole number of channels in [1, 4096]");
    // 8 base-wide classifier rows and the blocks' base^2 x 9 x ~ 100 weights
    const double weights = base * base * 9.0 * 100 + 8.0 * base * static_cast<double>(spec.numClasses);
    if (weights > 4294967296.0)
      throw ArgumentError("spec: about " + std::to_string(static_cast<int64_t>(weights / 1e6)) + "M weights (widthMult " + std::to_string(spec.widthMult) +
                          ", numClasses " + std::to_string(spec.numClasses) + ") is beyond this toolkit's limit of 4295M");
  }
  if (spec.kind == "tdnn") {
    spec.inFeats = getIntOr(o, "inFeats", spec.inFeats, "spec");
    spec.embedDim = getIntOr(o, "embedDim", spec.embedDim, "spec");
    spec.numBlocks = getIntOr(o, "numBlocks", spec.numBlocks, "spec");
    spec.catChannels = getIntOr(o, "catChannels", spec.catChannels, "spec");
    spec.standalone = getBoolOr(o, "standalone", false, "spec");
    spec.tdnnChannels = intListFromJs(o.Get("channels"), "spec.channels");
    spec.tdnnKernels = intListFromJs(o.Get("kernels"), "spec.kernels");
  }
  checkSpecSize(spec);
  if (o.Has("genotype") && !o.Get("genotype").IsUndefined() && !o.Get("genotype").IsNull()) {
    Napi::Object g = asObject(o.Get("genotype"), "spec.genotype");
    models::GenotypeSpec gs;
    gs.normal = parseGenes(g.Get("normal"), "spec.genotype.normal");
    gs.normalConcat = intListFromJs(g.Get("normalConcat"), "spec.genotype.normalConcat");
    gs.reduce = parseGenes(g.Get("reduce"), "spec.genotype.reduce");
    gs.reduceConcat = intListFromJs(g.Get("reduceConcat"), "spec.genotype.reduceConcat");
    spec.genotype = gs;
  }
  return spec;
}

// Runs one forward (and optionally loss + backward) off the main thread.
class ForwardWorker : public PromiseWorker {
 public:
  struct Request {
    at::Tensor input;   // borrowed from a JS array kept alive by `keepAlive`
    at::Tensor labels;  // optional
    std::vector<at::Tensor> gumbelNoise;
    bool train = false;
    bool grads = false;
    bool trace = false;
    double labelSmoothing = 0.1;
  };

  ForwardWorker(Napi::Env env, ModelWrap* owner, Napi::Object ownerObject, Request req, std::vector<Napi::Value> keep);
  ~ForwardWorker() override;

 protected:
  void Run() override;
  Napi::Value Resolve(Napi::Env env) override;

 private:
  ModelWrap* owner_;
  Napi::ObjectReference ownerRef_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
  Request req_;
  at::Tensor embedding_, logits_, loss_;
  std::vector<std::pair<std::string, at::Tensor>> grads_;
  std::vector<at::Tensor> mixing_;
  models::Trace trace_;
};

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "Model",
                     {checkedMethod<ModelWrap, &ModelWrap::StateDict>("stateDict"),
                      checkedMethod<ModelWrap, &ModelWrap::GetTensor>("getTensor"),
                      checkedMethod<ModelWrap, &ModelWrap::SetTensor>("setTensor"),
                      checkedMethod<ModelWrap, &ModelWrap::ParamCounts>("paramCounts"),
                      checkedMethod<ModelWrap, &ModelWrap::NonFiniteTensors>("nonFiniteTensors"),
                      checkedMethod<ModelWrap, &ModelWrap::SetDropPathProb>("setDropPathProb"),
                      checkedMethod<ModelWrap, &ModelWrap::SetMixing>("setMixing"),
                      checkedMethod<ModelWrap, &ModelWrap::SetChannelsLast>("setChannelsLast"),
                      checkedMethod<ModelWrap, &ModelWrap::Forward>("forward"),
                      checkedMethod<ModelWrap, &ModelWrap::BinaryLayers>("binaryLayers"),
                      checkedGetter<ModelWrap, &ModelWrap::Kind>("kind")});
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  tagInstance<ModelWrap>(info);
  guard(info.Env(), [&] {
    if (info.Length() < 1) throw ArgumentError("new Model(spec): spec is required");
    ModelSpec spec = parseSpec(info[0]);
    device_ = c10::Device(c10::kCPU);
    if (info.Length() >= 2 && !info[1].IsUndefined()) {
      Napi::Object opts = asObject(info[1], "options");
      device_ = parseDevice(getStringOr(opts, "device", "cpu", "options"));
      if (opts.Has("seed") && !opts.Get("seed").IsUndefined())
        at::manual_seed(static_cast<uint64_t>(getInt(opts, "seed", "options")));
    }
    model_ = models::buildModel(spec);
    model_->to(device_);
    for (auto& e : model_->namedTensors()) index_[e.name] = e;
    liveModels().insert(this);
    return 0;
  });
}

ModelWrap::~ModelWrap() { liveModels().erase(this); }

ModelWrap* ModelWrap::From(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw ArgumentError(what + " must be a Model");
  napi_value raw = value;
  void* ptr = nullptr;
  if (napi_unwrap(value.Env(), raw, &ptr) != napi_ok || !liveModels().count(static_cast<ModelWrap*>(ptr)))
    throw ArgumentError(what + " must be a Model");
  return static_cast<ModelWrap*>(ptr);
}

void ModelWrap::checkIdle(const std::string& what) const {
  if (busy) throw ArgumentError(what + ": the model is busy with another native job; await it first");
}

void ModelWrap::acquire(const std::string& what) {
  if (busy.exchange(true)) throw ArgumentError(what + ": the model is busy with another native job; await it first");
}

const nn::NamedTensor& ModelWrap::lookup(const std::string& name) {
  auto it = index_.find(name);
  if (it == index_.end()) throw ArgumentError("no tensor named '" + name + "' in this model's state_dict");
  return it->second;
}

Napi::Value ModelWrap::StateDict(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return stateDictToJs(info.Env(), model_->namedTensors());
  });
}

Napi::Value ModelWrap::GetTensor(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) throw ArgumentError("getTensor(name): name must be a string");
    checkIdle("getTensor");
    return tensorToJsObject(info.Env(), lookup(info[0].As<Napi::String>().Utf8Value()).tensor->detach().clone());
  });
}

// setTensor(name, data, shape): strict: same shape (a 0-d tensor also accepts shape [1]) and dtype.
Napi::Value ModelWrap::SetTensor(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 3 || !info[0].IsString()) throw ArgumentError("setTensor(name, data, shape) needs 3 arguments");
    checkIdle("setTensor");
    std::string name = info[0].As<Napi::String>().Utf8Value();
    setNamedTensorFromJs(*lookup(name).tensor, name, info[1], info[2], "model");
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::ParamCounts(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    int64_t total = 0, trainable = 0, arch = 0;
    for (auto& p : model_->parameters()) {
      total += p.numel();
      if (p.requires_grad()) trainable += p.numel();
    }
    for (auto& a : model_->archParameters()) arch += a.numel();
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("total", static_cast<double>(total));
    out.Set("trainable", static_cast<double>(trainable));
    out.Set("alphas", static_cast<double>(arch));
    return out;
  });
}

// nonFiniteTensors() -> names of the floating-point state_dict tensors holding NaN or +-inf (a
// diverged run): checked before a checkpoint is written or chosen as the best.
Napi::Value ModelWrap::NonFiniteTensors(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    checkIdle("nonFiniteTensors");
    std::vector<std::string> bad;
    runOnComputeThread([&] {
      at::NoGradGuard noGrad;
      for (auto& e : model_->namedTensors())
        if (e.tensor->is_floating_point() && !at::isfinite(*e.tensor).all().item<bool>()) bad.push_back(e.name);
    });
    Napi::Array out = Napi::Array::New(info.Env(), bad.size());
    for (size_t i = 0; i < bad.size(); ++i) out.Set(static_cast<uint32_t>(i), bad[i]);
    return out;
  });
}

Napi::Value ModelWrap::SetDropPathProb(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) throw ArgumentError("setDropPathProb(p): p must be a number");
    double p = info[0].As<Napi::Number>().DoubleValue();
    if (!(p >= 0.0 && p < 1.0)) throw ArgumentError("setDropPathProb(p): p must be in [0, 1)");
    checkIdle("setDropPathProb");
    model_->setDropPathProb(p);
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::SetChannelsLast(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsBoolean()) throw ArgumentError("setChannelsLast(on): on must be a boolean");
    checkIdle("setChannelsLast");
    bool on = info[0].As<Napi::Boolean>().Value();
    runOnComputeThread([&] { model_->setChannelsLast(on); });
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::SetMixing(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto* search = dynamic_cast<models::SearchNetwork*>(model_.get());
    if (!search) throw ArgumentError("setMixing: only the search supernet has mixing weights");
    if (info.Length() < 1 || !info[0].IsString()) throw ArgumentError("setMixing(mode): mode must be 'gumbel' or 'softmax'");
    std::string mode = info[0].As<Napi::String>().Utf8Value();
    if (mode == "gumbel") search->setMixing(models::Mixing::Gumbel);
    else if (mode == "softmax") search->setMixing(models::Mixing::Softmax);
    else throw ArgumentError("setMixing(mode): mode must be 'gumbel' or 'softmax', got '" + mode + "'");
    return info.Env().Undefined();
  });
}

// binaryLayers({ materialize }?) -> [{ name, key, shape, scale, ste, alphaGrad, latentClip, alpha, clipped, wb? }]
// for every binary-weight conv in state_dict order: alpha exactly as the forward computes it (null
// for scale 'none'), the count of latent weights with |W| > 1 (outside the STE's clip), and with
// materialize the W_b = alpha * s the forward convolves with.
Napi::Value ModelWrap::BinaryLayers(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    bool materialize = false;
    if (info.Length() >= 1 && !info[0].IsUndefined()) materialize = getBoolOr(asObject(info[0], "options"), "materialize", false, "options");
    checkIdle("binaryLayers");
    struct Row {
      std::string name;
      nn::BinaryConv2d* conv;
      at::Tensor alpha, wb;
      int64_t clipped = 0;
    };
    std::vector<Row> rows;
    for (auto& [name, conv] : nn::binaryConvs(*model_)) rows.push_back({name, conv});
    runOnComputeThread([&] {
      at::NoGradGuard noGrad;
      for (Row& r : rows) {
        const at::Tensor& w = r.conv->weight();
        if (materialize) r.wb = r.conv->binarizedWeight().contiguous().cpu();  // checks NaN first
        at::Tensor a = nn::binaryAlpha(w, r.conv->binaryOptions().scale);
        if (a.defined()) r.alpha = a.contiguous().cpu();
        r.clipped = w.abs().gt(1).sum().item<int64_t>();
      }
    });
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      const nn::BinaryConvOptions& b = r.conv->binaryOptions();
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", r.name);
      o.Set("key", r.name + ".weight");
      o.Set("shape", shapeToJs(env, r.conv->weight().sizes()));
      o.Set("scale", nn::binaryScaleName(b.scale));
      o.Set("ste", nn::binarySteName(b.ste));
      o.Set("alphaGrad", b.alphaGrad);
      o.Set("latentClip", b.latentClip);
      o.Set("alpha", r.alpha.defined() ? tensorToJsObject(env, r.alpha) : env.Null());
      o.Set("clipped", static_cast<double>(r.clipped));
      if (materialize) o.Set("wb", tensorToJsObject(env, r.wb));
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  });
}

Napi::Value ModelWrap::Kind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), model_->kind()); }

// forward(input, shape, options) -> Promise<{embedding?, logits, loss?, grads?, mixingWeights?, trace?}>
Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 2) throw ArgumentError("forward(input, shape, options?) needs input and shape");
    std::vector<int64_t> shape = shapeFromJs(info[1], "shape");
    if (shape.size() != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1)
      throw ArgumentError("forward: shape must be [batch, frames, bins] with every size >= 1");
    ForwardWorker::Request req;
    std::vector<Napi::Value> keep{info[0]};
    req.input = borrowFloat32(info[0], shape, "input", /*requireFinite=*/true);
    if (info.Length() >= 3 && !info[2].IsUndefined()) {
      Napi::Object o = asObject(info[2], "options");
      std::string mode = getStringOr(o, "mode", "eval", "options");
      if (mode != "eval" && mode != "train") throw ArgumentError("options.mode must be 'eval' or 'train', got '" + mode + "'");
      req.train = mode == "train";
      req.trace = getBoolOr(o, "trace", false, "options");
      req.labelSmoothing = getNumberOr(o, "labelSmoothing", 0.1, "options");
      if (req.labelSmoothing < 0 || req.labelSmoothing >= 1) throw ArgumentError("options.labelSmoothing must be in [0, 1)");
      Napi::Value labels = o.Get("labels");
      if (!labels.IsUndefined() && !labels.IsNull()) {
        if (!labels.IsTypedArray()) throw ArgumentError("options.labels must be an Int32Array or BigInt64Array");
        req.labels = borrowTypedArray(labels, {shape[0]}, "options.labels");
        if (req.labels.scalar_type() != at::kLong && req.labels.scalar_type() != at::kInt)
          throw ArgumentError("options.labels must be an Int32Array or BigInt64Array");
        keep.push_back(labels);
      }
      req.grads = getBoolOr(o, "grads", false, "options");
      if (req.grads && !req.labels.defined()) throw ArgumentError("options.grads needs options.labels");
      Napi::Value noise = o.Get("gumbelNoise");
      if (!noise.IsUndefined() && !noise.IsNull()) {
        auto* search = dynamic_cast<models::SearchNetwork*>(&model());
        if (!search) throw ArgumentError("options.gumbelNoise: only the search supernet samples Gumbel noise");
        if (!noise.IsArray()) throw ArgumentError("options.gumbelNoise must be an array of Float32Array (one per cell)");
        Napi::Array arr = noise.As<Napi::Array>();
        // Exactly one per cell: with fewer, the remaining cells would silently draw fresh noise.
        if (arr.Length() != search->cellCount())
          throw ArgumentError("options.gumbelNoise has " + std::to_string(arr.Length()) + " entries but the network has " +
                              std::to_string(search->cellCount()) + " cells (one recorded noise tensor per cell is needed)");
        int64_t rows = search->archParameters()[0].size(0), cols = search->archParameters()[0].size(1);
        for (uint32_t i = 0; i < arr.Length(); ++i) {
          req.gumbelNoise.push_back(
              borrowFloat32(arr.Get(i), {rows, cols}, "options.gumbelNoise[" + std::to_string(i) + "]", true).clone());
        }
      }
    }
    acquire("forward");
    auto* worker = new ForwardWorker(env, this, Value(), std::move(req), keep);
    worker->Queue();
    return worker->Promise();
  });
}


namespace {

ForwardWorker::ForwardWorker(Napi::Env env, ModelWrap* owner, Napi::Object ownerObject, Request req,
                             std::vector<Napi::Value> keep)
    : PromiseWorker(env), owner_(owner), req_(std::move(req)) {
  ownerRef_ = Napi::Persistent(ownerObject);
  for (auto& v : keep) keep_.push_back(Napi::Persistent(v));
}

ForwardWorker::~ForwardWorker() { owner_->busy = false; }

void ForwardWorker::Run() {
  models::SpeakerModel& model = owner_->model();
  at::Tensor x = req_.input.to(owner_->device());
  auto* search = dynamic_cast<models::SearchNetwork*>(&model);
  if (search && !req_.gumbelNoise.empty()) search->queueGumbelNoise(req_.gumbelNoise);
  struct NoiseCleanup {  // never leave recorded noise queued for a later call
    models::SearchNetwork* s;
    ~NoiseCleanup() {
      if (s) s->clearGumbelNoise();
    }
  } cleanup{search};
  model.train(req_.train);
  models::Trace* trace = req_.trace ? &trace_ : nullptr;
  if (!req_.train) {
    at::NoGradGuard noGrad;
    embedding_ = model.embed(x, trace);
    logits_ = model.classify(embedding_);
  } else {
    at::Tensor v = model.embed(x, trace);
    logits_ = model.classify(v);
    if (req_.labels.defined()) {
      loss_ = train::labelSmoothedCrossEntropy(logits_, req_.labels, req_.labelSmoothing);
      if (req_.grads) {
        for (auto& e : model.namedTensors())
          if (e.kind == nn::TensorKind::Parameter && e.tensor->grad().defined()) e.tensor->mutable_grad() = at::Tensor();
        loss_.backward();
        for (auto& e : model.namedTensors()) {
          if (e.kind != nn::TensorKind::Parameter) continue;
          at::Tensor g = e.tensor->grad();
          grads_.emplace_back(e.name, g.defined() ? g.detach().clone() : at::zeros_like(*e.tensor).detach());
          e.tensor->mutable_grad() = at::Tensor();
        }
      }
    }
  }
  if (search) {
    if (search->pendingGumbelNoise() != 0) {
      size_t left = search->pendingGumbelNoise();
      throw ArgumentError("options.gumbelNoise has " + std::to_string(left) + " more entries than the network has cells");
    }
    for (auto& w : search->lastMixingWeights()) mixing_.push_back(w.detach().clone());
  }
}

Napi::Value ForwardWorker::Resolve(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  if (embedding_.defined()) out.Set("embedding", tensorToJsObject(env, embedding_));
  out.Set("logits", tensorToJsObject(env, logits_.detach()));
  if (loss_.defined()) out.Set("loss", Napi::Number::New(env, loss_.item<double>()));
  if (!grads_.empty()) {
    Napi::Object g = Napi::Object::New(env);
    for (auto& [name, t] : grads_) g.Set(name, tensorToJsObject(env, t));
    out.Set("grads", g);
  }
  if (!mixing_.empty()) {
    Napi::Array arr = Napi::Array::New(env, mixing_.size());
    for (size_t i = 0; i < mixing_.size(); ++i) arr.Set(i, tensorToJsObject(env, mixing_[i]));
    out.Set("mixingWeights", arr);
  }
  if (!trace_.empty()) {
    Napi::Object t = Napi::Object::New(env);
    for (auto& [name, v] : trace_) t.Set(name, tensorToJsObject(env, v.detach()));
    out.Set("trace", t);
  }
  return out;
}

Registrar reg("model", [](Napi::Env env, Napi::Object exports) {
  exports.Set("Model", ModelWrap::Define(env));
  exports.Set("operationNames", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto& names = ops::operationNames();
      Napi::Array arr = Napi::Array::New(info.Env(), names.size());
      for (size_t i = 0; i < names.size(); ++i) arr.Set(i, names[i]);
      return arr;
    });
  }, "operationNames"));
});

}  // namespace
}  // namespace autospeech
