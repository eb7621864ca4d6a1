// Intra-op threads. All heavy work runs on the compute thread with N OpenMP threads; the JS main
// thread is kept at 1. libgomp shortens its spin-wait to almost nothing as soon as it manages
// more threads than there are CPUs, so a second OpenMP team (created the first time any parallel
// ATen op, e.g. a large copy, ran on the main thread) made every parallel region pay a futex
// wake-up: measured a search step 2x slower, with 2 threads no faster than 1.
#pragma once

namespace autospeech {

void setComputeThreads(int n);
int computeThreads();

}  // namespace autospeech
