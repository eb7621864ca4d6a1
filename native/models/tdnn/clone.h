// sugar's DynamicTDNN.clone(cfg): sets the supernet's subnet (a side effect on the supernet, as in
// the reference), then builds a standalone network of the subnet's shape holding copies of the
// slices: kernels baked in (no k53/k31), BN running statistics copied from the slice (momentum and
// eps kept), bnembed copied whole. Its eval embedding equals the dynamic path's. Quirk kept: a
// train-mode supernet increments num_batches_tracked of every cloned sliced BN (sugar reads the
// slice through a property with that side effect); the clone's own counters start at 0.
#pragma once
#include <memory>

#include "models/tdnn/dynamic_tdnn.h"

namespace autospeech::models::tdnn {

std::shared_ptr<DynamicTdnn> cloneSubnet(DynamicTdnn& supernet, const TdnnSubnet& subnet);

}  // namespace autospeech::models::tdnn
