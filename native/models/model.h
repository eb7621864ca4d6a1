// The derived network built from a genotype (reference models/model.py): DARTS-ImageNet stem
// (stem0, stem1 with its in-place ReLU), cells with reductions at layers//3 and 2*layers//3,
// reduction_prev = true for cell 0, global average pooling, linear classifier.
#pragma once
#include "models/genotype_spec.h"
#include "models/speaker_model.h"
#include "ops/operations.h"

namespace autospeech::models {

class Cell : public nn::Module {
 public:
  Cell(const GenotypeSpec& genotype, int64_t Cpp, int64_t Cp, int64_t C, bool reduction, bool reductionPrev,
       const ops::OperationOptions& options);
  at::Tensor forward(const at::Tensor& s0, const at::Tensor& s1, double dropProb);
  int64_t multiplier() const { return static_cast<int64_t>(concat_.size()); }

 private:
  nn::LayerPtr preprocess0_, preprocess1_;
  std::vector<nn::LayerPtr> ops_;
  std::vector<int64_t> indices_;
  std::vector<int64_t> concat_;
};

class Network : public SpeakerModel {
 public:
  Network(int64_t C, int64_t numClasses, int64_t layers, const GenotypeSpec& genotype,
          const ops::OperationOptions& options = {});
  at::Tensor embed(const at::Tensor& input, Trace* trace = nullptr) override;
  at::Tensor classify(const at::Tensor& embedding) override { return classifier_->forward(embedding); }
  std::string kind() const override { return "network"; }

 private:
  std::shared_ptr<nn::Sequential> stem0_, stem1_;
  std::vector<std::shared_ptr<Cell>> cells_;
  std::shared_ptr<nn::Linear> classifier_;
};

}  // namespace autospeech::models
