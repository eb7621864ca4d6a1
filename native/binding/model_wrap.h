// The JS `Model` class (a network built from a spec). Declared here so that other bindings
// (the trainer) can take a Model argument and share its network.
#pragma once
#include <napi.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "models/speaker_model.h"

namespace autospeech {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static constexpr napi_type_tag kTypeTag{0x6d6f64656c777261ULL, 0x8c1f2e3d4b5a6978ULL};  // binding/checked_wrap.h
  static constexpr const char* kClassName = "Model";
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);
  ~ModelWrap() override;

  // The ModelWrap behind a JS value, or an ArgumentError naming `what` if it is not a Model.
  static ModelWrap* From(const Napi::Value& value, const std::string& what);

  models::SpeakerModel& model() { return *model_; }
  std::shared_ptr<models::SpeakerModel> shared() { return model_; }
  c10::Device device() const { return device_; }

  // One native job at a time per model: acquire() throws if another is running.
  std::atomic<bool> busy{false};
  void acquire(const std::string& what);
  void checkIdle(const std::string& what) const;

 private:
  const nn::NamedTensor& lookup(const std::string& name);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value GetTensor(const Napi::CallbackInfo& info);
  Napi::Value SetTensor(const Napi::CallbackInfo& info);
  Napi::Value ParamCounts(const Napi::CallbackInfo& info);
  Napi::Value NonFiniteTensors(const Napi::CallbackInfo& info);
  Napi::Value SetDropPathProb(const Napi::CallbackInfo& info);
  Napi::Value SetMixing(const Napi::CallbackInfo& info);
  Napi::Value SetChannelsLast(const Napi::CallbackInfo& info);
  Napi::Value Kind(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value BinaryLayers(const Napi::CallbackInfo& info);

  std::shared_ptr<models::SpeakerModel> model_;
  std::map<std::string, nn::NamedTensor> index_;
  c10::Device device_{c10::kCPU};
};

}  // namespace autospeech
