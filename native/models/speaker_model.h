// What every network (search supernet, derived network, ResNet) offers the trainer and the
// bindings: the reference's forward contract (train mode -> logits, eval mode -> the pooled
// embedding) split into embed() and classify(), plus drop path and architecture parameters.
#pragma once
#include <string>
#include <vector>

#include "nn/module.h"

namespace autospeech::models {

// Optional per-forward record of intermediate outputs (for locating a mismatch).
using Trace = std::vector<std::pair<std::string, at::Tensor>>;

class SpeakerModel : public nn::Module {
 public:
  // (B, T, F) -> (B, D): the globally pooled vector (the verification embedding).
  virtual at::Tensor embed(const at::Tensor& input, Trace* trace = nullptr) = 0;
  // (B, D) -> (B, classes): the reference's forward_classifier.
  virtual at::Tensor classify(const at::Tensor& embedding) = 0;
  // The reference forward: logits in training mode, the embedding in eval mode.
  at::Tensor forward(const at::Tensor& input) {
    at::Tensor v = embed(input);
    return isTraining() ? classify(v) : v;
  }

  virtual std::vector<at::Tensor> archParameters() { return {}; }
  // Weights only (everything but the architecture parameters), for the weight optimizer.
  std::vector<at::Tensor> weightParameters();

  // Named option, not the reference: keep 4-D weights (and so every activation) in channels-last
  // (NHWC) memory, where oneDNN uses its direct kernels instead of im2col + GEMM for the depthwise
  // convolutions' backward. Values differ from the reference's NCHW run in the last bits.
  void setChannelsLast(bool on);
  bool channelsLast() const { return channelsLast_; }

  void setDropPathProb(double p) { dropPathProb_ = p; }
  double dropPathProb() const { return dropPathProb_; }
  virtual std::string kind() const = 0;

 protected:
  double dropPathProb_ = 0.0;
  bool channelsLast_ = false;
};

}  // namespace autospeech::models
