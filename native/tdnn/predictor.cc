#include "tdnn/predictor.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>

namespace autospeech::tdnn {

namespace {
constexpr double kEps = 1e-5;     // nn.BatchNorm1d's eps, also the one predict() uses
constexpr double kMomentum = 0.1;  // nn.BatchNorm1d's momentum
}  // namespace

BatchNorm1d::BatchNorm1d(int64_t channels) {
  TORCH_CHECK(channels > 0, "BatchNorm1d: channels must be positive");
  weight_ = &registerParameter("weight", at::ones({channels}, at::kFloat));
  bias_ = &registerParameter("bias", at::zeros({channels}, at::kFloat));
  runningMean_ = &registerBuffer("running_mean", at::zeros({channels}, at::kFloat));
  runningVar_ = &registerBuffer("running_var", at::ones({channels}, at::kFloat));
  numBatchesTracked_ = &registerBuffer("num_batches_tracked", at::zeros({}, at::kLong));
}

at::Tensor BatchNorm1d::forward(const at::Tensor& x) {
  const bool training = isTraining();
  if (training) {
    at::NoGradGuard noGrad;
    numBatchesTracked_->add_(1);
  }
  return at::batch_norm(x, *weight_, *bias_, *runningMean_, *runningVar_, training, kMomentum, kEps,
                        /*cudnn_enabled=*/true);
}

// The optimiser and scheduler of the first fit() (the reference's fit_process).
struct AccuracyPredictor::FitState {
  std::string optimizer, scheduler;
  std::vector<at::Tensor> params;
  // adam
  std::unique_ptr<train::Adam> adam;
  // sgd (momentum 0.9, dampening 0, no nesterov)
  std::vector<at::Tensor> momentumBuffers;
  double momentum = 0.9;
  double weightDecay = 0;
  double lr = 0;  // the lr in force (param_group['lr'])
  // StepLR(step_size, gamma) / CyclicLR(base, max, step_size_up, triangular2): torch's last_epoch
  int64_t lastEpoch = 0;
  int64_t stepSize = 1;
  double gamma = 0.5;
  double baseLr = 0, maxLr = 0, stepUp = 1;
  double baseMomentum = 0.8, maxMomentum = 0.9;
  bool cycleMomentum = false;

  void setLr(double v) {
    lr = v;
    if (adam) adam->setLr(v);
  }

  void zeroGrad() {
    if (adam) return adam->zeroGrad();
    for (auto& p : params)
      if (p.grad().defined()) {
        p.mutable_grad().detach_();
        p.mutable_grad().zero_();
      }
  }

  // torch.optim.SGD (1.13, single tensor): d = g + wd p; buf = d (first) or m buf + d; p -= lr buf.
  void sgdStep() {
    at::NoGradGuard noGrad;
    for (size_t i = 0; i < params.size(); ++i) {
      at::Tensor& p = params[i];
      if (!p.grad().defined()) continue;
      at::Tensor d = weightDecay != 0 ? p.grad().add(p, weightDecay) : p.grad();
      if (!momentumBuffers[i].defined()) {
        momentumBuffers[i] = d.clone().detach();
      } else {
        momentumBuffers[i].mul_(momentum).add_(d, 1.0);
      }
      p.add_(momentumBuffers[i], -lr);
    }
  }

  void step() {
    if (adam) adam->step();
    else sgdStep();
  }

