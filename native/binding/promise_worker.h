// AsyncWorker base for long native calls: the JS side gets a Promise. Run() executes on the single
// compute thread (see system/compute_thread.h) and must not touch N-API; Resolve() builds the JS
// result on the main thread.
#pragma once
#include <napi.h>

#include <ATen/Parallel.h>

#include "binding/guard.h"
#include "system/compute_thread.h"

namespace autospeech {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env, int threads = 0)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), threads_(threads) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Resolve(Napi::Env env) { return env.Undefined(); }

 private:
  void Execute() override {
    try {
      runOnComputeThread([this] {
        // OpenMP's team size is per calling thread, so set it on the compute thread too.
        if (threads_ > 0 && at::get_num_threads() != threads_) at::set_num_threads(threads_);
        Run();
      });
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
  int threads_;
};

}  // namespace autospeech
