// The job's process group for data-parallel training, over PyTorch's c10d: a TCPStore rendezvous
// (rank 0 hosts it at MASTER_ADDR:MASTER_PORT, as torchrun's env:// init does) and
// ProcessGroupGloo on CPU, or ProcessGroupNCCL for CUDA devices when this build has it. One group
// per process; every collective is called from the compute thread, in the same order on every rank.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/util/intrusive_ptr.h>

#include <string>
#include <vector>

namespace c10d {
class ProcessGroup;
}

namespace autospeech::dist {

struct InitOptions {
  std::string backend = "auto";  // auto | gloo | nccl
  std::string device = "cpu";    // the training device: nccl needs cuda, auto picks by it
  int rank = 0;
  int worldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  double timeoutSeconds = 1800;  // torch's default process-group timeout
  // torchrun (TORCHELASTIC_USE_AGENT_STORE=True): its agent already hosts the TCPStore at
  // MASTER_ADDR:MASTER_PORT, so every rank connects as a client, under this key prefix.
  bool agentStore = false;
  std::string storePrefix;
};

struct Info {
  bool initialized = false;
  int rank = 0;
  int worldSize = 1;
  std::string backend;  // "gloo" | "nccl" once initialised
};

// Backends compiled into this build ("gloo", "nccl").
std::vector<std::string> compiledBackends();
// What `backend` resolves to for `device` ("gloo" or "nccl"); throws a clear error for a backend
// this build lacks or one that cannot serve the device.
std::string resolveBackend(const std::string& backend, const std::string& device);

// Rendezvous and group creation; blocks until every rank has joined (or the timeout passes).
void init(const InitOptions& options);
void destroy();
Info info();
// The group, or null before init.
c10::intrusive_ptr<c10d::ProcessGroup> group();
// A group is live and has more than one rank.
bool active();

// Collectives (blocking; the tensors stay on their device). c10d's tensor lists mean one tensor
// per local device, so lists of distinct tensors are flattened into one buffer per dtype here.
void allreduceSum(at::Tensor& tensor);  // contiguous, in place
void allreduceSumCoalesced(const std::vector<at::Tensor>& tensors);  // in place
void broadcastCoalesced(const std::vector<at::Tensor>& tensors, int root);  // in place
std::vector<at::Tensor> allgather(const at::Tensor& input);  // one output per rank, same shape as input
void barrier();

// Data-parallel context for the running step (set by the trainer on the compute thread): which
// share of the global batch this rank holds. Drop path draws its per-sample mask for the global
// batch and keeps this rank's rows, so N ranks draw what one process of the global batch draws.
struct BatchShard {
  int rank = 0;
  int worldSize = 1;
};
BatchShard currentShard();
class ScopedShard {
 public:
  explicit ScopedShard(BatchShard shard);
  ~ScopedShard();

 private:
  BatchShard previous_;
};

}  // namespace autospeech::dist
