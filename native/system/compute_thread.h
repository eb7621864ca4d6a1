// Every libtorch job runs on ONE long-lived thread. libuv hands AsyncWorkers to any of its pool
// threads, and each thread that enters an OpenMP region gets its own team whose workers keep
// spinning after the region ends; on a 2-core machine the teams of different pool threads then
// fight over the cores (measured: 2 threads no faster than 1, 2-3x slower than Python). Running
// jobs here keeps a single team, like Python's main thread.
#pragma once
#include <functional>

namespace autospeech {

// Runs `job` on the compute thread and blocks until it finishes; rethrows its exception.
void runOnComputeThread(const std::function<void()>& job);

// Runs `job` on the data prefetch thread (no libtorch there: batch assembly from memory-mapped
// shards), so the next batch is built while the compute thread runs the current step.
void runOnPrefetchThread(const std::function<void()>& job);

}  // namespace autospeech
