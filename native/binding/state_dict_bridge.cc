#include "binding/state_dict_bridge.h"

#include <ATen/core/grad_mode.h>

#include <sstream>

#include "binding/guard.h"
#include "binding/tensor_bridge.h"

namespace autospeech {

Napi::Array stateDictToJs(Napi::Env env, const std::vector<nn::NamedTensor>& entries) {
  Napi::Array out = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("name", entries[i].name);
    e.Set("shape", shapeToJs(env, entries[i].tensor->sizes()));
    e.Set("dtype", dtypeName(*entries[i].tensor));
    e.Set("kind", entries[i].kind == nn::TensorKind::Parameter ? "parameter" : "buffer");
    out.Set(static_cast<uint32_t>(i), e);
  }
  return out;
}

void setNamedTensorFromJs(at::Tensor& target, const std::string& name, const Napi::Value& data, const Napi::Value& shapeValue,
                          const char* owner) {
  std::vector<int64_t> shape = shapeFromJs(shapeValue, "shape of '" + name + "'");
  bool scalarAsOne = target.dim() == 0 && shape.size() == 1 && shape[0] == 1;
  if (!scalarAsOne && target.sizes() != at::IntArrayRef(shape)) {
    std::ostringstream msg;
    msg << "tensor '" << name << "' has shape " << target.sizes() << " in the " << owner << ", got " << at::IntArrayRef(shape);
    throw ArgumentError(msg.str());
  }
  at::Tensor src = borrowTypedArray(data, shape, "data of '" + name + "'");
  if (src.scalar_type() != target.scalar_type())
    throw ArgumentError("tensor '" + name + "' is " + dtypeName(target) + " in the " + owner + ", got " + dtypeName(src));
  at::NoGradGuard noGrad;
  target.copy_(src.reshape(target.sizes()));
}

}  // namespace autospeech
