// A TDNN subnet from JS ({depth, channels: number[], kernels: number[], cat}), shared by the
// bindings that take one (tdnnForward, TdnnTrainer.step); validation against the supernet is
// DynamicTdnn::setSubnet's.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "binding/guard.h"
#include "binding/tensor_bridge.h"
#include "models/tdnn/dynamic_tdnn.h"

namespace autospeech {

inline std::vector<int64_t> tdnnIntList(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw ArgumentError(what + " must be an array of integers");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Object holder = Napi::Object::New(v.Env());
    holder.Set("v", arr.Get(i));
    out.push_back(getInt(holder, "v", what + "[" + std::to_string(i) + "]"));
  }
  return out;
}

inline models::tdnn::TdnnSubnet tdnnSubnetArg(const Napi::Value& v, const std::string& what) {
  Napi::Object o = asObject(v, what);
  models::tdnn::TdnnSubnet s;
  s.depth = getInt(o, "depth", what);
  s.channels = tdnnIntList(o.Get("channels"), what + ".channels");
  s.kernels = tdnnIntList(o.Get("kernels"), what + ".kernels");
  s.cat = getInt(o, "cat", what);
  return s;
}

}  // namespace autospeech
