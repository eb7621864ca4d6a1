#include "data/feature_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>
#include <stdexcept>

namespace autospeech::data {
namespace {

// Row r of an utterance of T frames after doubling k times with np.repeat(x, 2, axis=0).
inline int64_t repeatedRow(int64_t r, int k) { return r >> k; }

// Doublings the reference applies: training while T < P, testing while T <= P.
int doublings(int64_t T, int64_t P, bool inclusive) {
  if (T < 1 || P < 1) throw std::out_of_range("FeatureReader: an utterance of " + std::to_string(T) + " frames cannot fill windows of " + std::to_string(P));
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
    Shard sh;
    sh.path = path;
    sh.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (sh.fd < 0) {
      const std::string why = std::strerror(errno);
      release();
      throw std::runtime_error(path + ": cannot open shard (" + why + ")");
    }
    struct stat st{};
    ::fstat(sh.fd, &st);
    sh.bytes = static_cast<size_t>(st.st_size);
    // Crops touch a random 3 s slice of each utterance: no read-ahead of whole files.
    ::posix_fadvise(sh.fd, 0, 0, POSIX_FADV_RANDOM);
    shards_.push_back(sh);
  }
}

FeatureReader::~FeatureReader() { release(); }

void FeatureReader::release() {
  for (auto& sh : shards_)
    if (sh.fd >= 0) ::close(sh.fd);
  shards_.clear();
}

void FeatureReader::checkSpan(const Span& s) const {
  if (s.shard < 0 || static_cast<size_t>(s.shard) >= shards_.size())
    throw std::out_of_range("FeatureReader: shard " + std::to_string(s.shard) + " out of range (" + std::to_string(shards_.size()) + " shards)");
  const Shard& sh = shards_[static_cast<size_t>(s.shard)];
  if (s.frames < 1 || s.offset < 0)
    throw std::out_of_range(sh.path + ": an utterance needs frames >= 1 at an offset >= 0, got " + std::to_string(s.frames) + " frames at " + std::to_string(s.offset));
  if (static_cast<size_t>((s.offset + s.frames) * bins_) * sizeof(float) > sh.bytes)
    throw std::out_of_range(sh.path + ": frames [" + std::to_string(s.offset) + ", " + std::to_string(s.offset + s.frames) +
                            ") lie beyond the shard's " + std::to_string(sh.bytes / sizeof(float) / bins_) + " frames (truncated shard?)");
}

void FeatureReader::readRows(const Span& s, int64_t first, int64_t count, float* out) const {
  checkSpan(s);
  if (first < 0 || count < 0 || first + count > s.frames)
    throw std::out_of_range("FeatureReader: rows [" + std::to_string(first) + ", " + std::to_string(first + count) + ") outside the utterance's " +
                            std::to_string(s.frames) + " frames");
  const Shard& sh = shards_[static_cast<size_t>(s.shard)];
  const size_t want = static_cast<size_t>(count * bins_) * sizeof(float);
  off_t at = static_cast<off_t>((s.offset + first) * bins_) * static_cast<off_t>(sizeof(float));
  char* dst = reinterpret_cast<char*>(out);
  size_t got = 0;
  while (got < want) {
    ssize_t n = ::pread(sh.fd, dst + got, want - got, at + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw std::runtime_error(sh.path + ": reading " + std::to_string(want) + " bytes at offset " + std::to_string(at) + " returned " +
                               (n < 0 ? std::string(std::strerror(errno)) : "end of file after " + std::to_string(got) + " bytes") +
                               " (the shard was truncated or replaced while this run read it; re-run preprocess)");
    got += static_cast<size_t>(n);
  }
}

void FeatureReader::trainCrop(const Span& s, int64_t start, bool flip, int64_t P, const float* mean, const float* std, float* out) const {
  checkSpan(s);
  const int64_t T = s.frames;
  const int k = doublings(T, P, false);
  if (k == 0 && (start < 0 || start + P > T))
    throw std::out_of_range("trainCrop: start " + std::to_string(start) + " outside [0, " + std::to_string(T - P) + "]");
  // The rows the crop reads: the P from start, or the whole (short) utterance it repeats.
  thread_local std::vector<float> rows;
  const int64_t first = k > 0 ? 0 : start, count = k > 0 ? T : P;
  rows.resize(static_cast<size_t>(count * bins_));
  readRows(s, first, count, rows.data());
  const float* x = rows.data();
  for (int64_t r = 0; r < P; ++r) {
    const int64_t src = k > 0 ? repeatedRow(r, k) : r;  // a row of `rows`
    const int64_t dst = flip ? P - 1 - r : r;
    normalizeRow(x + src * bins_, mean, std, bins_, out + dst * bins_);
  }
}

int64_t FeatureReader::windowCount(int64_t T, int64_t P) {
  const int64_t length = T << doublings(T, P, true), hop = P / 2;
  return (length - P) / hop + 1;
}

void FeatureReader::testWindows(const Span& s, int64_t P, const float* mean, const float* std, float* out) const {
  thread_local std::vector<float> rows;
  checkSpan(s);
  rows.resize(static_cast<size_t>(s.frames * bins_));
  readRows(s, 0, s.frames, rows.data());
  const float* x = rows.data();
  const int k = doublings(s.frames, P, true);
  const int64_t count = windowCount(s.frames, P), hop = P / 2;
  for (int64_t w = 0; w < count; ++w)
    for (int64_t r = 0; r < P; ++r)
      normalizeRow(x + repeatedRow(w * hop + r, k) * bins_, mean, std, bins_, out + (w * P + r) * bins_);
}

}  // namespace autospeech::data
