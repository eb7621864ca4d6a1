#include "system/huge_page_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace autospeech {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;
// Freed large blocks are kept for reuse (a training step allocates the same sizes every time),
// up to this many bytes; beyond it they go back to the system.
constexpr size_t kMaxCached = size_t(8) << 30;

// Large blocks: 2 MiB aligned, advised as huge pages, and recycled by exact (rounded) size, so a
// steady training loop stops faulting after its first step. Blocks are handed out at a rotating
// offset inside their first page: if every tensor started 2 MiB-aligned, the several arrays a
// depthwise conv streams through would map to the same cache sets (measured 1.5-2x slower).
class BlockCache {
 public:
  void* take(size_t bytes) {
    size_t rounded = (bytes + kColorSpan + kHugePage - 1) / kHugePage * kHugePage;
    void* base = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(rounded);
      if (it != free_.end() && !it->second.empty()) {
        base = it->second.back();
        it->second.pop_back();
        cached_ -= rounded;
      }
    }
    if (!base) base = fresh(rounded);
    std::lock_guard<std::mutex> lock(mutex_);
    size_t offset = (color_++ * 1088) % kColorSpan;  // 64 distinct cache-line offsets mod 4 KiB
    void* ptr = static_cast<char*>(base) + offset;
    handed_[ptr] = base;
    return ptr;
  }

  // Returns false if `ptr` is not one of ours.
  bool give(void* ptr) {
    void* base;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = handed_.find(ptr);
      if (it == handed_.end()) return false;
      base = it->second;
      handed_.erase(it);
    }
    recycle(base);
    return true;
  }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) {
        sizes_.erase(p);
        std::free(p);
      }
    free_.clear();
    cached_ = 0;
  }

 private:
  static constexpr size_t kColorSpan = 4096;

  void* fresh(size_t rounded) {
    void* ptr = nullptr;
    if (posix_memalign(&ptr, kHugePage, rounded) != 0 || ptr == nullptr) {
      release();  // memory pressure: drop the cache and try once more
      if (posix_memalign(&ptr, kHugePage, rounded) != 0 || ptr == nullptr) throw std::bad_alloc();
    }
    madvise(ptr, rounded, MADV_HUGEPAGE);  // advisory: ignored where THP is off
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[ptr] = rounded;
    return ptr;
  }

  void recycle(void* base) {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t size = sizes_.at(base);
    if (cached_ + size <= kMaxCached) {
      free_[size].push_back(base);
      cached_ += size;
    } else {
      sizes_.erase(base);
      std::free(base);
    }
  }

  std::mutex mutex_;
  std::unordered_map<void*, void*> handed_;
  size_t color_ = 0;
  std::unordered_map<size_t, std::vector<void*>> free_;
  std::unordered_map<void*, size_t> sizes_;
  size_t cached_ = 0;
};

BlockCache& cache() {
  static auto* c = new BlockCache();  // never destroyed: tensors may outlive static destruction
  return *c;
}

// Small blocks come from c10's default allocator, which also frees with free().
void deleteBlock(void* ptr) {
  if (!cache().give(ptr)) std::free(ptr);
}

class HugePageAllocator final : public c10::Allocator {
 public:
  explicit HugePageAllocator(c10::Allocator* fallback) : fallback_(fallback) {}

  c10::DataPtr allocate(size_t bytes) const override {
    if (bytes < kHugePage) return fallback_->allocate(bytes);
    void* ptr = cache().take(bytes);
    return {ptr, ptr, &deleteBlock, c10::Device(c10::DeviceType::CPU)};
  }
  // oneDNN allocates through raw_allocate/raw_deallocate.
  c10::DeleterFnPtr raw_deleter() const override { return &deleteBlock; }

 private:
  c10::Allocator* fallback_;
};

c10::Allocator* originalAllocator = nullptr;
bool active = false;

}  // namespace

void useHugePageAllocator(bool on) {
  if (!originalAllocator) originalAllocator = c10::GetCPUAllocator();
  static HugePageAllocator huge(originalAllocator);
  // c10 only lets an equal or higher priority replace the current allocator.
  static uint8_t priority = 10;
  if (priority < 255) ++priority;
  c10::SetCPUAllocator(on ? static_cast<c10::Allocator*>(&huge) : originalAllocator, priority);
  if (!on) cache().release();
  active = on;
}

bool hugePageAllocatorActive() { return active; }

}  // namespace autospeech
