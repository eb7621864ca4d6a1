#include "system/compute_thread.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace autospeech {
namespace {

class ComputeThread {
 public:
  ComputeThread() : thread_([this] { loop(); }) { thread_.detach(); }

  void run(const std::function<void()>& job) {
    struct Slot {
      std::mutex m;
      std::condition_variable cv;
      bool done = false;
      std::exception_ptr error;
    } slot;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.emplace_back([&] {
        try {
          job();
        } catch (...) {
          slot.error = std::current_exception();
        }
        std::lock_guard<std::mutex> l(slot.m);
        slot.done = true;
        slot.cv.notify_one();
      });
    }
    cv_.notify_one();
    std::unique_lock<std::mutex> lock(slot.m);
    slot.cv.wait(lock, [&] { return slot.done; });
    if (slot.error) std::rethrow_exception(slot.error);
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::thread thread_;
};

}  // namespace

void runOnComputeThread(const std::function<void()>& job) {
  static auto* worker = new ComputeThread();  // lives for the process
  worker->run(job);
}

}  // namespace autospeech
