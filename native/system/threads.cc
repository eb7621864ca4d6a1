#include "system/threads.h"

#include <ATen/Parallel.h>
#include <omp.h>

#include <atomic>

#include "system/compute_thread.h"

namespace autospeech {
namespace {
std::atomic<int> threads{1};
}

void setComputeThreads(int n) {
  threads = n;
  runOnComputeThread([n] { at::set_num_threads(n); });
  // The calling (JS main) thread must never start an OpenMP team of its own.
  at::set_num_threads(n);  // keeps ATen's global default for any new thread
  omp_set_num_threads(1);
}

int computeThreads() { return threads; }

}  // namespace autospeech
