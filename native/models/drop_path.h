// drop_path as the reference: a per-sample Bernoulli(keep) mask of shape (B,1,1,1), x / keep * mask,
// applied in place on the op output (never on an Identity's input, which would alias a state).
#pragma once
#include <ATen/core/Tensor.h>

namespace autospeech::models {

at::Tensor dropPath(at::Tensor x, double dropProb);

}  // namespace autospeech::models
