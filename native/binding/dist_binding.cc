// Data-parallel process group exports (native/dist): distInit / distInfo / distBackends /
// distDestroy, and the collectives the JS side needs around training (broadcast of the model
// from rank 0, of small byte strings such as the resolved run directory, all-gather of
// evaluation embeddings, all-reduce of figures, barrier). Every collective runs on the compute
// thread in call order, so the ranks' collectives line up with their training steps; none blocks
// the event loop.
#include <napi.h>

#include <ATen/ATen.h>

#include <cmath>
#include <functional>

#include "binding/guard.h"
#include "binding/model_wrap.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "binding/tensor_bridge.h"
#include "dist/process_group.h"
#include "nn/module.h"

namespace autospeech {
namespace {

class LambdaWorker : public PromiseWorker {
 public:
  using Body = std::function<void()>;
  using Result = std::function<Napi::Value(Napi::Env)>;
  LambdaWorker(Napi::Env env, Body body, Result result, std::vector<Napi::Value> keep = {})
      : PromiseWorker(env), body_(std::move(body)), result_(std::move(result)) {
    for (auto& v : keep) keep_.push_back(Napi::Persistent(v));
  }

 protected:
  void Run() override { body_(); }
  Napi::Value Resolve(Napi::Env env) override { return result_ ? result_(env) : env.Undefined(); }

 private:
  Body body_;
  Result result_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
};

Napi::Promise queue(Napi::Env env, LambdaWorker::Body body, LambdaWorker::Result result, std::vector<Napi::Value> keep = {}) {
  auto* w = new LambdaWorker(env, std::move(body), std::move(result), std::move(keep));
  w->Queue();
  return w->Promise();
}

Napi::Object infoToJs(Napi::Env env, const dist::Info& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("initialized", i.initialized);
  o.Set("rank", i.rank);
  o.Set("worldSize", i.worldSize);
  o.Set("backend", i.initialized ? Napi::Value(Napi::String::New(env, i.backend)) : env.Null());
  return o;
}

void requireGroup(const char* what) {
  if (!dist::info().initialized) throw ArgumentError(std::string(what) + ": the process group is not initialised (distInit first)");
}

Napi::Value DistBackends(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto names = dist::compiledBackends();
    Napi::Array a = Napi::Array::New(info.Env(), names.size());
    for (size_t i = 0; i < names.size(); ++i) a.Set(static_cast<uint32_t>(i), names[i]);
    return a;
  });
}

// distInit({ backend?, device?, rank, worldSize, masterAddr, masterPort, timeoutSeconds?, agentStore?, storePrefix? }) -> Promise<info>
Napi::Value DistInit(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Object o = asObject(info.Length() ? info[0] : info.Env().Undefined(), "distInit options");
    dist::InitOptions opts;
    const std::string what = "distInit options";
    opts.backend = getStringOr(o, "backend", opts.backend, what);
    opts.device = getStringOr(o, "device", opts.device, what);
    const int64_t rank = getInt(o, "rank", what), world = getInt(o, "worldSize", what);
    if (world < 1 || world > 65536) throw ArgumentError("distInit: worldSize must be in 1..65536");
    if (rank < 0 || rank >= world) throw ArgumentError("distInit: rank must be in [0, worldSize)");
    opts.rank = static_cast<int>(rank);
    opts.worldSize = static_cast<int>(world);
    opts.masterAddr = getString(o, "masterAddr", what);
    if (opts.masterAddr.empty()) throw ArgumentError("distInit: masterAddr must not be empty");
    const int64_t port = getInt(o, "masterPort", what);
    if (port < 1 || port > 65535) throw ArgumentError("distInit: masterPort must be in 1..65535");
    opts.masterPort = static_cast<int>(port);
    opts.timeoutSeconds = getNumberOr(o, "timeoutSeconds", opts.timeoutSeconds, what);
    opts.agentStore = getBoolOr(o, "agentStore", false, what);
    opts.storePrefix = getStringOr(o, "storePrefix", "", what);
    if (!(opts.timeoutSeconds > 0) || !std::isfinite(opts.timeoutSeconds) || opts.timeoutSeconds > 1e7)
      throw ArgumentError("distInit: timeoutSeconds must be a positive number of seconds");
    // Unknown backends and ones this build lacks are refused here, before any rendezvous.
    try {
      dist::resolveBackend(opts.backend, opts.device);
    } catch (const std::exception& e) {
      throw ArgumentError(e.what());
    }
    if (dist::info().initialized) throw ArgumentError("distInit: the process group is already initialised");
    return queue(info.Env(), [opts] { dist::init(opts); }, [](Napi::Env env) -> Napi::Value { return infoToJs(env, dist::info()); });
  });
}

Napi::Value DistInfo(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return infoToJs(info.Env(), dist::info()); });
}

Napi::Value DistDestroy(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    runOnComputeThread([] { dist::destroy(); });
    return info.Env().Undefined();
  });
}

