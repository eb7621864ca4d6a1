// sugar's two ways of picking the active part of a dynamic layer's channel dimension: TOPK (the
// first `count` entries, a view of the supernet's tensor) or INDEX (an explicit index list, a
// copy). The difference is observable: a train-mode BatchNorm writes its running statistics back
// through a view but into a discarded copy for an index list (see dynamic_batch_norm.h).
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

namespace autospeech::models::tdnn {

struct Select {
  int64_t count = 0;
  at::Tensor index;  // defined = INDEX mode (int64, `count` entries)

  static Select first(int64_t k) { return Select{k, at::Tensor()}; }
  static Select indices(const at::Tensor& idx);
  bool isIndex() const { return index.defined(); }
  // The selected part of `t` along `dim`: t.narrow(dim, 0, count) or t.index_select(dim, index).
  at::Tensor apply(const at::Tensor& t, int64_t dim) const;
};

}  // namespace autospeech::models::tdnn
