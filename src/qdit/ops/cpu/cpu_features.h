// What the CPU running qdit can do, checked once at run time. The build targets the x86-64 baseline; kernels
// compiled for newer instruction sets (target attributes) are only called when these say so.
#pragma once

namespace qdit::ops::cpu {

// AVX-512 F/BW/VL/DQ with FMA: the vector kernels of the norms, activations, RoPE and attention.
bool has_avx512();
// Makes every has_*() above report false while `off` holds, so the portable kernels run on this machine too
// (tests compare both paths against the same references). Not for production use.
void force_portable_kernels(bool off);
// AVX-512 VNNI (vpdpbusd) on top of has_avx512(): the int8 GEMM kernel.
bool has_avx512_vnni();
// AVX512-BF16 (vcvtne2ps2bf16): fast fp32 -> bf16 rounding.
bool has_avx512_bf16();
// AMX-INT8 tiles, and the kernel granted this process their state (Linux arch_prctl XTILEDATA permission).
bool has_amx_int8();

}  // namespace qdit::ops::cpu
