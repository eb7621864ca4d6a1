#include "models/drop_path.h"

#include <ATen/ATen.h>

namespace autospeech::models {

at::Tensor dropPath(at::Tensor x, double dropProb) {
  if (dropProb <= 0.0) return x;
  double keep = 1.0 - dropProb;
  at::Tensor mask = at::empty({x.size(0), 1, 1, 1}, x.options().requires_grad(false)).bernoulli_(keep);
  x.div_(keep);
  x.mul_(mask);
  return x;
}

}  // namespace autospeech::models
