#include "system/op_profiler.h"

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/csrc/profiler/api.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "system/compute_thread.h"

namespace autospeech {

namespace prof = torch::autograd::profiler;

static std::string shapesText(const std::vector<std::vector<int64_t>>& shapes) {
  std::string out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    out += i ? ", [" : "[";
    for (size_t j = 0; j < shapes[i].size(); ++j) out += (j ? ", " : "") + std::to_string(shapes[i][j]);
    out += "]";
  }
  return out;
}

void startOpProfile(bool byShapes) {
  runOnComputeThread([byShapes] {
    if (torch::profiler::impl::profilerEnabled()) throw std::runtime_error("the op profiler is already running");
    prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU, byShapes));
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
        const std::string shapes = shapesText(open.push->shapes());
        OpStat& s = byName[shapes.empty() ? std::string(open.push->name()) : std::string(open.push->name()) + " " + shapes];
        s.name = open.push->name();
        s.shapes = shapes;
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
