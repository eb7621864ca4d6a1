#include "nn/module.h"

#include <ATen/ATen.h>

namespace autospeech::nn {

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::collect(const std::string& prefix, std::vector<NamedTensor>& out) const {
  for (auto& [name, t] : params_) out.push_back({prefix + name, t.get(), TensorKind::Parameter});
  for (auto& [name, t] : buffers_) out.push_back({prefix + name, t.get(), TensorKind::Buffer});
  for (auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<NamedTensor> Module::namedTensors() const {
  std::vector<NamedTensor> out;
  collect("", out);
  return out;
}

std::vector<at::Tensor> Module::parameters() const {
  std::vector<at::Tensor> out;
  for (auto& entry : namedTensors())
    if (entry.kind == TensorKind::Parameter) out.push_back(*entry.tensor);
  return out;
}

void Module::to(const c10::Device& device) {
  for (auto& entry : namedTensors()) {
    at::Tensor& t = *entry.tensor;
    if (t.device() == device) continue;
    bool grad = t.requires_grad();
    t = t.detach().to(device);
    if (grad) t.set_requires_grad(true);
  }
}

at::Tensor& Module::registerParameter(const std::string& name, at::Tensor value) {
  value = value.detach();
  value.set_requires_grad(true);
  params_.emplace_back(name, std::make_unique<at::Tensor>(std::move(value)));
  return *params_.back().second;
}

at::Tensor& Module::registerBuffer(const std::string& name, at::Tensor value) {
  buffers_.emplace_back(name, std::make_unique<at::Tensor>(std::move(value)));
  return *buffers_.back().second;
}

}  // namespace autospeech::nn
