#include "models/speaker_model.h"

#include <ATen/ATen.h>

namespace autospeech::models {

std::vector<at::Tensor> SpeakerModel::weightParameters() {
  std::vector<at::Tensor> arch = archParameters();
  std::vector<at::Tensor> out;
  for (auto& p : parameters()) {
    bool isArch = false;
    for (auto& a : arch) isArch = isArch || a.is_same(p);
    if (!isArch) out.push_back(p);
  }
  return out;
}

void SpeakerModel::setChannelsLast(bool on) {
  const auto format = on ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  for (auto& e : namedTensors()) {
    at::Tensor& t = *e.tensor;
    if (t.dim() == 4) {
      at::NoGradGuard noGrad;
      t.set_data(t.contiguous(format));
    }
  }
  channelsLast_ = on;
}

}  // namespace autospeech::models
