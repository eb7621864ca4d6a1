// A CPU allocator that backs large tensors (>= 2 MiB) with transparent huge pages. With glibc's
// default malloc every large activation is a fresh mmap that faults in 4 KiB at a time; that was
// ~35 % of a CPU training step here. Values are untouched: only where the bytes live changes.
#pragma once

namespace autospeech {

// Installs (true) or removes (false) the huge-page allocator as libtorch's CPU allocator.
void useHugePageAllocator(bool on);
bool hugePageAllocatorActive();

}  // namespace autospeech
