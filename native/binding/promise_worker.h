// AsyncWorker base for long native calls: the JS side gets a Promise. Run() executes on the single
// compute thread, or the prefetch thread for data jobs (see system/compute_thread.h), and must not
// touch N-API; Resolve() builds the JS result on the main thread.
#pragma once
#include <napi.h>

#include <ATen/Parallel.h>

#include "binding/guard.h"
#include "system/compute_thread.h"

namespace autospeech {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Runner = void (*)(const std::function<void()>&);
  explicit PromiseWorker(Napi::Env env, Runner runner = runOnComputeThread)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), runner_(runner) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Resolve(Napi::Env env) { return env.Undefined(); }

 private:
  void Execute() override {
    try {
      runner_([this] { Run(); });
    } catch (...) {
      SetError(currentExceptionMessage());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Resolve(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(Napi::Error::New(env, currentExceptionMessage()).Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

  Napi::Promise::Deferred deferred_;
  Runner runner_;
};

}  // namespace autospeech
