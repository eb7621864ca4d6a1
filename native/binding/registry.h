// Binding registry: each binding file registers its exports with a static Registrar, so
// addon.cc stays a tiny init and features can be added without touching a central list.
#pragma once
#include <napi.h>

#include <functional>
#include <string>
#include <vector>

namespace autospeech {

using InitFn = std::function<void(Napi::Env, Napi::Object)>;

struct BindingEntry {
  std::string name;
  InitFn init;
};

std::vector<BindingEntry>& bindingRegistry();

struct Registrar {
  Registrar(const char* name, InitFn init) { bindingRegistry().push_back({name, std::move(init)}); }
};

}  // namespace autospeech
