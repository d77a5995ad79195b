// Device memory of the CUDA backend: a bump arena over a few large cudaMalloc'd chunks. ops::empty on CUDA takes
// from it; nothing is freed per tensor. The forward brackets each block (and the whole pass) with an ArenaScope,
// so the same bytes are reused block after block and, after the first pass has grown the arena to its high-water
// mark, a forward makes no cudaMalloc at all (arena_stats().device_mallocs stays constant; tests check this).
//
// Weights do not belong in it: they live for the process and would pin the chunks they share with activations
// (a 64 MiB chunk holding one layer's scales stays reserved for good). They go to persistent_alloc, a separate
// pool outside the mark/release discipline, counted in ArenaStats::fixed.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qdit::ops::cuda {

struct ArenaMark {
  size_t chunk = 0;
  size_t offset = 0;
  size_t in_use = 0;
};

struct ArenaStats {
  size_t reserved = 0;         // bytes held in chunks (what the device sees as used by qdit's arena)
  size_t in_use = 0;           // bytes handed out and not yet released
  size_t peak_in_use = 0;      // high-water mark of in_use
  size_t fixed = 0;            // device bytes held outside the arena: persistent_alloc (weights), cuBLASLt workspace
  int64_t device_mallocs = 0;  // cudaMalloc calls made by the backend so far (arena chunks and fixed buffers)
};

// Allocates `bytes` (256-byte aligned) of device memory from the arena. Grows by a new chunk when needed.
void* arena_alloc(size_t bytes);
ArenaMark arena_mark();
// Releases everything allocated after `m` (stack order). Tensors that point there must no longer be used.
void arena_release(const ArenaMark& m);
// Makes sure `bytes` can be handed out after the current position without a cudaMalloc (e.g. before timing).
void arena_reserve(size_t bytes);
ArenaStats arena_stats();
// Device memory held until the process ends (weights): requests of 1 MiB or more get their own cudaMalloc,
// smaller ones share 16 MiB chunks (so the unused tail is at most one chunk). Never released.
void* persistent_alloc(size_t bytes);
// Counts a cudaMalloc made outside the arena (fixed buffers such as the cuBLASLt workspace).
void note_device_malloc(size_t bytes);

class ArenaScope {
 public:
  ArenaScope() : mark_(arena_mark()) {}
  ~ArenaScope() { arena_release(mark_); }
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;

 private:
  ArenaMark mark_;
};

}  // namespace qdit::ops::cuda
