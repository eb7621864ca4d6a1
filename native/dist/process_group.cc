#include "dist/process_group.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(AUTOSPEECH_WITH_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(AUTOSPEECH_WITH_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace autospeech::dist {
namespace {

std::mutex mutex;
c10::intrusive_ptr<c10d::Store> store;
c10::intrusive_ptr<c10d::ProcessGroup> pg;
Info state;
thread_local BatchShard shard;

bool isLoopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

void wait(const c10::intrusive_ptr<c10d::Work>& work) {
  if (!work->wait()) throw std::runtime_error("collective aborted");
}

c10d::ProcessGroup& live() {
  if (!pg) throw std::runtime_error("the process group is not initialised (distInit first)");
  return *pg;
}

}  // namespace

std::vector<std::string> compiledBackends() {
  std::vector<std::string> out;
#if defined(AUTOSPEECH_WITH_GLOO)
  out.push_back("gloo");
#endif
#if defined(AUTOSPEECH_WITH_NCCL)
  out.push_back("nccl");
#endif
  return out;
}

std::string resolveBackend(const std::string& backend, const std::string& device) {
  const bool cuda = device.rfind("cuda", 0) == 0;
  auto has = [](const std::string& b) {
    for (auto& c : compiledBackends())
      if (c == b) return true;
    return false;
  };
  if (backend == "auto") {
    if (cuda && has("nccl")) return "nccl";
    if (has("gloo")) return "gloo";
    throw std::runtime_error(
        "DIST.BACKEND auto: this build has no process-group backend (Gloo needs its headers at build time: Debian's "
        "libgloo-dev; NCCL needs a CUDA libtorch with NCCL and nccl.h)");
  }
  if (backend == "gloo") {
    if (!has("gloo"))
      throw std::runtime_error("DIST.BACKEND gloo: this build has no Gloo (its headers were missing when the addon was built: "
                               "install libgloo-dev, or use a libtorch that ships include/gloo, and rebuild)");
    return "gloo";
  }
  if (backend == "nccl") {
    if (!has("nccl"))
      throw std::runtime_error("DIST.BACKEND nccl: this build has no NCCL (it needs a CUDA libtorch built with NCCL, such as "
                               "pytorch.org's CUDA builds, and nccl.h at build time; Debian's libtorch has Gloo only)");
    if (!cuda) throw std::runtime_error("DIST.BACKEND nccl needs a CUDA device (DEVICE cuda or cuda:N), got DEVICE " + device);
    return "nccl";
  }
  throw std::runtime_error("DIST.BACKEND must be auto, gloo or nccl, got '" + backend + "'");
}

void init(const InitOptions& o) {
  std::lock_guard<std::mutex> lock(mutex);
  if (pg) throw std::runtime_error("the process group is already initialised");
  if (o.worldSize < 1) throw std::runtime_error("WORLD_SIZE must be >= 1");
  if (o.rank < 0 || o.rank >= o.worldSize)
    throw std::runtime_error("RANK " + std::to_string(o.rank) + " is outside [0, WORLD_SIZE " + std::to_string(o.worldSize) + ")");
  if (o.masterPort < 1 || o.masterPort > 65535) throw std::runtime_error("MASTER_PORT must be in 1..65535");
  const std::string backend = resolveBackend(o.backend, o.device);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeoutSeconds * 1000));
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(o.masterPort);
  so.isServer = o.rank == 0 && !o.agentStore;
  so.numWorkers = static_cast<std::size_t>(o.worldSize);
  so.waitWorkers = !o.agentStore;
  so.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> s = c10::make_intrusive<c10d::TCPStore>(o.masterAddr, so);
  if (!o.storePrefix.empty()) s = c10::make_intrusive<c10d::PrefixStore>(o.storePrefix, s);
  c10::intrusive_ptr<c10d::ProcessGroup> group;
#if defined(AUTOSPEECH_WITH_GLOO)
  if (backend == "gloo") {
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // Same-host runs talk over loopback; otherwise GLOO_SOCKET_IFNAME (as torch) or the address
    // this host's name resolves to.
    if (isLoopback(o.masterAddr)) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    group = c10::make_intrusive<c10d::ProcessGroupGloo>(s, o.rank, o.worldSize, opts);
  }
#endif
#if defined(AUTOSPEECH_WITH_NCCL)
  if (backend == "nccl") {
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    group = c10::make_intrusive<c10d::ProcessGroupNCCL>(s, o.rank, o.worldSize, opts);
  }
#endif
  if (!group) throw std::runtime_error("no process group for backend " + backend);
  store = s;
  pg = group;
  state = Info{true, o.rank, o.worldSize, backend};
}

void destroy() {
  std::lock_guard<std::mutex> lock(mutex);
  pg.reset();
  store.reset();
  state = Info{};
}

Info info() {
  std::lock_guard<std::mutex> lock(mutex);
  return state;
}

c10::intrusive_ptr<c10d::ProcessGroup> group() {
  std::lock_guard<std::mutex> lock(mutex);
  return pg;
}

bool active() {
  std::lock_guard<std::mutex> lock(mutex);
  return pg && state.worldSize > 1;
}

void allreduceSum(at::Tensor& tensor) {
  TORCH_CHECK(tensor.is_contiguous(), "allreduceSum needs a contiguous tensor");
  std::vector<at::Tensor> list{tensor};
  wait(live().allreduce(list));
}

namespace {
// Runs `op` on one flat buffer per dtype holding `tensors`, then copies the result back.
template <class Op>
void coalesced(const std::vector<at::Tensor>& tensors, Op op) {
  std::vector<at::ScalarType> types;
  for (auto& t : tensors)
    if (std::find(types.begin(), types.end(), t.scalar_type()) == types.end()) types.push_back(t.scalar_type());
  for (auto type : types) {
    std::vector<at::Tensor> group, flat;
    for (auto& t : tensors)
      if (t.scalar_type() == type && t.numel() > 0) {
        group.push_back(t);
        flat.push_back(t.detach().reshape({-1}));
      }
    if (group.empty()) continue;
    at::Tensor buffer = at::cat(flat, 0);
    op(buffer);
    int64_t offset = 0;
    at::NoGradGuard noGrad;
    for (auto& t : group) {
      const int64_t n = t.numel();
      t.detach().copy_(buffer.narrow(0, offset, n).view(t.sizes()));
      offset += n;
    }
  }
}
}  // namespace

void allreduceSumCoalesced(const std::vector<at::Tensor>& tensors) {
  coalesced(tensors, [](at::Tensor& b) { allreduceSum(b); });
}

void broadcastCoalesced(const std::vector<at::Tensor>& tensors, int root) {
  coalesced(tensors, [root](at::Tensor& b) {
    std::vector<at::Tensor> list{b};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    wait(live().broadcast(list, opts));
  });
}

std::vector<at::Tensor> allgather(const at::Tensor& input) {
  auto& g = live();
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < g.getSize(); ++r) out[0].push_back(at::empty_like(input));
  std::vector<at::Tensor> in{input};
  wait(g.allgather(out, in));
  return out[0];
}

void barrier() { wait(live().barrier()); }

BatchShard currentShard() { return shard; }
ScopedShard::ScopedShard(BatchShard s) : previous_(shard) { shard = s; }
ScopedShard::~ScopedShard() { shard = previous_; }

}  // namespace autospeech::dist
