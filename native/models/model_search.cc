#include "models/model_search.h"

#include <ATen/ATen.h>

#include "binding/guard.h"
#include "models/drop_path.h"

namespace autospeech::models {

MixedOp::MixedOp(int64_t C, int64_t stride, const std::vector<std::string>& primitives,
                 const ops::OperationOptions& options) {
  auto list = registerModule("_ops", std::make_shared<nn::ModuleList>());
  for (const auto& name : primitives) {
    nn::LayerPtr op = ops::makeOperation(name, C, stride, /*affine=*/false, options);
    // Inside the supernet every pooling op is followed by an affine-free BN.
    if (name.find("pool") != std::string::npos)
      op = std::make_shared<nn::Sequential>(
          std::vector<nn::LayerPtr>{op, std::make_shared<nn::BatchNorm2d>(C, /*affine=*/false)});
    ops_.push_back(list->push(op));
  }
}

at::Tensor MixedOp::forward(const at::Tensor& x, const at::Tensor& weights, int64_t only, bool computeAll) {
  if (only >= 0 && !computeAll) return weights.select(0, only) * ops_[only]->forward(x);
  at::Tensor out;
  for (size_t k = 0; k < ops_.size(); ++k) {
    at::Tensor y;
    {
      // An unselected op: same value and BN statistics, no graph (its gradients would all be 0).
      at::AutoGradMode grad(at::GradMode::is_enabled() && (only < 0 || static_cast<int64_t>(k) == only));
      y = ops_[k]->forward(x);
    }
    at::Tensor term = weights.select(0, static_cast<int64_t>(k)) * y;
    out = out.defined() ? out + term : term;
  }
  return out;
}

SearchCell::SearchCell(int64_t steps, int64_t multiplier, int64_t Cpp, int64_t Cp, int64_t C, bool reduction,
                       bool reductionPrev, const std::vector<std::string>& primitives,
                       const ops::OperationOptions& options)
    : reduction_(reduction), steps_(steps), multiplier_(multiplier) {
  preprocess0_ = registerModule("preprocess0", ops::cellPreprocess0(Cpp, C, reductionPrev, false, options));
  preprocess1_ = registerModule("preprocess1", ops::cellPreprocess1(Cp, C, false));
  auto list = registerModule("_ops", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < steps; ++i)
    for (int64_t j = 0; j < 2 + i; ++j)
      ops_.push_back(list->push(std::make_shared<MixedOp>(C, reduction && j < 2 ? 2 : 1, primitives, options)));
}

at::Tensor SearchCell::forward(const at::Tensor& s0In, const at::Tensor& s1In, const at::Tensor& weights,
                               double dropProb, const at::Tensor& sampled, bool computeAll) {
  std::vector<at::Tensor> states{preprocess0_->forward(s0In), preprocess1_->forward(s1In)};
  bool drop = isTraining() && dropProb > 0.0;
  int64_t offset = 0;
  for (int64_t i = 0; i < steps_; ++i) {
    at::Tensor s;
    for (size_t j = 0; j < states.size(); ++j) {
      int64_t edge = offset + static_cast<int64_t>(j);
      int64_t only = sampled.defined() ? sampled[edge].item<int64_t>() : -1;
      at::Tensor h = ops_[edge]->forward(states[j], weights.select(0, edge), only, computeAll);
      if (drop) h = dropPath(h, dropProb);
      s = s.defined() ? s + h : h;
    }
    offset += static_cast<int64_t>(states.size());
    states.push_back(s);
  }
  std::vector<at::Tensor> out(states.end() - multiplier_, states.end());
  return at::cat(out, 1);
}

SearchNetwork::SearchNetwork(int64_t C, int64_t numClasses, int64_t layers, std::vector<std::string> primitives,
                             int64_t steps, int64_t multiplier, int64_t stemMultiplier,
                             const ops::OperationOptions& options)
    : primitives_(std::move(primitives)), steps_(steps) {
  if (C < 1) throw ArgumentError("search network: INIT_CHANNELS must be >= 1, got " + std::to_string(C));
  if (layers < 1) throw ArgumentError("search network: LAYERS must be >= 1, got " + std::to_string(layers));
  if (numClasses < 1) throw ArgumentError("search network: NUM_CLASSES must be >= 1, got " + std::to_string(numClasses));
  if (primitives_.empty()) throw ArgumentError("search network: the primitive list is empty");
  if (steps < 1 || multiplier < 1 || multiplier > steps + 2)
    throw ArgumentError("search network: need steps >= 1 and 1 <= multiplier <= steps + 2");
  int64_t Ccur = stemMultiplier * C;
  stem_ = registerModule("stem", std::make_shared<nn::Sequential>(std::vector<nn::LayerPtr>{
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions{1, Ccur, {3, 3}, {1, 1}, {1, 1}}),
      std::make_shared<nn::BatchNorm2d>(Ccur), std::make_shared<nn::MaxPool2d>(3, 2, 1)}));
  int64_t Cpp = Ccur, Cp = Ccur;
  Ccur = C;
  bool reductionPrev = false;
  auto list = registerModule("cells", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < layers; ++i) {
    bool reduction = i == layers / 3 || i == 2 * layers / 3;
    if (reduction) Ccur *= 2;
    cells_.push_back(list->push(
        std::make_shared<SearchCell>(steps, multiplier, Cpp, Cp, Ccur, reduction, reductionPrev, primitives_, options)));
    reductionPrev = reduction;
    Cpp = Cp;
    Cp = multiplier * Ccur;
  }
  classifier_ = registerModule("classifier", std::make_shared<nn::Linear>(Cp, numClasses));
  // Drawn after every weight, as the reference's _initialize_alphas.
  int64_t edges = steps * (steps + 3) / 2;
  int64_t numOps = static_cast<int64_t>(primitives_.size());
  alphasNormal_ = &registerParameter("alphas_normal", at::randn({edges, numOps}, at::kFloat).mul_(1e-3));
  alphasReduce_ = &registerParameter("alphas_reduce", at::randn({edges, numOps}, at::kFloat).mul_(1e-3));
}

