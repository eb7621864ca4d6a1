// Builds a network from the normalised spec that TypeScript hands over (see lib/models/spec.ts).
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "models/genotype_spec.h"
#include "models/speaker_model.h"

namespace autospeech::models {

struct ModelSpec {
  std::string kind;  // "network" | "search" | "resnet" | "tdnn"
  int64_t C = 16;
  int64_t layers = 8;
  int64_t numClasses = 1251;
  int64_t depth = 18;  // resnet
  // resnet named options: widths x widthMult (64 widthMult must be an integer), 'relu' | 'prelu',
  // and the binary-weight groups ('stem', 'blocks', 'shortcuts'; empty = the fp32 network) with the
  // binary convs' options (nn/binary_conv.h)
  double widthMult = 1.0;
  std::string activation = "relu";
  std::vector<std::string> binarize;
  std::string binaryScale = "channel", binarySte = "clip";
  bool binaryAlphaGrad = true;
  double latentClip = 0.0;
  int64_t steps = 4, multiplier = 4, stemMultiplier = 3;  // search
  std::vector<std::string> primitives;  // search; empty = the reference's space s2
  std::optional<GenotypeSpec> genotype;  // network
  bool shiftedFactorizedReduce = false;
  std::string mixing = "gumbel";  // search
  // tdnn: sugar's DynamicTDNN (constructor arguments), or with `standalone` a clone's layout
  int64_t inFeats = 80, embedDim = 192, numBlocks = 4, catChannels = 1536;
  std::vector<int64_t> tdnnChannels, tdnnKernels;  // numBlocks + 1 each
  bool standalone = false;
};

// The 8 primitives of the reference search space s2, in alpha-column order.
const std::vector<std::string>& defaultPrimitives();

std::shared_ptr<SpeakerModel> buildModel(const ModelSpec& spec);

}  // namespace autospeech::models
