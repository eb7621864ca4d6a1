// sugar's DynamicConv1d: a bias-free "same"-padded Conv1d whose input/output channels are cut by
// first-k or an index list, and whose kernel can be made smaller with SHARED trainable transform
// matrices (one per conv, not per channel): 7->5 with k75 (5x5), 5->3 with k53 (3x3), 3->1 with
// k31 (1x1), W_small = W[:, :, 1:-1] @ k, chained, applied after the channel slicing. They start
// as the identity (a centre crop) and train. Padding follows the active kernel: ((k-1)/2)*dilation.
// Standalone (a clone's plain nn.Conv1d): `weight` on the module itself, no transforms.
#pragma once
#include "models/tdnn/holder.h"
#include "models/tdnn/select.h"

namespace autospeech::models::tdnn {

class DynamicConv1d : public LeafModule {
 public:
  DynamicConv1d(int64_t in, int64_t out, int64_t kernel, int64_t dilation, bool standalone);

  // kernel 0 = the conv's own kernel.
  void configure(const Select& in, const Select& out, int64_t kernel = 0);
  // The effective weight of the active config (what sugar's `weight` property returns).
  at::Tensor weight() const;
  at::Tensor forward(const at::Tensor& x) const;
  // Copies the effective weight into a standalone conv of the active shape.
  void copyInto(DynamicConv1d& dst) const;

  at::Tensor& rawWeight() { return *weight_; }
  int64_t kernel() const { return kernel_; }
  int64_t activeKernel() const { return activeKernel_; }

 private:
  bool isFull() const;

  int64_t in_, out_, kernel_, dilation_;
  at::Tensor* weight_;
  at::Tensor* k75_ = nullptr;
  at::Tensor* k53_ = nullptr;
  at::Tensor* k31_ = nullptr;
  Select inSel_, outSel_;
  int64_t activeKernel_;
};

}  // namespace autospeech::models::tdnn
