#include "system/device.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include "binding/guard.h"

namespace autospeech {

bool cudaAvailable() { return at::detail::getCUDAHooks().hasCUDA(); }

int64_t cudaDeviceCount() { return cudaAvailable() ? at::detail::getCUDAHooks().getNumGPUs() : 0; }

c10::Device parseDevice(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!cudaAvailable())
      throw ArgumentError("DEVICE " + name +
                          " was asked for, but this libtorch has no CUDA (or no GPU is visible); "
                          "use DEVICE cpu or build against a CUDA libtorch (LIBTORCH=/path/to/libtorch)");
    c10::Device device(name);  // validates "cuda:N" syntax
    if (device.has_index() && device.index() >= cudaDeviceCount())
      throw ArgumentError("DEVICE " + name + ": only " + std::to_string(cudaDeviceCount()) + " CUDA device(s)");
    return device;
  }
  throw ArgumentError("DEVICE must be cpu, cuda or cuda:N, got '" + name + "'");
}

}  // namespace autospeech
