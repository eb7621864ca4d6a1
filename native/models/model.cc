#include "models/model.h"

#include <ATen/ATen.h>

#include "binding/guard.h"
#include "models/drop_path.h"
#include "nn/shared_relu.h"

namespace autospeech::models {

Cell::Cell(const GenotypeSpec& genotype, int64_t Cpp, int64_t Cp, int64_t C, bool reduction, bool reductionPrev,
           const ops::OperationOptions& options) {
  preprocess0_ = registerModule("preprocess0", ops::cellPreprocess0(Cpp, C, reductionPrev, true, options));
  preprocess1_ = registerModule("preprocess1", ops::cellPreprocess1(Cp, C, true));

  const auto& genes = reduction ? genotype.reduce : genotype.normal;
  concat_ = reduction ? genotype.reduceConcat : genotype.normalConcat;
  if (genes.empty() || genes.size() % 2 != 0)
    throw ArgumentError("genotype: each cell needs an even, non-zero number of genes");
  auto list = registerModule("_ops", std::make_shared<nn::ModuleList>());
  for (size_t i = 0; i < genes.size(); ++i) {
    const auto& [name, index] = genes[i];
    int64_t node = static_cast<int64_t>(i / 2);
    if (index < 0 || index >= node + 2)
      throw ArgumentError("genotype: gene " + std::to_string(i) + " input " + std::to_string(index) +
                          " is out of range for node " + std::to_string(node + 2));
    int64_t stride = reduction && index < 2 ? 2 : 1;
    ops_.push_back(list->push(ops::makeOperation(name, C, stride, true, options)));
    indices_.push_back(index);
  }
  int64_t states = 2 + static_cast<int64_t>(genes.size() / 2);
  if (concat_.empty()) throw ArgumentError("genotype: concat list is empty");
  for (int64_t c : concat_)
    if (c < 0 || c >= states) throw ArgumentError("genotype: concat index " + std::to_string(c) + " out of range");
}

at::Tensor Cell::forward(const at::Tensor& s0In, const at::Tensor& s1In, double dropProb) {
  std::vector<at::Tensor> states{preprocess0_->forward(s0In), preprocess1_->forward(s1In)};
  bool drop = isTraining() && dropProb > 0.0;
  for (size_t i = 0; i < ops_.size() / 2; ++i) {
    auto& op1 = ops_[2 * i];
    auto& op2 = ops_[2 * i + 1];
    at::Tensor h1 = op1->forward(states[indices_[2 * i]]);
    at::Tensor h2 = op2->forward(states[indices_[2 * i + 1]]);
    if (drop) {
      if (!op1->isIdentity()) h1 = dropPath(h1, dropProb);
      if (!op2->isIdentity()) h2 = dropPath(h2, dropProb);
    }
    states.push_back(h1 + h2);
  }
  std::vector<at::Tensor> out;
  for (int64_t c : concat_) out.push_back(states[c]);
  return at::cat(out, 1);
}

Network::Network(int64_t C, int64_t numClasses, int64_t layers, const GenotypeSpec& genotype,
                 const ops::OperationOptions& options) {
  if (C < 2 || C % 2 != 0) throw ArgumentError("network: INIT_CHANNELS must be an even number >= 2, got " + std::to_string(C));
  if (layers < 1) throw ArgumentError("network: LAYERS must be >= 1, got " + std::to_string(layers));
  if (numClasses < 1) throw ArgumentError("network: NUM_CLASSES must be >= 1, got " + std::to_string(numClasses));
  using nn::Conv2dOptions;
  stem0_ = registerModule("stem0", std::make_shared<nn::Sequential>(std::vector<nn::LayerPtr>{
      std::make_shared<nn::Conv2d>(Conv2dOptions{1, C / 2, {3, 3}, {2, 2}, {1, 1}}),
      std::make_shared<nn::BatchNorm2d>(C / 2),
      std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Conv2d>(Conv2dOptions{C / 2, C, {3, 3}, {2, 2}, {1, 1}}),
      std::make_shared<nn::BatchNorm2d>(C)}));
  stem1_ = registerModule("stem1", std::make_shared<nn::Sequential>(std::vector<nn::LayerPtr>{
      std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Conv2d>(Conv2dOptions{C, C, {3, 3}, {2, 2}, {1, 1}}),
      std::make_shared<nn::BatchNorm2d>(C)}));

  int64_t Cpp = C, Cp = C, Ccur = C;
  bool reductionPrev = true;  // stem1 already halved the map
  auto list = registerModule("cells", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < layers; ++i) {
    bool reduction = i == layers / 3 || i == 2 * layers / 3;
    if (reduction) Ccur *= 2;
    auto cell = list->push(std::make_shared<Cell>(genotype, Cpp, Cp, Ccur, reduction, reductionPrev, options));
    cells_.push_back(cell);
    reductionPrev = reduction;
    Cpp = Cp;
    Cp = cell->multiplier() * Ccur;
  }
  classifier_ = registerModule("classifier", std::make_shared<nn::Linear>(Cp, numClasses));
}

at::Tensor Network::embed(const at::Tensor& input, Trace* trace) {
  const nn::SharedReluScope sharedRelus;  // the preprocess ReLUs of two cells on one output run once
  at::Tensor x = input.unsqueeze(1);
  at::Tensor s0 = stem0_->forward(x);
  if (trace) trace->emplace_back("stem0", s0);
  at::Tensor s1 = stem1_->forward(s0);
  if (trace) trace->emplace_back("stem1", s1);
  // stem1 starts with an in-place ReLU in the reference, which also rectifies s0.
  s0 = nn::sharedRelu(s0);
  for (size_t i = 0; i < cells_.size(); ++i) {
    at::Tensor next = cells_[i]->forward(s0, s1, dropPathProb_);
    s0 = s1;
    s1 = next;
    if (trace) trace->emplace_back("cell" + std::to_string(i), s1);
  }
  at::Tensor v = at::adaptive_avg_pool2d(s1, {1, 1});
  return v.reshape({v.size(0), -1});
}

}  // namespace autospeech::models
