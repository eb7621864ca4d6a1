#include "system/op_profiler.h"

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/csrc/profiler/api.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "system/compute_thread.h"

namespace autospeech {

namespace prof = torch::autograd::profiler;

void startOpProfile() {
  runOnComputeThread([] {
    if (torch::profiler::impl::profilerEnabled()) throw std::runtime_error("the op profiler is already running");
    prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  });
}

std::vector<OpStat> stopOpProfile() {
  prof::thread_event_lists lists;
  runOnComputeThread([&] {
    if (!torch::profiler::impl::profilerEnabled()) throw std::runtime_error("the op profiler is not running");
    lists = prof::disableProfilerLegacy();
  });
  std::map<std::string, OpStat> byName;
  for (auto& events : lists) {
    struct Open { const prof::LegacyEvent* push; double childUs; };
    std::vector<Open> stack;
    for (auto& e : events) {
      if (e.kind() == prof::EventKind::PushRange) {
        stack.push_back({&e, 0});
      } else if (e.kind() == prof::EventKind::PopRange && !stack.empty()) {
        Open open = stack.back();
        stack.pop_back();
        const double total = open.push->cpuElapsedUs(e);
        OpStat& s = byName[open.push->name()];
        s.name = open.push->name();
        s.calls += 1;
        s.totalUs += total;
        s.selfUs += total - open.childUs;
        if (!stack.empty()) stack.back().childUs += total;
      }
    }
  }
  std::vector<OpStat> out;
  for (auto& [name, s] : byName) out.push_back(s);
  std::sort(out.begin(), out.end(), [](const OpStat& a, const OpStat& b) { return a.selfUs > b.selfUs; });
  return out;
}

}  // namespace autospeech
