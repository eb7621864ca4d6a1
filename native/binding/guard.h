// Error guard for every native entry point. An uncaught c10::Error aborts Node (exit 134),
// so each binding body runs inside guard(): torch and std errors become JS errors that carry
// the message without the C++ backtrace.
#pragma once
#include <napi.h>
#include <c10/util/Exception.h>

#include <exception>
#include <stdexcept>
#include <string>

namespace autospeech {

// Thrown for bad arguments detected before any torch call; surfaces as a JS TypeError.
struct ArgumentError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// The message of the exception currently being handled (for AsyncWorker::SetError).
inline std::string currentExceptionMessage() {
  try {
    throw;
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown native error";
  }
}

template <typename Fn>
auto guard(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;  // already a JS error
  } catch (const ArgumentError& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  } catch (...) {
    throw Napi::Error::New(env, "unknown native error");
  }
}

}  // namespace autospeech
