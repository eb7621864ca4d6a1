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

inline models::tdnn::TdnnSubnet tdnnSubnetArg(const Napi::Value& v, const std::string& what) {
  Napi::Object o = asObject(v, what);
  models::tdnn::TdnnSubnet s;
  s.depth = getInt(o, "depth", what);
  s.channels = intListFromJs(o.Get("channels"), what + ".channels");
  s.kernels = intListFromJs(o.Get("kernels"), what + ".kernels");
  s.cat = getInt(o, "cat", what);
  return s;
}

}  // namespace autospeech