// distBroadcastBytes(data: Uint8Array | null, root = 0) -> Promise<Uint8Array>: the root's bytes on every rank.
Napi::Value DistBroadcastBytes(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    requireGroup("distBroadcastBytes");
    const dist::Info d = dist::info();
    int root = 0;
    if (info.Length() >= 2 && !info[1].IsUndefined()) {
      if (!info[1].IsNumber()) throw ArgumentError("distBroadcastBytes: root must be a rank number");
      double r = info[1].As<Napi::Number>().DoubleValue();
      if (!(r >= 0 && r < d.worldSize) || r != std::floor(r)) throw ArgumentError("distBroadcastBytes: root must be a rank in [0, worldSize)");
      root = static_cast<int>(r);
    }
    at::Tensor bytes;
    if (d.rank == root) {
      if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
        throw ArgumentError("distBroadcastBytes: the root rank must pass a Uint8Array");
      Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
      bytes = borrowTypedArray(a, {static_cast<int64_t>(a.ElementLength())}, "data").clone();
    } else if (info.Length() >= 1 && !info[0].IsNull() && !info[0].IsUndefined() &&
               !(info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array)) {
      throw ArgumentError("distBroadcastBytes: data must be a Uint8Array or null");
    }
    auto out = std::make_shared<at::Tensor>(bytes);
    return queue(
        info.Env(),
        [out, root, isRoot = d.rank == root] {
          at::Tensor len = at::full({1}, isRoot ? out->numel() : 0, at::kLong);
          dist::broadcastCoalesced({len}, root);
          if (!isRoot) *out = at::empty({len.item<int64_t>()}, at::kByte);
          if (out->numel() > 0) dist::broadcastCoalesced({*out}, root);
        },
        [out](Napi::Env env) -> Napi::Value { return tensorToJs(env, *out); });
  });
}

// distAllGather(data: Float32Array) -> Promise<Float32Array[]>: every rank's array (lengths may differ), in rank order.
Napi::Value DistAllGather(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    requireGroup("distAllGather");
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw ArgumentError("distAllGather(data): data must be a Float32Array");
    Napi::Float32Array a = info[0].As<Napi::Float32Array>();
    at::Tensor in = borrowFloat32(a, {static_cast<int64_t>(a.ElementLength())}, "data").clone();
    auto parts = std::make_shared<std::vector<at::Tensor>>();
    return queue(
        info.Env(),
        [in, parts] {
          std::vector<at::Tensor> lens = dist::allgather(at::full({1}, in.numel(), at::kLong));
          int64_t most = 0;
          for (auto& l : lens) most = std::max(most, l.item<int64_t>());
          at::Tensor padded = at::zeros({std::max<int64_t>(most, 1)}, at::kFloat);
          padded.narrow(0, 0, in.numel()).copy_(in);
          std::vector<at::Tensor> all = dist::allgather(padded);
          for (size_t r = 0; r < all.size(); ++r) parts->push_back(all[r].narrow(0, 0, lens[r].item<int64_t>()).clone());
        },
        [parts](Napi::Env env) -> Napi::Value {
          Napi::Array out = Napi::Array::New(env, parts->size());
          for (size_t r = 0; r < parts->size(); ++r) out.Set(static_cast<uint32_t>(r), tensorToJs(env, (*parts)[r]));
          return out;
        });
  });
}

// distAllReduce(data: Float64Array) -> Promise<Float64Array>: the element-wise sum over ranks.
Napi::Value DistAllReduce(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    requireGroup("distAllReduce");
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throw ArgumentError("distAllReduce(data): data must be a Float64Array");
    Napi::Float64Array a = info[0].As<Napi::Float64Array>();
    auto t = std::make_shared<at::Tensor>(borrowTypedArray(a, {static_cast<int64_t>(a.ElementLength())}, "data").clone());
    return queue(
        info.Env(), [t] { if (t->numel() > 0) dist::allreduceSum(*t); },
        [t](Napi::Env env) -> Napi::Value { return tensorToJs(env, *t); });
  });
}

Napi::Value DistBarrier(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    requireGroup("distBarrier");
    return queue(info.Env(), [] { dist::barrier(); }, nullptr);
  });
}

// distBroadcastModel(model, root = 0) -> Promise: every parameter and buffer of the model from the root.
Napi::Value DistBroadcastModel(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    requireGroup("distBroadcastModel");
    if (info.Length() < 1) throw ArgumentError("distBroadcastModel(model, root?): model is required");
    ModelWrap* m = ModelWrap::From(info[0], "distBroadcastModel: model");
    int root = 0;
    if (info.Length() >= 2 && !info[1].IsUndefined()) {
      if (!info[1].IsNumber()) throw ArgumentError("distBroadcastModel: root must be a rank number");
      double r = info[1].As<Napi::Number>().DoubleValue();
      if (!(r >= 0 && r < dist::info().worldSize) || r != std::floor(r))
        throw ArgumentError("distBroadcastModel: root must be a rank in [0, worldSize)");
      root = static_cast<int>(r);
    }
    m->acquire("distBroadcastModel");
    std::vector<at::Tensor> tensors;
    for (auto& e : m->model().namedTensors()) tensors.push_back(*e.tensor);
    return queue(
        info.Env(),
        [m, tensors, root] {
          struct Release {
            ModelWrap* m;
            ~Release() { m->busy = false; }
          } release{m};
          dist::broadcastCoalesced(tensors, root);
        },
        nullptr, {info[0]});
  });
}

Registrar reg("dist", [](Napi::Env env, Napi::Object exports) {
  exports.Set("distBackends", Napi::Function::New(env, DistBackends, "distBackends"));
  exports.Set("distInit", Napi::Function::New(env, DistInit, "distInit"));
  exports.Set("distInfo", Napi::Function::New(env, DistInfo, "distInfo"));
  exports.Set("distDestroy", Napi::Function::New(env, DistDestroy, "distDestroy"));
  exports.Set("distBroadcastBytes", Napi::Function::New(env, DistBroadcastBytes, "distBroadcastBytes"));
  exports.Set("distAllGather", Napi::Function::New(env, DistAllGather, "distAllGather"));
  exports.Set("distAllReduce", Napi::Function::New(env, DistAllReduce, "distAllReduce"));
  exports.Set("distBarrier", Napi::Function::New(env, DistBarrier, "distBarrier"));
  exports.Set("distBroadcastModel", Napi::Function::New(env, DistBroadcastModel, "distBroadcastModel"));
});

}  // namespace
}  // namespace autospeech
