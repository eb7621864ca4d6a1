#include "train/tdnn_trainer.h"

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
  adam_.zeroGrad();
  for (const auto& path : walks) {
    model_->setSubnet(path);
    at::Tensor e = model_->embed(x);
    AamSoftmaxOutput r = aamSoftmax(e, W_, labels, options_.aam);
    r.loss.backward();
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
  stats.forwardBackwardMs = msSince(t1);
  auto t2 = Clock::now();
  adam_.step();
  stats.updateMs = msSince(t2);
  return stats;
}

}  // namespace autospeech::train
