// Process-wide settings and diagnostics: threads, seeding, device availability, build facts.
#include <napi.h>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/Functions.h>
#include <ATen/ops/softmax.h>

#include <omp.h>

#include "binding/guard.h"
#include "nn/batch_norm.h"
#include "nn/batch_norm_backward.h"
#include "nn/depthwise_conv.h"
#include "nn/native_kernels.h"
#include "nn/pool_kernels.h"
#include "system/compute_thread.h"
#include "system/malloc_tuning.h"
#include "system/op_profiler.h"
#include "binding/registry.h"
#include "binding/tensor_bridge.h"
#include "system/device.h"
#include "system/huge_page_allocator.h"
#include "system/threads.h"
#include "train/fused_adam.h"

namespace autospeech {
namespace {

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) throw ArgumentError("setThreads(n): n must be a positive integer");
    double n = info[0].As<Napi::Number>().DoubleValue();
    if (!(n >= 1 && n <= 1024) || n != static_cast<int>(n))
      throw ArgumentError("setThreads(n): n must be an integer in [1, 1024], got " + std::to_string(n));
    setComputeThreads(static_cast<int>(n));
    return info.Env().Undefined();
  });
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), computeThreads());
  });
}

// Thread settings as the compute thread sees them (diagnostics).
Napi::Value ComputeThreadInfo(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    int aten = 0, omp = 0;
    bool inParallel = true;
    runOnComputeThread([&] {
      aten = at::get_num_threads();
      omp = omp_get_max_threads();
      inParallel = at::in_parallel_region();
    });
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("aten", aten);
    o.Set("omp", omp);
    o.Set("inParallelRegion", inParallel);
    o.Set("mainThreadOmp", omp_get_max_threads());
    return o;
  });
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) throw ArgumentError("manualSeed(seed): seed must be a non-negative integer");
    double s = info[0].As<Napi::Number>().DoubleValue();
    if (!(s >= 0 && s <= 9007199254740991.0) || s != static_cast<double>(static_cast<uint64_t>(s)))
      throw ArgumentError("manualSeed(seed): seed must be a non-negative integer");
    at::manual_seed(static_cast<uint64_t>(s));
    return info.Env().Undefined();
  });
}

// Row-wise float32 softmax with libtorch's own kernel (genotype derivation must see exactly the
// probabilities the reference saw, ties included).
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 2) throw ArgumentError("softmax(data, shape) needs 2 arguments");
    std::vector<int64_t> shape = shapeFromJs(info[1], "shape");
    if (shape.size() != 2) throw ArgumentError("softmax: shape must be [rows, cols]");
    at::Tensor x = borrowFloat32(info[0], shape, "data");
    return tensorToJs(info.Env(), at::softmax(x, -1));
  });
}

Napi::Value SetHugePages(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsBoolean()) throw ArgumentError("setHugePages(on): on must be a boolean");
    useHugePageAllocator(info[0].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  });
}

