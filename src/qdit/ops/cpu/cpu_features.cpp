#include "qdit/ops/cpu/cpu_features.h"

#include <atomic>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace qdit::ops::cpu {

namespace {
std::atomic<bool> g_portable_only{false};
}  // namespace

void force_portable_kernels(bool off) { g_portable_only = off; }

bool has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                         __builtin_cpu_supports("fma");
  return ok && !g_portable_only;
}

bool has_avx512_vnni() {
  static const bool ok = __builtin_cpu_supports("avx512vnni");
  return ok && has_avx512();
}

bool has_avx512_bf16() {
  static const bool ok = __builtin_cpu_supports("avx512bf16");
  return ok && has_avx512();
}

namespace {
// Linux keeps the 8 KiB AMX tile state off until a process asks for it; without the grant the first tile
// instruction raises SIGILL. The request is process-wide and idempotent.
bool request_amx_permission() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}
}  // namespace

bool has_amx_int8() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("amx-tile") &&
                         __builtin_cpu_supports("amx-int8") && request_amx_permission();
  return ok && has_avx512();
}

}  // namespace qdit::ops::cpu
