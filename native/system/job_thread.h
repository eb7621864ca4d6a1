// A long-lived thread that runs submitted jobs one at a time, in order. The compute thread (all
// libtorch work) and the data prefetch thread are two instances.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace autospeech {

class JobThread {
 public:
  JobThread();
  // Runs `job` on this thread and blocks until it finishes; rethrows its exception.
  void run(const std::function<void()>& job);

 private:
  void loop();
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::thread thread_;
};

}  // namespace autospeech
