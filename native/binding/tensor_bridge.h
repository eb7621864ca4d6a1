// Zero-copy bridge between JS typed arrays and at::Tensor, with length/shape checks.
#pragma once
#include <napi.h>

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace autospeech {

// A JS array of non-negative integers (a tensor shape). `what` names the argument in errors.
std::vector<int64_t> shapeFromJs(const Napi::Value& value, const std::string& what);

// Wraps a Float32Array/Float64Array/Int32Array/BigInt64Array as a CPU tensor of `shape`
// without copying. The caller must keep the JS array alive while the tensor is used (or clone).
at::Tensor borrowTypedArray(const Napi::Value& value, const std::vector<int64_t>& shape,
                            const std::string& what);

// Same, but requires a Float32Array and optionally rejects NaN/Inf.
at::Tensor borrowFloat32(const Napi::Value& value, const std::vector<int64_t>& shape,
                         const std::string& what, bool requireFinite = false);

// Hands a tensor to JS without copying: an external ArrayBuffer owns a heap reference to the
// (contiguous, CPU) tensor and frees it when JS collects the buffer.
Napi::Value tensorToJs(Napi::Env env, const at::Tensor& tensor);

// { data: TypedArray, shape: number[], dtype: string }
Napi::Object tensorToJsObject(Napi::Env env, const at::Tensor& tensor);

Napi::Array shapeToJs(Napi::Env env, at::IntArrayRef shape);
std::string dtypeName(const at::Tensor& tensor);

// Option readers for plain JS objects, with errors naming the field.
int64_t getInt(const Napi::Object& obj, const char* key, const std::string& what);
int64_t getIntOr(const Napi::Object& obj, const char* key, int64_t fallback, const std::string& what);
double getNumberOr(const Napi::Object& obj, const char* key, double fallback, const std::string& what);
bool getBoolOr(const Napi::Object& obj, const char* key, bool fallback, const std::string& what);
std::string getString(const Napi::Object& obj, const char* key, const std::string& what);
std::string getStringOr(const Napi::Object& obj, const char* key, const std::string& fallback,
                        const std::string& what);
Napi::Object asObject(const Napi::Value& value, const std::string& what);
// A JS array of integers (any sign), each checked as getInt does; errors name `what`[i].
std::vector<int64_t> intListFromJs(const Napi::Value& value, const std::string& what);

}  // namespace autospeech
