#include "binding/tensor_bridge.h"

#include <ATen/Functions.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/isfinite.h>

#include <cmath>

#include "binding/guard.h"

namespace autospeech {

static constexpr double kMaxSafeInteger = 9007199254740991.0;

std::vector<int64_t> shapeFromJs(const Napi::Value& value, const std::string& what) {
  if (!value.IsArray()) throw ArgumentError(what + " must be an array of non-negative integers");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsNumber()) throw ArgumentError(what + "[" + std::to_string(i) + "] is not a number");
    double d = item.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > kMaxSafeInteger)
      throw ArgumentError(what + "[" + std::to_string(i) + "] = " + std::to_string(d) +
                          " is not a non-negative integer");
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

static int64_t numelOf(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > INT64_MAX / d) throw ArgumentError("shape is too large");
    n *= d;
  }
  return n;
}

at::Tensor borrowTypedArray(const Napi::Value& value, const std::vector<int64_t>& shape,
                            const std::string& what) {
  if (!value.IsTypedArray()) throw ArgumentError(what + " must be a typed array");
  Napi::TypedArray typed = value.As<Napi::TypedArray>();
  at::ScalarType dtype;
  switch (typed.TypedArrayType()) {
    case napi_float32_array: dtype = at::kFloat; break;
    case napi_float64_array: dtype = at::kDouble; break;
    case napi_int32_array: dtype = at::kInt; break;
    case napi_bigint64_array: dtype = at::kLong; break;
    case napi_uint8_array: dtype = at::kByte; break;
    default: throw ArgumentError(what + " has an unsupported typed array type");
  }
  int64_t expected = numelOf(shape);
  if (static_cast<int64_t>(typed.ElementLength()) != expected)
    throw ArgumentError(what + " has " + std::to_string(typed.ElementLength()) +
                        " elements but its shape needs " + std::to_string(expected));
  // The data pointer from napi_get_typedarray_info itself: TypedArray::ArrayBuffer().Data() fails
  // (napi_invalid_arg) for a view on a SharedArrayBuffer, which is a valid input here.
  void* data = nullptr;
  if (napi_get_typedarray_info(value.Env(), value, nullptr, nullptr, &data, nullptr, nullptr) != napi_ok)
    throw ArgumentError(what + ": cannot read the typed array's memory");
  uint8_t* base = static_cast<uint8_t*>(data);
  if (expected == 0) return at::empty(shape, at::TensorOptions().dtype(dtype));
  if (reinterpret_cast<uintptr_t>(base) % typed.ElementSize() != 0)
    throw ArgumentError(what + " is not aligned to its element size");
  return at::from_blob(base, shape, at::TensorOptions().dtype(dtype));
}

at::Tensor borrowFloat32(const Napi::Value& value, const std::vector<int64_t>& shape,
                         const std::string& what, bool requireFinite) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw ArgumentError(what + " must be a Float32Array");
  at::Tensor t = borrowTypedArray(value, shape, what);
  // A plain loop, not at::isfinite: no ATen op (and no OpenMP team) on the main thread, which it
  // held for 20-50 ms on an 8 MB batch of windows (the Node API's event loop stalled meanwhile).
  if (requireFinite) {
    const float* p = static_cast<const float*>(t.data_ptr());
    const int64_t n = t.numel();
    bool finite = true;
    for (int64_t k = 0; k < n; ++k) finite &= std::isfinite(p[k]);
    if (!finite) throw ArgumentError(what + " contains NaN or infinite values");
  }
  return t;
}

Napi::Value tensorToJs(Napi::Env env, const at::Tensor& tensor) {
  at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  napi_typedarray_type type;
  switch (t.scalar_type()) {
    case at::kFloat: type = napi_float32_array; break;
    case at::kDouble: type = napi_float64_array; break;
    case at::kInt: type = napi_int32_array; break;
    case at::kLong: type = napi_bigint64_array; break;
    case at::kByte: case at::kBool: type = napi_uint8_array; t = t.to(at::kByte); break;
    default: t = t.to(at::kFloat); type = napi_float32_array; break;
  }
  size_t count = static_cast<size_t>(t.numel());
  size_t bytes = count * t.element_size();
  Napi::ArrayBuffer buffer;
  if (bytes == 0) {
    buffer = Napi::ArrayBuffer::New(env, 0);
  } else {
    auto* owner = new at::Tensor(t);
    buffer = Napi::ArrayBuffer::New(env, owner->data_ptr(), bytes,
                                    [](Napi::Env, void*, at::Tensor* held) { delete held; }, owner);
  }
  napi_value result;
  napi_status status = napi_create_typedarray(env, type, count, buffer, 0, &result);
  NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  return Napi::Value(env, result);
}

Napi::Array shapeToJs(Napi::Env env, at::IntArrayRef shape) {
  Napi::Array array = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) array.Set(i, Napi::Number::New(env, double(shape[i])));
  return array;
}

std::string dtypeName(const at::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return std::string(c10::toString(tensor.scalar_type()));
  }
}

Napi::Object tensorToJsObject(Napi::Env env, const at::Tensor& tensor) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("data", tensorToJs(env, tensor));
  obj.Set("shape", shapeToJs(env, tensor.sizes()));
  obj.Set("dtype", dtypeName(tensor));
  return obj;
}

Napi::Object asObject(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray())
    throw ArgumentError(what + " must be an object");
  return value.As<Napi::Object>();
}

int64_t getInt(const Napi::Object& obj, const char* key, const std::string& what) {
  Napi::Value v = obj.Get(key);
  if (!v.IsNumber()) throw ArgumentError(what + "." + key + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > kMaxSafeInteger)
    throw ArgumentError(what + "." + key + " must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

int64_t getIntOr(const Napi::Object& obj, const char* key, int64_t fallback, const std::string& what) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return getInt(obj, key, what);
}

double getNumberOr(const Napi::Object& obj, const char* key, double fallback, const std::string& what) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw ArgumentError(what + "." + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw ArgumentError(what + "." + key + " must be finite");
  return d;
}

bool getBoolOr(const Napi::Object& obj, const char* key, bool fallback, const std::string& what) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw ArgumentError(what + "." + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string getString(const Napi::Object& obj, const char* key, const std::string& what) {
  Napi::Value v = obj.Get(key);
  if (!v.IsString()) throw ArgumentError(what + "." + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::string getStringOr(const Napi::Object& obj, const char* key, const std::string& fallback,
                        const std::string& what) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return getString(obj, key, what);
}

std::vector<int64_t> intListFromJs(const Napi::Value& value, const std::string& what) {
  if (!value.IsArray()) throw ArgumentError(what + " must be an array of integers");
  Napi::Array arr = value.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Object holder = Napi::Object::New(value.Env());
    holder.Set("v", arr.Get(i));
    out.push_back(getInt(holder, "v", what + "[" + std::to_string(i) + "]"));
  }
  return out;
}

}  // namespace autospeech
