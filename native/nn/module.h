// A small module tree over plain ATen tensors, mirroring torch.nn.Module's naming so that
// state_dict keys are the reference's (e.g. "cells.0._ops.3.op.1.weight"). We avoid the
// libtorch C++ frontend (torch::nn) on purpose: its headers are slow to compile and its layer
// initialisation differs from Python's; here every layer is a few lines of functional ATen.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace autospeech::nn {

enum class TensorKind { Parameter, Buffer };

struct NamedTensor {
  std::string name;
  at::Tensor* tensor;  // stable pointer into the owning module
  TensorKind kind;
};

class Module {
 public:
  virtual ~Module() = default;

  // Recursively sets training mode (BatchNorm batch statistics, drop path, ...).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool isTraining() const { return training_; }

  // Every parameter and buffer in PyTorch state_dict order: a module's own parameters, then its
  // own buffers, then each child in registration order, names joined with '.'.
  std::vector<NamedTensor> namedTensors() const;
  std::vector<at::Tensor> parameters() const;  // recursive, parameters only

  // Moves every tensor (keeping parameters as requires-grad leaves).
  void to(const c10::Device& device);

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

 protected:
  at::Tensor& registerParameter(const std::string& name, at::Tensor value);
  at::Tensor& registerBuffer(const std::string& name, at::Tensor value);
  template <class M>
  std::shared_ptr<M> registerModule(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void collect(const std::string& prefix, std::vector<NamedTensor>& out) const;

  std::vector<std::pair<std::string, std::unique_ptr<at::Tensor>>> params_;
  std::vector<std::pair<std::string, std::unique_ptr<at::Tensor>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A module with a single-input forward (every operation of the search space is one).
class Layer : public Module {
 public:
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  // Drop path skips Identity ops in the derived network (reference model.py).
  virtual bool isIdentity() const { return false; }
};

using LayerPtr = std::shared_ptr<Layer>;

// nn.ModuleList: children "0", "1", ... with no forward of its own.
class ModuleList : public Module {
 public:
  template <class M>
  std::shared_ptr<M> push(std::shared_ptr<M> m) {
    return registerModule(std::to_string(count_++), m);
  }

 private:
  int count_ = 0;
};

}  // namespace autospeech::nn