  // CyclicLR.get_lr() at lastEpoch, triangular2 (scale_fn 1 / 2^(cycle - 1), scale_mode 'cycle').
  void applyCyclic() {
    const double total = 2 * stepUp, ratio = stepUp / total;
    const double cycle = std::floor(1 + lastEpoch / total);
    const double x = 1. + lastEpoch / total - cycle;
    const double scaleFactor = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
    const double scale = 1 / std::pow(2., cycle - 1);
    setLr(baseLr + (maxLr - baseLr) * scaleFactor * scale);
    if (cycleMomentum) momentum = maxMomentum - (maxMomentum - baseMomentum) * scaleFactor * scale;
  }
  void cyclicStep() {
    ++lastEpoch;
    applyCyclic();
  }
  // StepLR.step(): lr *= gamma when last_epoch % step_size == 0 (the chainable form).
  void stepLrStep() {
    ++lastEpoch;
    if (lastEpoch % stepSize == 0) setLr(lr * gamma);
  }
};

AccuracyPredictor::AccuracyPredictor(int64_t inFeats, int64_t hidden) : inFeats_(inFeats), hidden_(hidden) {
  TORCH_CHECK(inFeats > 0 && hidden > 0, "AccuracyPredictor: inFeats and hidden must be positive (got ", inFeats, ", ",
              hidden, ")");
  model_ = registerModule("model", std::make_shared<nn::Sequential>());
  model_->push(std::make_shared<BatchNorm1d>(inFeats));
  model_->push(std::make_shared<nn::Linear>(inFeats, hidden));
  model_->push(std::make_shared<nn::ReLU>());
  model_->push(std::make_shared<nn::Linear>(hidden, hidden));
  model_->push(std::make_shared<nn::ReLU>());
  model_->push(std::make_shared<nn::Linear>(hidden, hidden));
  model_->push(std::make_shared<nn::ReLU>());
  model_->push(std::make_shared<nn::Linear>(hidden, 1));
  ynorm_ = registerModule("ynorm", std::make_shared<BatchNorm1d>(1));
}

AccuracyPredictor::~AccuracyPredictor() = default;

at::Tensor AccuracyPredictor::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == inFeats_, "AccuracyPredictor: input must be (N, ", inFeats_, "), got ",
              x.sizes());
  // The reference computes inputs_transform(x) here and then feeds x itself: nothing to do.
  return model_->forward(x);
}

std::pair<at::Tensor, at::Tensor> AccuracyPredictor::predict(const at::Tensor& x) {
  at::NoGradGuard noGrad;
  train(false);
  at::Tensor raw = forward(x);
  BatchNorm1d& bn = *ynorm_;
  // Inverse ynorm exactly as the reference writes it: / (weight + eps), not / weight.
  at::Tensor y = (raw - bn.bias()) / (bn.weight() + kEps) * at::sqrt(bn.runningVar() + kEps) + bn.runningMean();
  return {raw.reshape({-1}), y.reshape({-1})};
}

