// Bucketed gradient all-reduce overlapped with backward, as DDP's Reducer does it: parameters are
// grouped in reverse registration order (gradients arrive roughly in that order) into buckets of
// at most `bucketBytes` (the first one `firstBucketBytes`, as DDP's 1 MiB / 25 MiB caps); a post
// hook on each parameter's gradient accumulator marks it ready, and a bucket whose parameters are
// all ready is flattened and its all-reduce launched asynchronously while backward goes on.
// Buckets are launched strictly in index order, so every rank issues the same collectives in the
// same order. finish() launches what is left (parameters that got no gradient this backward
// contribute zeros and keep an undefined gradient, as DDP does for unused parameters: every rank
// runs the same graph, so a parameter is unused on all of them or on none), waits, and writes the
// averaged gradients (sum / world size) back.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/util/intrusive_ptr.h>

#include <memory>
#include <vector>

namespace c10d {
class ProcessGroup;
class Work;
}  // namespace c10d
namespace torch::autograd {
struct Node;
}

namespace autospeech::dist {

class GradReducer {
 public:
  GradReducer(std::vector<at::Tensor> params, size_t firstBucketBytes = 1 << 20, size_t bucketBytes = 25 << 20);
  ~GradReducer();

  // Arms the hooks for the next backward (dropping the state of one that failed before finish()).
  void prepare();
  // After backward: launches the remaining buckets, waits, writes averaged gradients back.
  void finish();
  size_t bucketCount() const { return buckets_.size(); }
  // How many buckets were launched from hooks, i.e. overlapped with backward (last finish()).
  size_t overlappedBuckets() const { return overlapped_; }

  // Called by the hooks.
  void markReady(size_t param);

 private:
  struct Bucket {
    std::vector<size_t> params;
    size_t pending = 0;
    at::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  void launch(size_t bucket);
  void launchReadyInOrder();

  std::vector<at::Tensor> params_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::vector<size_t> bucketOf_;
  std::vector<Bucket> buckets_;
  std::vector<bool> ready_;
  size_t nextBucket_ = 0;
  size_t overlapped_ = 0;
  bool armed_ = false;
  bool finishing_ = false;
  std::shared_ptr<bool> alive_;
};

}  // namespace autospeech::dist
