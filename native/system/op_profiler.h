// Where native time goes, per ATen operator: libtorch's own (legacy) profiler, recording on the
// compute thread, aggregated into self and total time per operator name, like PyTorch's
// profiler.key_averages(). Used by `npm run bench` to profile workloads that miss their targets.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace autospeech {

struct OpStat {
  std::string name;
  std::string shapes;  // the input shapes, "[16, 32, 38, 33], [32, 1, 5, 5], []" (only when recorded)
  int64_t calls = 0;
  double selfUs = 0, totalUs = 0;
};

// Both run on the compute thread (the profiler's state is thread-local there).
// With byShapes, operators are also grouped by their input shapes (key_averages(group_by_input_shape)).
void startOpProfile(bool byShapes = false);
std::vector<OpStat> stopOpProfile();  // sorted by self time, largest first

}  // namespace autospeech
