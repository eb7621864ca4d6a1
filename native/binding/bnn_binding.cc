// Binary-weight convolution test entry: binaryConv(x, xShape, w, wShape, dy, options) runs one
// nn::BinaryConv2d-style forward (W_b = alpha * bin(w), conv2d) and its backward with gradOutput
// dy through the custom STE node (impl 'fused', the default, or 'aten' ops), in float32 or float64
// (all three arrays of one type), so the tests can check the forward, alpha and the closed-form
// backward (bnn.md §3.1, T1-T5).
#include <napi.h>

#include <ATen/ATen.h>

#include "binding/guard.h"
#include "binding/registry.h"
#include "binding/tensor_bridge.h"
#include "nn/binary_conv.h"
#include "system/compute_thread.h"

namespace autospeech {
namespace {

Napi::Value BinaryConv(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 6) throw ArgumentError("binaryConv(x, xShape, w, wShape, dy, options) needs 6 arguments");
    std::vector<int64_t> xs = shapeFromJs(info[1], "xShape"), ws = shapeFromJs(info[3], "wShape");
    if (xs.size() != 4 || ws.size() != 4) throw ArgumentError("binaryConv: xShape and wShape must be [N, C, H, W] and [C_out, C_in, kh, kw]");
    for (int64_t d : xs)
      if (d < 1) throw ArgumentError("binaryConv: every size of xShape must be >= 1");
    for (int64_t d : ws)
      if (d < 1) throw ArgumentError("binaryConv: every size of wShape must be >= 1");
    if (xs[1] != ws[1]) throw ArgumentError("binaryConv: x has " + std::to_string(xs[1]) + " channels, w expects " + std::to_string(ws[1]));
    Napi::Object o = asObject(info[5], "options");
    auto pairOf = [&](const char* key, int64_t dflt, int64_t min) -> nn::Pair {
      if (!o.Has(key) || o.Get(key).IsUndefined()) return {dflt, dflt};
      std::vector<int64_t> v = shapeFromJs(o.Get(key), std::string("options.") + key);
      if (v.size() != 2 || v[0] < min || v[1] < min || v[0] > 64 || v[1] > 64)
        throw ArgumentError(std::string("binaryConv: options.") + key + " must be [h, w] with values in [" + std::to_string(min) + ", 64]");
      return {v[0], v[1]};
    };
    const nn::Pair stride = pairOf("stride", 1, 1), padding = pairOf("padding", 0, 0);
    const int64_t hp = xs[2] + 2 * padding[0], wp = xs[3] + 2 * padding[1];
    if (hp < ws[2] || wp < ws[3])
      throw ArgumentError("binaryConv: kernel " + std::to_string(ws[2]) + "x" + std::to_string(ws[3]) + " is larger than the padded input " +
                          std::to_string(hp) + "x" + std::to_string(wp));
    const std::vector<int64_t> ys{xs[0], ws[0], (hp - ws[2]) / stride[0] + 1, (wp - ws[3]) / stride[1] + 1};
    nn::BinaryConvOptions b;
    b.scale = nn::parseBinaryScale(getStringOr(o, "scale", "channel", "options"));
    b.ste = nn::parseBinarySte(getStringOr(o, "ste", "clip", "options"));
    b.alphaGrad = getBoolOr(o, "alphaGrad", true, "options");
    const std::string impl = getStringOr(o, "impl", "fused", "options");
    if (impl != "fused" && impl != "aten") throw ArgumentError("binaryConv: options.impl must be 'fused' or 'aten', got '" + impl + "'");
    at::Tensor x = borrowTypedArray(info[0], xs, "x"), w = borrowTypedArray(info[2], ws, "w"), dy = borrowTypedArray(info[4], ys, "dy");
    for (const at::Tensor* t : {&x, &w, &dy})
      if (t->scalar_type() != at::kFloat && t->scalar_type() != at::kDouble)
        throw ArgumentError("binaryConv: x, w and dy must be Float32Array or Float64Array");
    if (x.scalar_type() != w.scalar_type() || dy.scalar_type() != w.scalar_type())
      throw ArgumentError("binaryConv: x, w and dy must be of one type (all Float32Array or all Float64Array)");
    at::Tensor y, dx, dw, wb, alpha;
    runOnComputeThread([&] {
      struct Restore {  // the backward's implementation for this call only
        ~Restore() { nn::setFusedBinaryBackward(true); }
      } restore;
      nn::setFusedBinaryBackward(impl == "fused");
      at::Tensor xg = x.clone().requires_grad_(true), wg = w.clone().requires_grad_(true);
      at::Tensor wbg = nn::binarizeWeight(wg, b, "binaryConv");
      y = at::conv2d(xg, wbg, {}, stride, padding);
      y.backward(dy);
      at::NoGradGuard noGrad;
      dx = xg.grad();
      dw = wg.grad();
      wb = wbg.detach();
      y = y.detach();
      alpha = nn::binaryAlpha(w, b.scale);
    });
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("y", tensorToJsObject(env, y.contiguous()));
    out.Set("dx", tensorToJsObject(env, dx.contiguous()));
    out.Set("dw", tensorToJsObject(env, dw.contiguous()));
    out.Set("wb", tensorToJsObject(env, wb.contiguous()));
    out.Set("alpha", alpha.defined() ? Napi::Value(tensorToJsObject(env, alpha.contiguous())) : env.Null());
    return out;
  });
}

Registrar reg("bnn", [](Napi::Env env, Napi::Object exports) {
  exports.Set("binaryConv", Napi::Function::New(env, BinaryConv, "binaryConv"));
});

}  // namespace
}  // namespace autospeech