PredictorFitResult AccuracyPredictor::fit(const at::Tensor& Xin, const at::Tensor& yin, const PredictorFitOptions& o) {
  TORCH_CHECK(Xin.dim() == 2 && Xin.size(1) == inFeats_, "fit: X must be (N, ", inFeats_, "), got ", Xin.sizes());
  TORCH_CHECK(yin.numel() == Xin.size(0), "fit: y has ", yin.numel(), " values for ", Xin.size(0), " encodings");
  TORCH_CHECK(o.loss == "mse" || o.loss == "l1" || o.loss == "smoothl1", "fit: loss must be mse, l1 or smoothl1, got '",
              o.loss, "'");
  TORCH_CHECK(o.optimizer == "adam" || o.optimizer == "sgd", "fit: optimizer must be adam or sgd, got '", o.optimizer, "'");
  TORCH_CHECK(o.scheduler == "steplr" || o.scheduler == "cycliclr", "fit: scheduler must be steplr or cycliclr, got '",
              o.scheduler, "'");
  TORCH_CHECK(o.epochs >= 1 && o.epochs <= 100000, "fit: epochs must be in [1, 100000], got ", o.epochs);
  TORCH_CHECK(o.batchSize >= 2, "fit: batchSize must be at least 2 (BatchNorm needs two rows), got ", o.batchSize);
  TORCH_CHECK(o.cycle >= 1, "fit: cycle must be at least 1, got ", o.cycle);
  const at::Tensor X = Xin.to(at::kFloat).contiguous();
  const at::Tensor y = yin.to(at::kFloat).reshape({-1, 1}).contiguous();
  const int64_t n = X.size(0);
  const int64_t full = n / o.batchSize, rest = n % o.batchSize;
  TORCH_CHECK(!(o.dropLast && full == 0), "fit: ", n, " pairs give no full batch of ", o.batchSize,
              " (drop_last, as the reference): give at least ", o.batchSize, " pairs or a smaller batchSize");
  TORCH_CHECK(!(!o.dropLast && rest == 1), "fit: ", n, " pairs leave a last batch of 1 row, which BatchNorm cannot train on;"
              " use dropLast or another batchSize");
  const int64_t batches = full + (!o.dropLast && rest > 0 ? 1 : 0);

  if (!fit_ || o.freshOptimizer) {
    auto s = std::make_unique<FitState>();
    s->optimizer = o.optimizer;
    s->scheduler = o.scheduler;
    s->params = model_->parameters();  // `model` only: ynorm's weight and bias are never stepped
    s->weightDecay = o.weightDecay;
    s->lr = o.lr;
    if (o.optimizer == "adam") {
      train::AdamOptions ao;
      ao.lr = o.lr;
      ao.weightDecay = o.weightDecay;
      s->adam = std::make_unique<train::Adam>(s->params, ao);
    } else {
      s->momentumBuffers.resize(s->params.size());
    }
    s->gamma = o.gamma;
    if (o.scheduler == "steplr") {
      s->stepSize = o.epochs / o.cycle;  // StepLR(optimizer, n_epoch // cycle, gamma)
      TORCH_CHECK(s->stepSize >= 1 || o.epochs == 1, "fit: StepLR's step size epochs // cycle = ", o.epochs, " // ",
                  o.cycle, " is 0");
    } else {
      // CyclicLR(lr * gamma, lr, step_size_up = (N // 256) * (n_epoch // 2 // cycle), triangular2); momentum cycles
      // (0.8..0.9) for SGD only.
      s->baseLr = o.lr * o.gamma;
      s->maxLr = o.lr;
      s->stepUp = static_cast<double>((n / o.batchSize) * (o.epochs / 2 / o.cycle));
      TORCH_CHECK(s->stepUp >= 1, "fit: CyclicLR's step_size_up (N // batchSize) * (epochs // 2 // cycle) is 0");
      s->cycleMomentum = o.optimizer == "sgd";
      s->lastEpoch = 0;
      s->applyCyclic();
    }
    fit_ = std::move(s);
  }
  FitState& s = *fit_;

  // RandomSampler: per epoch a seed from the (default or private) generator, then randperm.
  at::Generator source = o.hasSeed ? at::detail::createCPUGenerator(o.seed) : at::detail::getDefaultCPUGenerator();
  PredictorFitResult result;
  result.batchesPerEpoch = batches;
  train(true);
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const int64_t epochSeed = at::empty({}, at::kLong).random_(source).item<int64_t>();
    const at::Tensor perm = at::randperm(n, at::detail::createCPUGenerator(static_cast<uint64_t>(epochSeed)), at::kLong);
    double lossSum = 0;
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t start = b * o.batchSize, len = std::min(o.batchSize, n - start);
      const at::Tensor idx = perm.narrow(0, start, len);
      const at::Tensor xb = X.index_select(0, idx), yb = y.index_select(0, idx);
      s.zeroGrad();
      at::Tensor out = forward(xb);
      at::Tensor target;
      {
        at::NoGradGuard noGrad;  // ynorm's parameters get no step, so their gradient is not needed
        target = ynorm_->forward(yb);
      }
      at::Tensor loss = o.loss == "mse" ? at::mse_loss(out, target)
                        : o.loss == "l1" ? at::l1_loss(out, target)
                                         : at::smooth_l1_loss(out, target, at::Reduction::Mean, 1.0);
      loss.backward();
      s.step();
      lossSum += loss.item<double>();
      if (s.scheduler == "cycliclr") s.cyclicStep();
    }
    result.epochLoss.push_back(lossSum / static_cast<double>(batches));
    if (s.scheduler == "steplr" && epoch < o.epochs - 1) s.stepLrStep();
    result.epochLr.push_back(s.lr);
  }
  auto [raw, pred] = predict(X);
  result.l1Error = (pred - y.reshape({-1})).abs().mean().item<double>();
  return result;
}

}  // namespace autospeech::tdnn