// setDeterminism({ deterministic, cudnnBenchmark, cudnnDeterministic, cudnnEnabled }): the reference's
// CUDNN.* keys and our DETERMINISTIC key (deterministic algorithms only; errors on ops without one).
Napi::Value SetDeterminism(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Object o = asObject(info.Length() ? info[0] : info.Env().Undefined(), "options");
    auto& ctx = at::globalContext();
    ctx.setDeterministicAlgorithms(getBoolOr(o, "deterministic", false, "options"), /*warn_only=*/false);
    ctx.setBenchmarkCuDNN(getBoolOr(o, "cudnnBenchmark", true, "options"));
    ctx.setDeterministicCuDNN(getBoolOr(o, "cudnnDeterministic", false, "options"));
    ctx.setUserEnabledCuDNN(getBoolOr(o, "cudnnEnabled", true, "options"));
    return info.Env().Undefined();
  });
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("torchVersion", AUTOSPEECH_TORCH_VERSION);
    out.Set("threads", computeThreads());
    out.Set("interopThreads", at::get_num_interop_threads());
    out.Set("parallelInfo", at::get_parallel_info());
    out.Set("config", at::show_config());
    out.Set("cudaAvailable", cudaAvailable());
    out.Set("cudaDeviceCount", static_cast<double>(cudaDeviceCount()));
    out.Set("cudnnAvailable", at::globalContext().hasCuDNN());
    out.Set("mkldnnAvailable", at::globalContext().hasMKLDNN());
    out.Set("openmp", at::globalContext().hasOpenMP());
    out.Set("hugePageAllocator", hugePageAllocatorActive());
    out.Set("mallocTuning", applyMallocTuning());
    out.Set("nativeKernels", nn::nativeKernelsEnabled());
    out.Set("nativeDepthwise", nn::nativeDepthwiseStatus());
    out.Set("nativeBatchNorm", nn::nativeBatchNormStatus());
    out.Set("nativeBatchNormBackward", nn::nativeBatchNormBackwardStatus());
    out.Set("fusedAdam", train::fusedAdamStatus());
    out.Set("cxx11Abi", static_cast<bool>(_GLIBCXX_USE_CXX11_ABI));
#ifdef AUTOSPEECH_WITH_CUDA
    out.Set("linkedTorchCuda", true);
#else
    out.Set("linkedTorchCuda", false);
#endif
    return out;
  });
}

// opProfileStart({ shapes? }): per-operator profiling of native work (libtorch's profiler) until
// opProfileStop(); with shapes: true, grouped by input shapes too.
Napi::Value OpProfileStart(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    bool byShapes = false;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      if (!info[0].IsObject()) throw ArgumentError("opProfileStart(options): options must be an object");
      Napi::Value v = info[0].As<Napi::Object>().Get("shapes");
      if (!v.IsUndefined() && !v.IsBoolean()) throw ArgumentError("opProfileStart: shapes must be a boolean");
      byShapes = v.IsBoolean() && v.As<Napi::Boolean>().Value();
    }
    startOpProfile(byShapes);
    return info.Env().Undefined();
  });
}

// opProfileStop() -> [{ name, shapes?, calls, selfMs, totalMs }] sorted by self time
Napi::Value OpProfileStop(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    std::vector<OpStat> stats = stopOpProfile();
    Napi::Array out = Napi::Array::New(env, stats.size());
    for (size_t i = 0; i < stats.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", stats[i].name);
      if (!stats[i].shapes.empty()) o.Set("shapes", stats[i].shapes);
      o.Set("calls", static_cast<double>(stats[i].calls));
      o.Set("selfMs", stats[i].selfUs / 1000.0);
      o.Set("totalMs", stats[i].totalUs / 1000.0);
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  });
}

