// A bare module that only holds tensors: the inner `conv` / `bn` / `linear` level of sugar's
// wrapper modules (DynamicConv1d.conv.weight, DynamicBatchNorm1d.bn.running_mean, ...), so the
// supernet's state_dict keys are the reference's. A standalone subnet (clone) has no such level.
#pragma once
#include <string>

#include "nn/module.h"

namespace autospeech::models::tdnn {

class TensorHolder : public nn::Module {
 public:
  at::Tensor& parameter(const std::string& name, at::Tensor value) { return registerParameter(name, std::move(value)); }
  at::Tensor& buffer(const std::string& name, at::Tensor value) { return registerBuffer(name, std::move(value)); }
};

// Where a leaf layer keeps its tensors: on itself (standalone) or on a child named `inner`.
class LeafModule : public nn::Module {
 protected:
  // Returns the module to register tensors on.
  TensorHolder* holder(bool wrapped, const std::string& inner) {
    if (!wrapped) return nullptr;
    return registerModule(inner, std::make_shared<TensorHolder>()).get();
  }
  at::Tensor& param(TensorHolder* h, const std::string& name, at::Tensor value) {
    return h ? h->parameter(name, std::move(value)) : registerParameter(name, std::move(value));
  }
  at::Tensor& buffer(TensorHolder* h, const std::string& name, at::Tensor value) {
    return h ? h->buffer(name, std::move(value)) : registerBuffer(name, std::move(value));
  }
};

}  // namespace autospeech::models::tdnn
