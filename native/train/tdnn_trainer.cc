#include "train/tdnn_trainer.h"

#include "dist/process_group.h"
#include "dist/sync_batch_norm.h"
#include "nn/batch_norm.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>

#include "train/trainer.h"

namespace autospeech::train {

namespace {
using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// nn.init.xavier_normal_(W, gain=1) on a (nOut, nClasses) tensor: fan_in = size(1), fan_out = size(0).
at::Tensor xavierNormal(int64_t rows, int64_t cols) {
  at::NoGradGuard noGrad;
  const double std = std::sqrt(2.0 / static_cast<double>(rows + cols));
  return at::empty({rows, cols}, at::kFloat).normal_(0, std);
}

std::vector<at::Tensor> parametersWith(models::tdnn::DynamicTdnn& model, const at::Tensor& W, std::vector<std::string>& names) {
  std::vector<at::Tensor> out;
  for (auto& e : model.namedTensors())
    if (e.kind == nn::TensorKind::Parameter) {
      out.push_back(*e.tensor);
      names.push_back(e.name);
    }
  out.push_back(W);
  names.push_back("aam.W");
  return out;
}
}  // namespace

TdnnTrainer::TdnnTrainer(std::shared_ptr<models::tdnn::DynamicTdnn> model, TdnnTrainerOptions options)
    : model_(std::move(model)),
      options_(options),
      W_(xavierNormal(model_->dims().embedDim, options.classes).requires_grad_(true)),
      adam_(parametersWith(*model_, W_, names_), options.adam) {
  TORCH_CHECK(options.classes >= 1, "TdnnTrainer: classes must be >= 1");
  if (options.distributed) {
    TORCH_CHECK(dist::info().initialized, "a distributed trainer needs the process group (distInit first)");
    reducer_ = std::make_unique<dist::GradReducer>(adam_.params());
  }
}

at::Tensor TdnnTrainer::features(const at::Tensor& waves) const {
  at::NoGradGuard noGrad;
  TORCH_CHECK(waves.dim() == 2, "waveforms must be (B, L)");
  std::vector<at::Tensor> rows;
  rows.reserve(waves.size(0));
  for (int64_t b = 0; b < waves.size(0); ++b) rows.push_back(features::logMel(waves[b].contiguous(), options_.logmel).features);
  return at::stack(rows, 0);
}

TdnnStepStats TdnnTrainer::step(const at::Tensor& input, const at::Tensor& labels, const std::vector<models::tdnn::TdnnSubnet>& walks) {
  TORCH_CHECK(!walks.empty(), "a step needs at least one walk (subnet)");
  TdnnStepStats stats;
  auto t0 = Clock::now();
  at::Tensor x = input.dim() == 2 ? features(input) : input;
  stats.featuresMs = msSince(t0);
  auto t1 = Clock::now();
  model_->train(true);
  const bool dp = reducer_ != nullptr;
  const dist::Info d = dist::info();
  if (dp && !headBroadcast_) {  // the supernet itself is broadcast by the run loop
    dist::broadcastCoalesced({W_}, 0);
    headBroadcast_ = true;
  }
  dist::ScopedShard shard(dp ? dist::BatchShard{d.rank, d.worldSize} : dist::BatchShard{});
  nn::ScopedSyncBatchNorm syncBn(dp && options_.syncBn && d.worldSize > 1 ? &dist::syncBatchNorm : nullptr);
  adam_.zeroGrad();
  for (size_t w = 0; w < walks.size(); ++w) {
    const auto& path = walks[w];
    model_->setSubnet(path);
    at::Tensor e = model_->embed(x);
    AamSoftmaxOutput r = aamSoftmax(e, W_, labels, options_.aam);
    // The all-reduce rides on the last walk's backward; earlier walks' gradients are in .grad by then.
    const bool last = w + 1 == walks.size();
    if (dp && last) reducer_->prepare();
    r.loss.backward();
    if (dp && last) reducer_->finish();
    const double loss = r.loss.item<double>();
    stats.walkLosses.push_back(loss);
    stats.loss += loss;
    stats.acc1 += topkAccuracy(r.logits, labels, 1);
    stats.acc5 += topkAccuracy(r.logits, labels, 5);
  }
  const double n = static_cast<double>(walks.size());
  stats.loss /= n;
  stats.acc1 /= n;
  stats.acc5 /= n;
  if (dp) {
    std::vector<double> v{stats.loss, stats.acc1, stats.acc5};
    v.insert(v.end(), stats.walkLosses.begin(), stats.walkLosses.end());
    at::Tensor s = at::tensor(v, at::kDouble);
    dist::allreduceSum(s);
    s.div_(d.worldSize);
    stats.loss = s[0].item<double>();
    stats.acc1 = s[1].item<double>();
    stats.acc5 = s[2].item<double>();
    for (size_t i = 0; i < stats.walkLosses.size(); ++i) stats.walkLosses[i] = s[3 + i].item<double>();
  }
  stats.forwardBackwardMs = msSince(t1);
  auto t2 = Clock::now();
  adam_.step();
  stats.updateMs = msSince(t2);
  return stats;
}

}  // namespace autospeech::train
