#include "models/factory.h"

#include <cmath>

#include "binding/guard.h"
#include "models/model.h"
#include "models/model_search.h"
#include "models/resnet.h"
#include "models/tdnn/dynamic_tdnn.h"

namespace autospeech::models {

const std::vector<std::string>& defaultPrimitives() {
  static const std::vector<std::string> p = {"none",         "max_pool_3x3", "avg_pool_3x3", "skip_connect",
                                             "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"};
  return p;
}

std::shared_ptr<SpeakerModel> buildModel(const ModelSpec& spec) {
  ops::OperationOptions options;
  options.shiftedFactorizedReduce = spec.shiftedFactorizedReduce;
  if (spec.kind == "network") {
    if (!spec.genotype) throw ArgumentError("model spec: kind 'network' needs a genotype");
    return std::make_shared<Network>(spec.C, spec.numClasses, spec.layers, *spec.genotype, options);
  }
  if (spec.kind == "search") {
    auto net = std::make_shared<SearchNetwork>(spec.C, spec.numClasses, spec.layers,
                                               spec.primitives.empty() ? defaultPrimitives() : spec.primitives,
                                               spec.steps, spec.multiplier, spec.stemMultiplier, options);
    if (spec.mixing == "gumbel") net->setMixing(Mixing::Gumbel);
    else if (spec.mixing == "softmax") net->setMixing(Mixing::Softmax);
    else throw ArgumentError("model spec: mixing must be 'gumbel' or 'softmax', got '" + spec.mixing + "'");
    return net;
  }
  if (spec.kind == "resnet") {
    ResNetOptions o;
    o.depth = spec.depth;
    o.numClasses = spec.numClasses;
    const double base = 64.0 * spec.widthMult;
    if (!(base >= 1 && base <= 4096 && base == std::floor(base)))
      throw ArgumentError("model spec: widthMult " + std::to_string(spec.widthMult) + " must make 64 x widthMult a whole number of channels in [1, 4096]");
    o.baseWidth = static_cast<int64_t>(base);
    if (spec.activation == "prelu") o.prelu = true;
    else if (spec.activation != "relu") throw ArgumentError("model spec: activation must be 'relu' or 'prelu', got '" + spec.activation + "'");
    for (const std::string& g : spec.binarize) {
      bool* flag = g == "stem" ? &o.binaryStem : g == "blocks" ? &o.binaryBlocks : g == "shortcuts" ? &o.binaryShortcuts : nullptr;
      if (!flag) throw ArgumentError("model spec: binarize holds '" + g + "'; the groups are 'stem', 'blocks' and 'shortcuts'");
      if (*flag) throw ArgumentError("model spec: binarize names '" + g + "' twice");
      *flag = true;
    }
    o.binary.scale = nn::parseBinaryScale(spec.binaryScale);
    o.binary.ste = nn::parseBinarySte(spec.binarySte);
    o.binary.alphaGrad = spec.binaryAlphaGrad;
    if (!(spec.latentClip >= 0 && std::isfinite(spec.latentClip)))
      throw ArgumentError("model spec: latentClip must be a finite number >= 0 (0 = none), got " + std::to_string(spec.latentClip));
    o.binary.latentClip = spec.latentClip;
    return std::make_shared<ResNet>(o);
  }
  if (spec.kind == "tdnn") {
    tdnn::TdnnDims d;
    d.inFeats = spec.inFeats;
    d.embedDim = spec.embedDim;
    d.numBlocks = spec.numBlocks;
    d.channels = spec.tdnnChannels;
    d.kernels = spec.tdnnKernels;
    d.catChannels = spec.catChannels;
    d.standalone = spec.standalone;
    return std::make_shared<tdnn::DynamicTdnn>(d);
  }
  throw ArgumentError("model spec: kind must be 'network', 'search', 'resnet' or 'tdnn', got '" + spec.kind + "'");
}

}  // namespace autospeech::models
