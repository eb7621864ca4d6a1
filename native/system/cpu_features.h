// What the CPU can do, checked once at run time (the addon is built for baseline x86-64; kernels
// with AVX2/FMA code paths pick them with this).
#pragma once

namespace autospeech {

inline bool cpuHasAvx2Fma() {
#if defined(__x86_64__)
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}

}  // namespace autospeech
