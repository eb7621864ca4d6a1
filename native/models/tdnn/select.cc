#include "models/tdnn/select.h"

#include <ATen/ATen.h>

namespace autospeech::models::tdnn {

Select Select::indices(const at::Tensor& idx) { return Select{idx.numel(), idx.to(at::kLong)}; }

at::Tensor Select::apply(const at::Tensor& t, int64_t dim) const {
  return isIndex() ? t.index_select(dim, index.to(t.device())) : t.narrow(dim, 0, count);
}

}  // namespace autospeech::models::tdnn
