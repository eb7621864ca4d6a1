#include "data/feature_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace autospeech::data {
namespace {

// Row r of an utterance of T frames after doubling k times with np.repeat(x, 2, axis=0).
inline int64_t repeatedRow(int64_t r, int k) { return r >> k; }

// Doublings the reference applies: training while T < P, testing while T <= P.
int doublings(int64_t T, int64_t P, bool inclusive) {
  int k = 0;
  while (inclusive ? (T << k) <= P : (T << k) < P) ++k;
  return k;
}

inline void normalizeRow(const float* src, const float* mean, const float* std, int64_t bins, float* dst) {
  for (int64_t b = 0; b < bins; ++b) dst[b] = (src[b] - mean[b]) / std[b];
}

}  // namespace

FeatureReader::FeatureReader(const std::vector<std::string>& shardFiles, int64_t bins) : bins_(bins) {
  if (bins < 1) throw std::invalid_argument("FeatureReader: bins must be positive");
  for (const auto& path : shardFiles) {
    Mapping m;
    m.path = path;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const std::string why = std::strerror(errno);
      release();
      throw std::runtime_error(path + ": cannot open shard (" + why + ")");
    }
    struct stat st{};
    ::fstat(fd, &st);
    m.bytes = static_cast<size_t>(st.st_size);
    if (m.bytes > 0) {
      void* p = ::mmap(nullptr, m.bytes, PROT_READ, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        release();
        throw std::runtime_error(path + ": cannot map shard (" + why + ")");
      }
      // Crops touch a random 3 s slice of each utterance: no read-ahead of whole files.
      ::madvise(p, m.bytes, MADV_RANDOM);
      m.data = static_cast<const float*>(p);
    }
    ::close(fd);
    maps_.push_back(m);
  }
}

FeatureReader::~FeatureReader() { release(); }

void FeatureReader::release() {
  for (auto& m : maps_)
    if (m.data) ::munmap(const_cast<float*>(m.data), m.bytes);
  maps_.clear();
}

const float* FeatureReader::frames(const Span& s) const {
  if (s.shard < 0 || static_cast<size_t>(s.shard) >= maps_.size())
    throw std::out_of_range("FeatureReader: shard " + std::to_string(s.shard) + " out of range (" + std::to_string(maps_.size()) + " shards)");
  const Mapping& m = maps_[static_cast<size_t>(s.shard)];
  if (s.offset < 0 || s.frames < 1 || static_cast<size_t>((s.offset + s.frames) * bins_) * sizeof(float) > m.bytes)
    throw std::out_of_range(m.path + ": frames [" + std::to_string(s.offset) + ", " + std::to_string(s.offset + s.frames) +
                            ") lie beyond the shard's " + std::to_string(m.bytes / sizeof(float) / bins_) + " frames (truncated shard?)");
  return m.data + s.offset * bins_;
}

void FeatureReader::trainCrop(const Span& s, int64_t start, bool flip, int64_t P, const float* mean, const float* std, float* out) const {
  const float* x = frames(s);
  const int64_t T = s.frames;
  const int k = doublings(T, P, false);
  if (k == 0 && (start < 0 || start + P > T))
    throw std::out_of_range("trainCrop: start " + std::to_string(start) + " outside [0, " + std::to_string(T - P) + "]");
  for (int64_t r = 0; r < P; ++r) {
    const int64_t src = k > 0 ? repeatedRow(r, k) : start + r;
    const int64_t dst = flip ? P - 1 - r : r;
    normalizeRow(x + src * bins_, mean, std, bins_, out + dst * bins_);
  }
}

int64_t FeatureReader::windowCount(int64_t T, int64_t P) {
  const int64_t length = T << doublings(T, P, true), hop = P / 2;
  return (length - P) / hop + 1;
}

void FeatureReader::testWindows(const Span& s, int64_t P, const float* mean, const float* std, float* out) const {
  const float* x = frames(s);
  const int k = doublings(s.frames, P, true);
  const int64_t count = windowCount(s.frames, P), hop = P / 2;
  for (int64_t w = 0; w < count; ++w)
    for (int64_t r = 0; r < P; ++r)
      normalizeRow(x + repeatedRow(w * hop + r, k) * bins_, mean, std, bins_, out + (w * P + r) * bins_);
}

}  // namespace autospeech::data
