// Device parsing and CUDA availability, without needing CUDA headers at compile time.
#pragma once
#include <c10/core/Device.h>

#include <string>

namespace autospeech {

bool cudaAvailable();
int64_t cudaDeviceCount();
// "cpu", "cuda" or "cuda:N"; throws a clear error when CUDA is asked of a CPU-only libtorch.
c10::Device parseDevice(const std::string& name);

}  // namespace autospeech