// pool2d(data, [N, C, H, W], { kind: 'max'|'avg', kernel, stride, padding, countIncludePad, impl: 'native'|'aten',
// gradOutput }): the pooling kernels next to ATen's, so tests can compare them bit for bit. With
// gradOutput (max only), also the input gradient through autograd: { output, gradInput }.
Napi::Value Pool2d(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 3) throw ArgumentError("pool2d(data, shape, options) needs 3 arguments");
    std::vector<int64_t> shape = shapeFromJs(info[1], "shape");
    if (shape.size() != 4) throw ArgumentError("pool2d: shape must be [N, C, H, W]");
    at::Tensor x = borrowFloat32(info[0], shape, "data");
    Napi::Object o = asObject(info[2], "options");
    const std::string kind = getString(o, "kind", "options"), impl = getStringOr(o, "impl", "native", "options");
    const int64_t k = getInt(o, "kernel", "options"), st = getIntOr(o, "stride", k, "options"), pad = getIntOr(o, "padding", 0, "options");
    const bool cip = getBoolOr(o, "countIncludePad", true, "options");
    if (kind != "max" && kind != "avg") throw ArgumentError("pool2d: kind must be 'max' or 'avg'");
    if (impl != "native" && impl != "aten") throw ArgumentError("pool2d: impl must be 'native' or 'aten'");
    // The geometry both implementations accept (ATen's own checks), validated here once.
    if (k < 1 || st < 1 || pad < 0 || 2 * pad > k)
      throw ArgumentError("pool2d: need kernel >= 1, stride >= 1 and 0 <= padding <= kernel / 2, got kernel " + std::to_string(k) +
                          ", stride " + std::to_string(st) + ", padding " + std::to_string(pad));
    if (shape[2] + 2 * pad < k || shape[3] + 2 * pad < k)
      throw ArgumentError("pool2d: kernel " + std::to_string(k) + " is larger than the padded input " + std::to_string(shape[2] + 2 * pad) +
                          " x " + std::to_string(shape[3] + 2 * pad));
    if (o.Has("gradOutput")) {
      if (kind != "max") throw ArgumentError("pool2d: gradOutput is for kind 'max'");
      // Borrowed here, on the JS thread: N-API must never be called from the compute thread.
      const std::vector<int64_t> ys{shape[0], shape[1], (shape[2] + 2 * pad - k) / st + 1, (shape[3] + 2 * pad - k) / st + 1};
      const at::Tensor g = borrowFloat32(o.Get("gradOutput"), ys, "options.gradOutput").clone();
      at::Tensor y, gi;
      runOnComputeThread([&] {
        at::Tensor xg = x.clone().requires_grad_(true);
        y = impl == "aten" ? at::max_pool2d(xg, {k, k}, {st, st}, {pad, pad}) : nn::maxPool2dTrain(xg, k, st, pad);
        at::NoGradGuard noGrad;
        TORCH_CHECK(y.sizes() == at::IntArrayRef(ys), "pool2d: output ", y.sizes(), " differs from the expected ", at::IntArrayRef(ys));
        y.backward(g);
        gi = xg.grad();
        y = y.detach();
      });
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("output", tensorToJsObject(info.Env(), y));
      out.Set("gradInput", tensorToJsObject(info.Env(), gi));
      return out;
    }
    at::Tensor y;
    runOnComputeThread([&] {
      at::NoGradGuard noGrad;
      if (impl == "aten")
        y = kind == "max" ? at::max_pool2d(x, {k, k}, {st, st}, {pad, pad}) : at::avg_pool2d(x, {k, k}, {st, st}, {pad, pad}, false, cip);
      else
        y = kind == "max" ? nn::maxPool2dNoGrad(x, k, st, pad) : nn::avgPool2dNoGrad(x, k, st, pad, cip);
    });
    return tensorToJsObject(info.Env(), y);
  });
}

