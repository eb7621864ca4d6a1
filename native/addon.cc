// Module init only: every binding file registers itself through binding/registry.h.
#include <napi.h>

#include "binding/registry.h"

namespace autospeech {
std::vector<BindingEntry>& bindingRegistry() {
  static std::vector<BindingEntry> entries;
  return entries;
}
}  // namespace autospeech

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto& entry : autospeech::bindingRegistry()) entry.init(env, exports);
  return exports;
}

NODE_API_MODULE(autospeech, Init)
