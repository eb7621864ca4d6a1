// One ReLU per tensor within a forward pass. A cell's output feeds the next two cells, and each
// one's preprocess starts with its own ReLU of it (the stem's output, likewise, is rectified by stem1
// and again for cell 0): the same values computed, saved and differentiated twice. Inside a
// SharedReluScope (one network forward), relu(x) of a tensor already rectified returns that result
// itself: the values are the same, and in the backward the two consumers' gradients meet at that
// one result before its single threshold_backward, which for two consumers equals the sum of two
// threshold_backwards bit for bit (r > 0 passes g1 + g2; elsewhere both give +0). Only active with
// the exact native kernels on (nn/native_kernels.h), so the on/off tests compare it with the plain graph.
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

namespace autospeech::nn {

class SharedReluScope {
 public:
  SharedReluScope();
  ~SharedReluScope();
  SharedReluScope(const SharedReluScope&) = delete;
  SharedReluScope& operator=(const SharedReluScope&) = delete;

 private:
  friend at::Tensor sharedRelu(const at::Tensor& x);
  struct Entry {
    at::Tensor input, output;
    uint32_t version;
  };
  std::vector<Entry> entries_;
  SharedReluScope* outer_;
};

// at::relu(x), shared within the innermost active scope on this thread.
at::Tensor sharedRelu(const at::Tensor& x);

}  // namespace autospeech::nn
