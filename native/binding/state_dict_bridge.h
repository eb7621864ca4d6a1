// A native module's state_dict as JS sees it: the entry list, and strict writes of one tensor
// (same shape, a 0-d tensor also taking [1], and same dtype). Shared by every binding that exposes
// named tensors (Model, TdnnPredictor).
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "nn/module.h"

namespace autospeech {

// [{ name, shape, dtype, kind: 'parameter' | 'buffer' }] in state_dict order.
Napi::Array stateDictToJs(Napi::Env env, const std::vector<nn::NamedTensor>& entries);

// Copies the typed array `data` of `shape` into `target`, or an ArgumentError naming the key and
// both shapes/dtypes; `owner` says whose tensor it is in the message ("model", "predictor").
void setNamedTensorFromJs(at::Tensor& target, const std::string& name, const Napi::Value& data, const Napi::Value& shape,
                          const char* owner);

}  // namespace autospeech
