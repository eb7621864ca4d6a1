// Type-checked receivers and arguments for the ObjectWrap classes. ObjectWrap::Unwrap trusts any
// wrapped object, so `Model.prototype.forward.call(aFeatureReader)` or `new Trainer(aReader)` would
// run ModelWrap code on a ReaderWrap: a crash. Each wrapper tags its instances with its own N-API
// type tag (napi_type_tag_object, N-API 8) in its constructor; its methods are defined through
// checkedMethod / checkedGetter, which refuse every other receiver with a TypeError before any
// member is touched, and objects passed as arguments are unwrapped with unwrapTagged.
//
// A wrapper W provides: static constexpr napi_type_tag kTypeTag (unique per class) and
// static constexpr const char* kClassName.
#pragma once
#include <napi.h>

#include <exception>
#include <string>

#include "binding/guard.h"

namespace autospeech {

template <typename W>
void tagInstance(const Napi::CallbackInfo& info) {
  info.This().As<Napi::Object>().TypeTag(&W::kTypeTag);
}

template <typename W>
bool isInstance(const Napi::Value& v) {
  return v.IsObject() && v.As<Napi::Object>().CheckTypeTag(&W::kTypeTag);
}

// The W behind v, or a TypeError naming `what` and the class it had to be.
template <typename W>
W* unwrapTagged(const Napi::Value& v, const std::string& what) {
  if (!isInstance<W>(v)) throw Napi::TypeError::New(v.Env(), what + " must be a " + W::kClassName + " instance");
  return W::Unwrap(v.As<Napi::Object>());
}

namespace detail {

template <typename W, Napi::Value (W::*M)(const Napi::CallbackInfo&)>
napi_value checkedCallback(napi_env env, napi_callback_info cbinfo) {
  Napi::CallbackInfo info(env, cbinfo);
  try {
    W* self = unwrapTagged<W>(info.This(), std::string("the receiver (this) of a ") + W::kClassName + " method");
    return (self->*M)(info);
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
  } catch (...) {
    Napi::Error::New(env, "unknown native error").ThrowAsJavaScriptException();
  }
  return nullptr;
}

}  // namespace detail

// A prototype method whose receiver is checked (napi_default attributes, as InstanceMethod).
template <typename W, Napi::Value (W::*M)(const Napi::CallbackInfo&)>
Napi::ClassPropertyDescriptor<W> checkedMethod(const char* name) {
  return napi_property_descriptor{name, nullptr, detail::checkedCallback<W, M>, nullptr, nullptr, nullptr, napi_default, nullptr};
}

// A read-only prototype accessor whose receiver is checked.
template <typename W, Napi::Value (W::*G)(const Napi::CallbackInfo&)>
Napi::ClassPropertyDescriptor<W> checkedGetter(const char* name) {
  return napi_property_descriptor{name, nullptr, nullptr, detail::checkedCallback<W, G>, nullptr, nullptr, napi_default, nullptr};
}

}  // namespace autospeech
