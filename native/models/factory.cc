#include "models/factory.h"

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
  if (spec.kind == "resnet") return std::make_shared<ResNet>(spec.depth, spec.numClasses);
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
