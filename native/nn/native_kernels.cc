#include "nn/native_kernels.h"

#include <atomic>
#include <cstdlib>
#include <string>

namespace autospeech::nn {
namespace {

std::atomic<bool> enabled{[] {
  const char* v = std::getenv("AUTOSPEECH_NATIVE_KERNELS");
  return !(v && std::string(v) == "0");
}()};

}  // namespace

bool nativeKernelsEnabled() { return enabled.load(std::memory_order_relaxed); }
void setNativeKernels(bool on) { enabled.store(on); }

}  // namespace autospeech::nn
