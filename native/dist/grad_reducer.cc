#include "dist/grad_reducer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

#include <stdexcept>

#include "dist/process_group.h"

namespace autospeech::dist {
namespace {

struct ReadyHook : torch::autograd::FunctionPostHook {
  GradReducer* reducer;
  size_t index;
  std::weak_ptr<bool> alive;
  ReadyHook(GradReducer* r, size_t i, std::weak_ptr<bool> a) : reducer(r), index(i), alive(std::move(a)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    if (auto a = alive.lock(); a && *a) reducer->markReady(index);
    return outputs;
  }
};

}  // namespace

GradReducer::GradReducer(std::vector<at::Tensor> params, size_t firstBucketBytes, size_t bucketBytes)
    : params_(std::move(params)), bucketOf_(params_.size()), ready_(params_.size(), false),
      alive_(std::make_shared<bool>(true)) {
  // Reverse order, dtype-homogeneous buckets.
  size_t cap = firstBucketBytes, bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const at::Tensor& p = params_[k];
    const size_t n = static_cast<size_t>(p.numel()) * p.element_size();
    const bool fresh = buckets_.empty() || bytes + n > cap ||
                       params_[buckets_.back().params.front()].scalar_type() != p.scalar_type();
    if (fresh) {
      if (!buckets_.empty()) cap = bucketBytes;
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().params.push_back(k);
    bucketOf_[k] = buckets_.size() - 1;
    bytes += n;
  }
  for (size_t k = 0; k < params_.size(); ++k) {
    auto acc = torch::autograd::impl::grad_accumulator(params_[k]);
    if (!acc) throw std::runtime_error("GradReducer: a parameter is not a leaf that requires grad");
    acc->add_post_hook(std::make_unique<ReadyHook>(this, k, alive_));
    accumulators_.push_back(acc);
  }
}

GradReducer::~GradReducer() { *alive_ = false; }

void GradReducer::prepare() {
  // Armed still: the previous backward failed before finish(); its collectives are dropped.
  std::fill(ready_.begin(), ready_.end(), false);
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.work.reset();
    b.flat = at::Tensor();
  }
  nextBucket_ = 0;
  overlapped_ = 0;
  armed_ = true;
}

void GradReducer::markReady(size_t k) {
  if (!armed_ || finishing_ || ready_[k]) return;
  ready_[k] = true;
  --buckets_[bucketOf_[k]].pending;
  launchReadyInOrder();
}

void GradReducer::launchReadyInOrder() {
  while (nextBucket_ < buckets_.size() && buckets_[nextBucket_].pending == 0) {
    launch(nextBucket_);
    if (!finishing_) ++overlapped_;
    ++nextBucket_;
  }
}

void GradReducer::launch(size_t index) {
  Bucket& b = buckets_[index];
  std::vector<at::Tensor> flat;
  for (size_t k : b.params) {
    const at::Tensor& p = params_[k];
    const at::Tensor& g = p.grad();
    flat.push_back(g.defined() ? g.detach().reshape({-1}) : at::zeros({p.numel()}, p.options().requires_grad(false)));
  }
  b.flat = flat.size() == 1 ? flat[0].clone() : at::cat(flat, 0);
  auto pg = group();
  if (!pg) throw std::runtime_error("GradReducer: the process group is gone");
  std::vector<at::Tensor> list{b.flat};
  b.work = pg->allreduce(list);
}

void GradReducer::finish() {
  if (!armed_) throw std::runtime_error("GradReducer: finish() without prepare()");
  finishing_ = true;
  struct Reset {
    GradReducer* self;
    ~Reset() {
      self->finishing_ = false;
      self->armed_ = false;
    }
  } reset{this};
  // Whatever did not fire (unused parameters, or ones whose gradient stayed as it was).
  for (; nextBucket_ < buckets_.size(); ++nextBucket_) launch(nextBucket_);
  const double world = static_cast<double>(info().worldSize);
  at::NoGradGuard noGrad;
  for (auto& b : buckets_) {
    if (!b.work->wait()) throw std::runtime_error("gradient all-reduce aborted");
    b.flat.div_(world);
    int64_t offset = 0;
    for (size_t k : b.params) {
      at::Tensor& p = params_[k];
      const int64_t n = p.numel();
      if (p.grad().defined()) p.mutable_grad().copy_(b.flat.narrow(0, offset, n).view(p.sizes()));
      offset += n;
    }
    b.work.reset();
    b.flat = at::Tensor();
  }
}

}  // namespace autospeech::dist
