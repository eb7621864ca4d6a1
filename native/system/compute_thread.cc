#include "system/compute_thread.h"

#include "system/job_thread.h"

namespace autospeech {

void runOnComputeThread(const std::function<void()>& job) {
  static auto* worker = new JobThread();  // lives for the process
  worker->run(job);
}

void runOnPrefetchThread(const std::function<void()>& job) {
  static auto* worker = new JobThread();  // lives for the process
  worker->run(job);
}

}  // namespace autospeech
