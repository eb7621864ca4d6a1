#include "models/drop_path.h"

#include <ATen/ATen.h>

#include "dist/process_group.h"

namespace autospeech::models {

at::Tensor dropPath(at::Tensor x, double dropProb) {
  if (dropProb <= 0.0) return x;
  double keep = 1.0 - dropProb;
  // In a data-parallel step the mask is drawn for the global batch and this rank keeps its rows, so
  // the random stream (and every later draw) is the one a single process of the global batch uses.
  const dist::BatchShard shard = dist::currentShard();
  at::Tensor mask = at::empty({x.size(0) * shard.worldSize, 1, 1, 1}, x.options().requires_grad(false)).bernoulli_(keep);
  if (shard.worldSize > 1) mask = mask.narrow(0, x.size(0) * shard.rank, x.size(0));
  x.div_(keep);
  x.mul_(mask);
  return x;
}

}  // namespace autospeech::models
