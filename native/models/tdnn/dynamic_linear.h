// sugar's DynamicLinear: nn.Linear (with bias) whose in/out features are cut by first-k or an
// index list; the bias is cut like the outputs. Standalone (a clone's nn.Linear): no `linear.` level.
#pragma once
#include "models/tdnn/holder.h"
#include "models/tdnn/select.h"

namespace autospeech::models::tdnn {

class DynamicLinear : public LeafModule {
 public:
  DynamicLinear(int64_t in, int64_t out, bool standalone);
  void configure(const Select& in, const Select& out);
  at::Tensor forward(const at::Tensor& x) const;
  void copyInto(DynamicLinear& dst) const;

 private:
  at::Tensor selectedWeight() const;
  at::Tensor selectedBias() const;

  int64_t in_, out_;
  at::Tensor *weight_, *bias_;
  Select inSel_, outSel_;
};

}  // namespace autospeech::models::tdnn