at::Tensor sampleGumbelNoise(const at::Tensor& like) {
  at::NoGradGuard noGrad;
  for (;;) {
    at::Tensor g = -at::empty_like(like).exponential_().log();
    if (!at::isnan(g).any().item<bool>() && !at::isinf(g).any().item<bool>()) return g;
  }
}

at::Tensor gumbelSoftmaxHard(const at::Tensor& logits, const at::Tensor& noise) {
  at::Tensor ySoft = (logits + noise).softmax(-1);
  at::Tensor index = std::get<1>(ySoft.max(-1, /*keepdim=*/true));
  at::Tensor yHard = at::zeros_like(logits).scatter_(-1, index, 1.0);
  return yHard - ySoft.detach() + ySoft;
}

at::Tensor SearchNetwork::mixingWeights(const at::Tensor& alpha) {
  at::Tensor logits = at::log_softmax(alpha, -1);
  at::Tensor w;
  if (mixing_ == Mixing::Softmax) {
    w = logits.softmax(-1);
  } else {
    at::Tensor noise;
    if (!noise_.empty()) {
      noise = noise_.front().to(alpha.device());
      noise_.pop_front();
      TORCH_CHECK(noise.sizes() == alpha.sizes(), "gumbel noise has shape ", noise.sizes(), ", alphas have ",
                  alpha.sizes());
    } else {
      noise = sampleGumbelNoise(logits);
    }
    w = gumbelSoftmaxHard(logits, noise);
  }
  if (at::isnan(w).any().item<bool>()) throw std::overflow_error("mixing weights contain NaN (alphas diverged)");
  return w;
}

void SearchNetwork::queueGumbelNoise(std::vector<at::Tensor> noise) {
  for (auto& n : noise) noise_.push_back(std::move(n));
}

at::Tensor SearchNetwork::embed(const at::Tensor& input, Trace* trace) {
  at::Tensor x = input.unsqueeze(1);
  at::Tensor s0 = stem_->forward(x);
  at::Tensor s1 = s0;
  if (trace) trace->emplace_back("stem", s0);
  lastWeights_.clear();
  for (size_t i = 0; i < cells_.size(); ++i) {
    at::Tensor w = mixingWeights(cells_[i]->reduction() ? *alphasReduce_ : *alphasNormal_);
    lastWeights_.push_back(w);
    at::Tensor sampled;
    const bool oneHot = mixing_ == Mixing::Gumbel;
    if (oneHot && (sampledOnly_ || (sampledBackwardOnly_ && at::GradMode::is_enabled())))
      sampled = std::get<1>(w.detach().max(-1)).cpu();
    at::Tensor next = cells_[i]->forward(s0, s1, w, dropPathProb_, sampled, !sampledOnly_);
    s0 = s1;
    s1 = next;
    if (trace) trace->emplace_back("cell" + std::to_string(i), s1);
  }
  at::Tensor v = at::adaptive_avg_pool2d(s1, {1, 1});
  return v.reshape({v.size(0), -1});
}

at::Tensor SearchNetwork::archEntropy() const {
  at::NoGradGuard noGrad;
  at::Tensor p = at::softmax(*alphasNormal_, -1);
  at::Tensor logp = at::log_softmax(*alphasNormal_, -1);
  return -(logp * p).sum(-1);
}

}  // namespace autospeech::models
