// A normalised genotype as it crosses from TypeScript (the DSL lives in lib/genotype).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace autospeech::models {

struct GenotypeSpec {
  std::vector<std::pair<std::string, int64_t>> normal;
  std::vector<int64_t> normalConcat;
  std::vector<std::pair<std::string, int64_t>> reduce;
  std::vector<int64_t> reduceConcat;
};

}  // namespace autospeech::models
