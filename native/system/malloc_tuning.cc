#include "system/malloc_tuning.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace autospeech {
namespace {

bool userTunesMalloc() {
  const char* off = std::getenv("AUTOSPEECH_MALLOC_TUNING");
  if (off && std::strcmp(off, "0") == 0) return true;
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_", "GLIBC_TUNABLES"})
    if (std::getenv(name)) return true;
  return false;
}

}  // namespace

bool applyMallocTuning() {
  static bool applied = false;
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(__GLIBC__)
    if (userTunesMalloc()) return;
    applied = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 &&
              mallopt(M_TOP_PAD, 64 << 20) == 1;
#endif
  });
  return applied;
}

}  // namespace autospeech
