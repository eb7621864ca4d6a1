// A native kernel's once-per-process check against ATen: run the first time the kernel is needed
// (thread-safe), remembered after, and reported by `autospeech doctor`.
#pragma once
#include <mutex>
#include <string>

namespace autospeech::nn {

class SelfCheck {
 public:
  // Runs `check` (returning whether the kernel agreed with ATen) the first time only.
  template <typename Check>
  bool passed(Check check) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ == State::unverified) state_ = check() ? State::passed : State::failed;
    return state_ == State::passed;
  }

  // `passedText`, "ATen's (self-check failed)" or "not checked yet".
  std::string status(const std::string& passedText) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ == State::passed) return passedText;
    return state_ == State::failed ? "ATen's (self-check failed)" : "not checked yet";
  }

 private:
  enum class State { unverified, passed, failed };
  mutable std::mutex mutex_;
  State state_ = State::unverified;
};

}  // namespace autospeech::nn
