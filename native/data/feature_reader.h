// Read-only access to a feature store's shards through mmap, and the reference's sample assembly:
//  - training crop of P frames: T <= P -> frame-repeat x2 (np.repeat, each frame twice) until
//    T >= P, take the first P; else frames [start, start + P); normalise; optionally reverse time;
//  - test windows: frame-repeat x2 while T <= P, then windows of P at hop P / 2, remainder dropped.
// Normalisation is (x - mean) / std per bin in float32, as numpy. The random choices (start, flip)
// come from the caller, whose generator state is checkpointed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace autospeech::data {

struct Span {
  int32_t shard;
  int64_t offset;  // in frames
  int64_t frames;
};

class FeatureReader {
 public:
  FeatureReader(const std::vector<std::string>& shardFiles, int64_t bins);
  ~FeatureReader();
  FeatureReader(const FeatureReader&) = delete;
  FeatureReader& operator=(const FeatureReader&) = delete;

  int64_t bins() const { return bins_; }
  // The span's frames in the mapping (bounds-checked: a truncated shard is an error).
  const float* frames(const Span& s) const;

  // One training sample into out (P * bins floats). start is ignored when T <= P.
  void trainCrop(const Span& s, int64_t start, bool flip, int64_t P, const float* mean, const float* std, float* out) const;

  // Number of test windows of an utterance of T frames.
  static int64_t windowCount(int64_t T, int64_t P);
  // Its windows into out (windowCount * P * bins floats).
  void testWindows(const Span& s, int64_t P, const float* mean, const float* std, float* out) const;

 private:
  struct Mapping {
    std::string path;
    const float* data = nullptr;
    size_t bytes = 0;
  };
  void release();
  std::vector<Mapping> maps_;
  int64_t bins_;
};

}  // namespace autospeech::data
