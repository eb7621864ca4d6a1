#include "models/tdnn/clone.h"

namespace autospeech::models::tdnn {

std::shared_ptr<DynamicTdnn> cloneSubnet(DynamicTdnn& supernet, const TdnnSubnet& subnet) {
  supernet.setSubnet(subnet);
  TdnnDims d;
  d.inFeats = supernet.dims().inFeats;
  d.embedDim = supernet.dims().embedDim;
  d.numBlocks = subnet.depth;
  d.channels = subnet.channels;
  d.kernels = subnet.kernels;
  d.catChannels = subnet.cat;
  d.standalone = true;
  auto clone = std::make_shared<DynamicTdnn>(d);
  supernet.copyActiveInto(*clone, /*bumpCounters=*/supernet.isTraining());
  clone->train(supernet.isTraining());
  return clone;
}

}  // namespace autospeech::models::tdnn