// depthwiseConv(x, xShape, w, wShape, dy, dyShape, { stride, padding, dilation, impl: 'native'|'aten', channelsLast, reluInput }):
// the output and both gradients of a depthwise convolution from the native kernels (ATen's where
// none applies) or from ATen, so tests can compare them bit for bit; channelsLast runs it on NHWC
// tensors (results returned NCHW). Pairs are [h, w].
Napi::Value DepthwiseConv(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 7) throw ArgumentError("depthwiseConv(x, xShape, w, wShape, dy, dyShape, options) needs 7 arguments");
    at::Tensor x = borrowFloat32(info[0], shapeFromJs(info[1], "xShape"), "x");
    at::Tensor w = borrowFloat32(info[2], shapeFromJs(info[3], "wShape"), "w");
    at::Tensor dy = borrowFloat32(info[4], shapeFromJs(info[5], "dyShape"), "dy");
    if (x.dim() != 4 || w.dim() != 4 || dy.dim() != 4) throw ArgumentError("depthwiseConv: x, w and dy must be 4-D");
    Napi::Object o = asObject(info[6], "options");
    auto pairOf = [&](const char* key, int64_t dflt) -> nn::Pair {
      if (!o.Has(key)) return {dflt, dflt};
      std::vector<int64_t> v = shapeFromJs(o.Get(key), std::string("options.") + key);
      if (v.size() != 2) throw ArgumentError(std::string("depthwiseConv: options.") + key + " must be [h, w]");
      return {v[0], v[1]};
    };
    const nn::Conv2dOptions co{x.size(1), x.size(1), {w.size(2), w.size(3)}, pairOf("stride", 1), pairOf("padding", 0),
                               pairOf("dilation", 1), x.size(1)};
    const std::string impl = getStringOr(o, "impl", "native", "options");
    if (impl != "native" && impl != "aten") throw ArgumentError("depthwiseConv: impl must be 'native' or 'aten'");
    const bool channelsLast = getBoolOr(o, "channelsLast", false, "options");
    const bool reluInput = getBoolOr(o, "reluInput", false, "options");
    nn::DepthwiseResult r;
    runOnComputeThread([&] {
      at::NoGradGuard noGrad;
      if (channelsLast) {
        x = x.contiguous(at::MemoryFormat::ChannelsLast);
        dy = dy.contiguous(at::MemoryFormat::ChannelsLast);
      }
      r = impl == "native" ? nn::depthwiseNative(x, w, dy, co, reluInput) : nn::depthwiseAten(x, w, dy, co, reluInput);
    });
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("y", tensorToJsObject(info.Env(), r.y.contiguous()));
    out.Set("dx", tensorToJsObject(info.Env(), r.dx.contiguous()));
    out.Set("dw", tensorToJsObject(info.Env(), r.dw.contiguous()));
    return out;
  });
}

// batchNormBackward(x, [N, C, H, W], dy, dyShape, { impl: 'native'|'aten', weight, channelOffset, mask }):
// training-mode batch-norm backward on ATen's forward statistics of x, next to ATen's, so tests can
// compare them bit for bit. dy may have more channels than x ([N, C', H, W]): its slice
// [channelOffset, channelOffset + C) is the gradient (as a concat's slice reaches a batch norm).
// -> { dx, dw, db, path } (path: the kernel that ran, 'contiguous' | 'strided' | 'aten').
Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 5) throw ArgumentError("batchNormBackward(x, xShape, dy, dyShape, options) needs 5 arguments");
    at::Tensor x = borrowFloat32(info[0], shapeFromJs(info[1], "xShape"), "x");
    at::Tensor dy = borrowFloat32(info[2], shapeFromJs(info[3], "dyShape"), "dy");
    if (x.dim() != 4 || dy.dim() != 4) throw ArgumentError("batchNormBackward: x and dy must be 4-D");
    Napi::Object o = asObject(info[4], "options");
    const std::string impl = getStringOr(o, "impl", "native", "options");
    if (impl != "native" && impl != "aten") throw ArgumentError("batchNormBackward: impl must be 'native' or 'aten'");
    const int64_t C = x.size(1);
    const int64_t offset = static_cast<int64_t>(getNumberOr(o, "channelOffset", 0, "options"));
    if (dy.size(0) != x.size(0) || dy.size(2) != x.size(2) || dy.size(3) != x.size(3) || offset < 0 || offset + C > dy.size(1))
      throw ArgumentError("batchNormBackward: dy must be [N, C' >= channelOffset + C, H, W] for x [N, C, H, W]");
    at::Tensor weight;
    if (o.Has("weight") && !o.Get("weight").IsUndefined()) {
      weight = borrowFloat32(o.Get("weight"), {C}, "options.weight");
    }
    std::array<bool, 3> mask{true, weight.defined(), weight.defined()};
    if (o.Has("mask")) {
      Napi::Value m = o.Get("mask");
      if (!m.IsArray() || m.As<Napi::Array>().Length() != 3) throw ArgumentError("batchNormBackward: options.mask must be 3 booleans");
      for (uint32_t i = 0; i < 3; ++i) mask[i] = m.As<Napi::Array>().Get(i).ToBoolean().Value();
    }
    at::Tensor dx, dw, db;
    std::string path;
    runOnComputeThread([&] {
      at::NoGradGuard noGrad;
      at::Tensor rm = at::zeros({C}), rv = at::ones({C});
      auto fwd = at::native_batch_norm(x, weight, weight.defined() ? at::zeros({C}) : at::Tensor(), rm, rv, true, 0.1, 1e-5);
      const at::Tensor grad = dy.narrow(1, offset, C);
      const at::Tensor &mean = std::get<1>(fwd), &invstd = std::get<2>(fwd);
      path = nn::batchNormBackwardPath(grad, x, weight, mean, invstd);
      std::optional<std::tuple<at::Tensor, at::Tensor, at::Tensor>> r;
      if (impl == "native") r = nn::batchNormBackwardNative(grad, x, weight, mean, invstd, mask);
      if (!r) {
        if (impl == "native") path = "aten";
        r = at::native_batch_norm_backward(grad, x, weight, rm, rv, mean, invstd, true, 1e-5, mask);
      }
      std::tie(dx, dw, db) = *r;
    });
    Napi::Object out = Napi::Object::New(info.Env());
    auto set = [&](const char* key, const at::Tensor& t) {
      out.Set(key, t.defined() ? tensorToJsObject(info.Env(), t.contiguous()) : info.Env().Null());
    };
    set("dx", dx);
    set("dw", dw);
    set("db", db);
    out.Set("path", impl == "aten" ? std::string("aten") : path);
    return out;
  });
}

