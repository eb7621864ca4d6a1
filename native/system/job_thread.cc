#include "system/job_thread.h"

#include <exception>

namespace autospeech {

JobThread::JobThread() : thread_([this] { loop(); }) { thread_.detach(); }

void JobThread::run(const std::function<void()>& job) {
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

void JobThread::loop() {
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

}  // namespace autospeech
