// Read-only access to a feature store's shards through pread, and the reference's sample assembly:
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
  // rows [first, first + count) of the span into out (count * bins floats). Bounds-checked against
  // the shard's size at open and against what the read returns: a shard truncated or replaced
  // while a run reads it is an error naming it, never a SIGBUS as with a memory map.
  void readRows(const Span& s, int64_t first, int64_t count, float* out) const;

  // One training sample into out (P * bins floats). start is ignored when T <= P.
  void trainCrop(const Span& s, int64_t start, bool flip, int64_t P, const float* mean, const float* std, float* out) const;

  // Number of test windows of an utterance of T frames.
  static int64_t windowCount(int64_t T, int64_t P);
  // Its windows into out (windowCount * P * bins floats).
  void testWindows(const Span& s, int64_t P, const float* mean, const float* std, float* out) const;
  // Throws std::out_of_range unless the span lies inside its shard (as every read checks).
  void checkSpan(const Span& s) const;

 private:
  struct Shard {
    std::string path;
    int fd = -1;
    size_t bytes = 0;
  };
  void release();
  std::vector<Shard> shards_;
  int64_t bins_;
};

}  // namespace autospeech::data