// setNativeKernels(on): the exact native training kernels (nn/native_kernels.h) on or off.
Napi::Value SetNativeKernels(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsBoolean()) throw ArgumentError("setNativeKernels(on): on must be a boolean");
    nn::setNativeKernels(info[0].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  });
}

// nativeKernelChecks(): runs the exact native kernels' self-checks now and reports
// { enabled, depthwise, batchNorm, batchNormBackward, adam } (what `autospeech doctor` shows).
Napi::Value NativeKernelChecks(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    std::string depthwise, batchNorm, batchNormBackward, adam;
    runOnComputeThread([&] {
      depthwise = nn::verifyNativeDepthwise();
      batchNorm = nn::verifyNativeBatchNorm();
      batchNormBackward = nn::verifyNativeBatchNormBackward();
      adam = train::verifyFusedAdam();
    });
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("enabled", nn::nativeKernelsEnabled());
    out.Set("depthwise", depthwise);
    out.Set("batchNorm", batchNorm);
    out.Set("batchNormBackward", batchNormBackward);
    out.Set("adam", adam);
    return out;
  });
}

Registrar reg("system", [](Napi::Env env, Napi::Object exports) {
  applyMallocTuning();
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads, "getThreads"));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed, "manualSeed"));
  exports.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
  exports.Set("setHugePages", Napi::Function::New(env, SetHugePages, "setHugePages"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setDeterminism", Napi::Function::New(env, SetDeterminism, "setDeterminism"));
  exports.Set("computeThreadInfo", Napi::Function::New(env, ComputeThreadInfo, "computeThreadInfo"));
  exports.Set("depthwiseConv", Napi::Function::New(env, DepthwiseConv, "depthwiseConv"));
  exports.Set("batchNormBackward", Napi::Function::New(env, BatchNormBackward, "batchNormBackward"));
  exports.Set("nativeKernelChecks", Napi::Function::New(env, NativeKernelChecks, "nativeKernelChecks"));
  exports.Set("setNativeKernels", Napi::Function::New(env, SetNativeKernels, "setNativeKernels"));
  exports.Set("pool2d", Napi::Function::New(env, Pool2d, "pool2d"));
  exports.Set("opProfileStart", Napi::Function::New(env, OpProfileStart, "opProfileStart"));
  exports.Set("opProfileStop", Napi::Function::New(env, OpProfileStop, "opProfileStop"));
});

}  // namespace
}  // namespace autospeech
