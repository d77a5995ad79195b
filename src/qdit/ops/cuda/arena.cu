#include "qdit/ops/cuda/arena.h"

#include <algorithm>
#include <mutex>
#include <vector>

#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/validate.h"
#include "qdit/ops/cuda/runtime.h"

namespace qdit::ops::cuda {

namespace {

constexpr size_t kAlign = 256;
// Arena chunks are at least kSmallChunk. Why not geometric growth: a chunk of half the arena, cut when the 14B
// weights (16 GiB) were in, held 8 GiB for a few hundred MiB of activations, and peak device memory is a target
// (issue 5: <= 24 GiB). Chunks ahead of the current position are free (stack order), so when a request fits none
// of them they are given back and replaced by one chunk of at least their total size: after the first forward the
// arena is a few chunks that hold its high-water mark, and later forwards make no cudaMalloc.
constexpr size_t kSmallChunk = size_t(64) << 20;
// Persistent (weight) requests from kOwnAllocation up get a cudaMalloc of their own; smaller ones share chunks of
// kPersistentChunk, so at most one chunk tail is unused (the first 14B run wasted 2.7 GiB in 64 MiB chunk tails
// with 26-52 MB weights packed into them).
constexpr size_t kOwnAllocation = size_t(1) << 20;
constexpr size_t kPersistentChunk = size_t(16) << 20;

// Every hand-out is a positive multiple of kAlign, so the next one starts aligned.
size_t aligned_size(size_t bytes) { return std::max((bytes + kAlign - 1) / kAlign * kAlign, kAlign); }

// One cudaMalloc or an out-of-memory error naming what was asked and what the device had left.
void* device_malloc(size_t bytes, const char* pool, size_t held) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    fail_internal(std::string("CUDA ") + pool + ": out of device memory",
                  err_ctx(std::to_string(bytes) + " bytes", std::to_string(free_b) + " bytes free of " +
                                                               std::to_string(total_b) + " (" + pool + " holds " +
                                                               std::to_string(held) + ")"));
  }
  return p;
}

struct Chunk {
  char* base;
  size_t size;
};

struct Arena {
  std::mutex mu;
  std::vector<Chunk> chunks;
  size_t cur_chunk = 0;   // index of the chunk the next allocation tries first
  size_t cur_offset = 0;  // bytes used in that chunk
  size_t in_use = 0;
  size_t peak = 0;
  size_t reserved = 0;
  size_t fixed = 0;
  int64_t mallocs = 0;

  // Finds room for `bytes` at or after the current position. When neither the rest of the current chunk nor the
  // next chunk can take it, every chunk from the first free one on is replaced by one big enough for the request
  // and at least as big as what it replaces, so the chunk list converges instead of growing by skipped chunks.
  void* take(size_t bytes) {
    bytes = aligned_size(bytes);
    if (cur_chunk < chunks.size() && cur_offset + bytes > chunks[cur_chunk].size && cur_offset > 0 &&
        cur_chunk + 1 < chunks.size() && chunks[cur_chunk + 1].size >= bytes) {
      ++cur_chunk;
      cur_offset = 0;
    }
    if (cur_chunk < chunks.size() && cur_offset + bytes <= chunks[cur_chunk].size) {
      void* p = chunks[cur_chunk].base + cur_offset;
      cur_offset += bytes;
      in_use += bytes;
      peak = std::max(peak, in_use);
      return p;
    }
    // The chunks from `first_free` on hold nothing live; kernels queued earlier may still read them, which
    // cudaFree waits for (it synchronises the device).
    const size_t first_free = std::min(cur_offset == 0 ? cur_chunk : cur_chunk + 1, chunks.size());
    size_t replaced = 0;
    for (size_t i = first_free; i < chunks.size(); ++i) {
      QDIT_CUDA_CHECK(cudaFree(chunks[i].base));
      replaced += chunks[i].size;
    }
    reserved -= replaced;
    chunks.resize(first_free);
    size_t size = std::max({bytes, kSmallChunk, replaced});
    void* p = nullptr;
    if (cudaMalloc(&p, size) != cudaSuccess) {
      cudaGetLastError();
      size = bytes;  // the larger chunk did not fit; the exact request still may
      p = device_malloc(size, "arena", reserved);
    }
    ++mallocs;
    reserved += size;
    chunks.push_back({static_cast<char*>(p), size});
    cur_chunk = chunks.size() - 1;
    cur_offset = bytes;
    in_use += bytes;
    peak = std::max(peak, in_use);
    return p;
  }
};

Arena& arena() {
  static Arena a;
  return a;
}

struct PersistentPool {
  char* chunk = nullptr;
  size_t used = kPersistentChunk;  // as if a full chunk were current: the first small request opens one
};

}  // namespace

void* arena_alloc(size_t bytes) {
  stream();  // initialises the device before the first cudaMalloc
  Arena& a = arena();
  std::lock_guard<std::mutex> lock(a.mu);
  return a.take(bytes);
}

ArenaMark arena_mark() {
  Arena& a = arena();
  std::lock_guard<std::mutex> lock(a.mu);
  return {a.cur_chunk, a.cur_offset, a.in_use};
}

void arena_release(const ArenaMark& m) {
  Arena& a = arena();
  std::lock_guard<std::mutex> lock(a.mu);
  QDIT_CHECK(m.chunk < a.cur_chunk || (m.chunk == a.cur_chunk && m.offset <= a.cur_offset),
             "CUDA arena: release to a mark above the current position (scopes closed out of order)");
  a.cur_chunk = m.chunk;
  a.cur_offset = m.offset;
  a.in_use = m.in_use;
}

void arena_reserve(size_t bytes) {
  ArenaMark m = arena_mark();
  arena_alloc(bytes);
  arena_release(m);
}

ArenaStats arena_stats() {
  Arena& a = arena();
  std::lock_guard<std::mutex> lock(a.mu);
  return {a.reserved, a.in_use, a.peak, a.fixed, a.mallocs};
}

void* persistent_alloc(size_t bytes) {
  stream();  // initialises the device before the first cudaMalloc
  bytes = aligned_size(bytes);
  Arena& a = arena();
  std::lock_guard<std::mutex> lock(a.mu);
  auto fixed_malloc = [&a](size_t n) {  // counted with the fixed buffers, outside the arena's chunks
    void* p = device_malloc(n, "persistent pool", a.fixed);
    ++a.mallocs;
    a.fixed += n;
    return p;
  };
  static PersistentPool pool;
  if (bytes >= kOwnAllocation) return fixed_malloc(bytes);
  if (pool.used + bytes > kPersistentChunk) {
    pool.chunk = static_cast<char*>(fixed_malloc(kPersistentChunk));
    pool.used = 0;
  }
  void* p = pool.chunk + pool.used;
  pool.used += bytes;
  return p;
}

void note_device_malloc(size_t bytes) {
  Arena& a = arena();
  std::lock_guard<std::mutex> lock(a.mu);
  ++a.mallocs;
  a.fixed += bytes;
}

}  // namespace qdit::ops::cuda
