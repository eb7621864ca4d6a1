#include "train/trainer.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "dist/process_group.h"
#include "dist/sync_batch_norm.h"
#include "models/model_search.h"
#include "nn/batch_norm.h"
#include "nn/binary_conv.h"
#include "train/loss.h"

namespace autospeech::train {

Trainer::Trainer(std::shared_ptr<models::SpeakerModel> model, TrainerOptions options)
    : model_(std::move(model)), options_(options), weights_(model_->weightParameters(), options.weights) {
  auto archParams = model_->archParameters();
  if (!archParams.empty()) arch_.emplace(archParams, options.arch);
  if (options.distributed) {
    dist::Info d = dist::info();
    TORCH_CHECK(d.initialized, "a distributed trainer needs the process group (distInit first)");
    rank_ = d.rank;
    world_ = d.worldSize;
    reducer_ = std::make_unique<dist::GradReducer>(weights_.params());
  }
  for (auto& [name, conv] : nn::binaryConvs(*model_))
    if (conv->binaryOptions().latentClip > 0) clippedLatents_.push_back(conv);
}

namespace {
// The mean over ranks of each gradient (tensors without one count as zeros and stay without).
void averageGradients(const std::vector<at::Tensor>& params, int world) {
  std::vector<at::Tensor> grads;
  for (auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  dist::allreduceSumCoalesced(grads);
  at::NoGradGuard noGrad;
  for (auto& g : grads) g.div_(world);
}
}  // namespace

double topkAccuracy(const at::Tensor& logits, const at::Tensor& labels, int64_t k) {
  at::NoGradGuard noGrad;
  k = std::min<int64_t>(k, logits.size(1));
  at::Tensor pred = std::get<1>(logits.topk(k, 1, true, true)).t();
  at::Tensor correct = pred.eq(labels.to(at::kLong).view({1, -1}).expand_as(pred));
  return correct.narrow(0, 0, k).reshape(-1).to(at::kFloat).sum().item<double>() * (100.0 / logits.size(0));
}

namespace {
// Records the wall time since the previous mark under a phase name.
struct PhaseClock {
  std::vector<std::pair<std::string, double>>& out;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  void mark(const char* phase) {
    auto now = std::chrono::steady_clock::now();
    out.emplace_back(phase, std::chrono::duration<double, std::milli>(now - last).count());
    last = now;
  }
};

// Temporarily stops autograd from computing gradients for `params` (restored on scope exit).
struct FrozenParams {
  std::vector<at::Tensor> params;
  FrozenParams(const std::vector<at::Tensor>& p, bool on) {
    if (!on) return;
    params = p;
    for (auto& t : params) t.set_requires_grad(false);
  }
  ~FrozenParams() {
    for (auto& t : params) t.set_requires_grad(true);
  }
};
}  // namespace

StepStats Trainer::step(const at::Tensor& x, const at::Tensor& y, const at::Tensor& xv, const at::Tensor& yv) {
  StepStats stats;
  PhaseClock clock{stats.phasesMs};
  model_->train(true);
  const bool dp = reducer_ != nullptr;
  dist::ScopedShard shard(dp ? dist::BatchShard{rank_, world_} : dist::BatchShard{});
  nn::ScopedSyncBatchNorm syncBn(dp && options_.syncBn && world_ > 1 ? &dist::syncBatchNorm : nullptr);
  auto* search = dynamic_cast<models::SearchNetwork*>(model_.get());
  if (search) search->setSampledBackwardOnly(options_.sampledBackwardOnly);
  if (arch_) {
    FrozenParams frozen(weights_.params(), options_.skipUnusedGrads && !options_.secondOrderArch);
    TORCH_CHECK(xv.defined() && yv.defined(), "a search step needs a validation batch for the alpha step");
    arch_->zeroGrad();
    if (options_.secondOrderArch) {
      unrolledArchGradient(x, y, xv, yv);
      clock.mark("alpha gradient (unrolled)");
    } else {
      at::Tensor archLoss = lossOf(xv, yv);
      clock.mark("alpha forward");
      archLoss.backward();
      if (dp) averageGradients(arch_->params(), world_);
      clock.mark("alpha backward");
      stats.archLoss = archLoss.item<double>();
    }
    arch_->step();
    if (search) stats.archEntropy = search->archEntropy().mean().item<double>();
    clock.mark("alpha update");
  }
  FrozenParams frozenAlphas(arch_ ? arch_->params() : std::vector<at::Tensor>{}, options_.skipUnusedGrads);
  if (search && options_.fastSearch) search->setSampledOnly(true);
  at::Tensor logits = model_->forward(x);
  if (search) search->setSampledOnly(false);
  at::Tensor loss = labelSmoothedCrossEntropy(logits, y, options_.labelSmoothing);
  stats.acc1 = topkAccuracy(logits, y, 1);
  stats.acc5 = topkAccuracy(logits, y, 5);
  clock.mark("weight forward");
  weights_.zeroGrad();
  if (dp) reducer_->prepare();
  loss.backward();
  if (dp) reducer_->finish();
  clock.mark("weight backward");
  if (search) {
    // Unselected ops got no gradient (fast mode, or no backward through them); the full sum gives
    // them an exact zero, and Adam must still count the step for them, so give them that zero.
    for (auto& p : weights_.params())
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
  }
  weights_.step();
  for (nn::BinaryConv2d* conv : clippedLatents_) conv->clampLatent();  // BinaryConnect's clip, after the step
  stats.loss = loss.item<double>();
  if (dp) {
    // The global batch's figures: every rank holds the same number of items.
    at::Tensor s = at::tensor({stats.loss, stats.acc1, stats.acc5, stats.archLoss}, at::kDouble);
    dist::allreduceSum(s);
    s.div_(world_);
    stats.loss = s[0].item<double>();
    stats.acc1 = s[1].item<double>();
    stats.acc5 = s[2].item<double>();
    stats.archLoss = s[3].item<double>();
  }
  clock.mark("weight update");
  return stats;
}

at::Tensor Trainer::classify(const at::Tensor& embeddings) {
  at::NoGradGuard noGrad;
  model_->train(false);
  return model_->classify(embeddings);
}

at::Tensor Trainer::lossOf(const at::Tensor& x, const at::Tensor& y) {
  return labelSmoothedCrossEntropy(model_->forward(x), y, options_.labelSmoothing);
}

void Trainer::unrolledArchGradient(const at::Tensor& x, const at::Tensor& y, const at::Tensor& xv, const at::Tensor& yv) {
  std::vector<at::Tensor> w = weights_.params();
  std::vector<at::Tensor> alphas = arch_->params();
  const double xi = weights_.lr();
  auto grad = [&](const at::Tensor& loss, const std::vector<at::Tensor>& wrt) {
    for (auto t : wrt)
      if (t.grad().defined()) t.mutable_grad() = at::Tensor();
    loss.backward();
    std::vector<at::Tensor> g;
    for (auto& t : wrt) g.push_back(t.grad().defined() ? t.grad().detach().clone() : at::zeros_like(t));
    for (auto t : wrt) t.mutable_grad() = at::Tensor();
    if (reducer_) {
      dist::allreduceSumCoalesced(g);
      at::NoGradGuard noGrad;
      for (auto& t : g) t.div_(world_);
    }
    return g;
  };
  std::vector<at::Tensor> backup;
  {
    at::NoGradGuard noGrad;
    for (auto& p : w) backup.push_back(p.detach().clone());
  }
  // w' = w - xi * dL_train/dw
  std::vector<at::Tensor> dTrain = grad(lossOf(x, y), w);
  {
    at::NoGradGuard noGrad;
    for (size_t i = 0; i < w.size(); ++i) w[i].sub_(dTrain[i], xi);
  }
  // dL_val(w', a)/da and dL_val(w', a)/dw'
  std::vector<at::Tensor> all = alphas;
  all.insert(all.end(), w.begin(), w.end());
  std::vector<at::Tensor> gVal = grad(lossOf(xv, yv), all);
  std::vector<at::Tensor> dAlpha(gVal.begin(), gVal.begin() + alphas.size());
  std::vector<at::Tensor> dW(gVal.begin() + alphas.size(), gVal.end());
  // Finite-difference Hessian-vector product around the original w.
  double norm = 0;
  for (auto& t : dW) norm += t.pow(2).sum().item<double>();
  const double eps = 0.01 / std::max(std::sqrt(norm), 1e-12);
  auto shiftedAlphaGrad = [&](double sign) {
    {
      at::NoGradGuard noGrad;
      for (size_t i = 0; i < w.size(); ++i) w[i].copy_(backup[i]).add_(dW[i], sign * eps);
    }
    return grad(lossOf(x, y), alphas);
  };
  std::vector<at::Tensor> gPlus = shiftedAlphaGrad(1.0);
  std::vector<at::Tensor> gMinus = shiftedAlphaGrad(-1.0);
  at::NoGradGuard noGrad;
  for (size_t i = 0; i < w.size(); ++i) w[i].copy_(backup[i]);
  for (size_t i = 0; i < alphas.size(); ++i)
    alphas[i].mutable_grad() = dAlpha[i] - (gPlus[i] - gMinus[i]) * (xi / (2 * eps));
}

at::Tensor Trainer::embedUtterances(const at::Tensor& windows, const std::vector<int64_t>& counts, int64_t maxBatch) {
  at::NoGradGuard noGrad;
  model_->train(false);
  int64_t total = 0;
  for (int64_t c : counts) {
    TORCH_CHECK(c > 0, "every utterance needs at least one window");
    total += c;
  }
  TORCH_CHECK(total == windows.size(0), "window counts sum to ", total, " but ", windows.size(0), " windows were given");
  // Chunks of at most maxBatch windows, in order. libtorch's convolutions give bit-identical
  // per-sample results for any batch of 2 or more, but slightly different ones for a batch of 1:
  // the reference forwards each utterance's windows as one batch, so a one-window utterance is
  // forwarded alone, and a chunk that would hold a single window of a longer utterance joins the
  // chunk before it (which holds that utterance's other windows).
  TORCH_CHECK(maxBatch >= 1, "maxBatch must be positive, got ", maxBatch);
  const int64_t cap = std::max<int64_t>(maxBatch, 2);  // a chunk of a longer utterance needs 2
  std::vector<int64_t> chunks;  // sizes
  int64_t open = 0;
  auto close = [&] {
    if (open == 1 && !chunks.empty()) chunks.back() += 1;
    else if (open > 0) chunks.push_back(open);
    open = 0;
  };
  // The search supernet samples its hard Gumbel mixing in eval mode too, once per cell per
  // forward: the reference's one forward per utterance fixes both the draws and how much of the
  // random stream they use, so each utterance is one forward there, whatever maxBatch says.
  auto* search = dynamic_cast<models::SearchNetwork*>(model_.get());
  const bool perUtterance = search && search->mixing() == models::Mixing::Gumbel;
  for (int64_t c : counts) {
    if (c == 1 || perUtterance) {
      close();
      chunks.push_back(c);
      continue;
    }
    for (int64_t i = 0; i < c; ++i) {
      if (++open == cap) close();
    }
  }
  close();
  std::vector<at::Tensor> parts;
  int64_t start = 0;
  for (int64_t n : chunks) {
    parts.push_back(model_->embed(windows.narrow(0, start, n)));
    start += n;
  }
  at::Tensor all = at::cat(parts, 0);
  std::vector<at::Tensor> means;
  int64_t offset = 0;
  for (int64_t c : counts) {
    means.push_back(all.narrow(0, offset, c).mean(0));
    offset += c;
  }
  return at::stack(means, 0);
}

}  // namespace autospeech::train
