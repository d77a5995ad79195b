"""Same-run external baselines for bench/gpu/run.sh: PyTorch's bf16 matmul (cuBLAS, bf16 output) and int8 matmul
(torch._int_mm: cuBLASLt s8 x s8 -> s32, no scales: the ceiling a plain library int8 GEMM sets) at the GEMM shapes
of ops_cuda_bench, scaled-dot-product attention through the cuDNN backend at L=32760, 40 heads x 128, and a
device-to-device copy. Random inputs, CUDA-event timing, median of repeats. Prints one JSON object.
--gemm-only skips attention (for sessions about the GEMMs alone), --attention-only the GEMMs."""
import json
import statistics
import sys

import torch


def median_ms(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def main():
    dev = torch.device("cuda")
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version(), "gemm": [], "sdpa": None, "copy": None}
    shapes = [] if "--attention-only" in sys.argv else [(32760, 5120, 5120), (32760, 13824, 5120),
                                                          (32760, 5120, 13824), (32760, 1536, 1536)]
    for t, n, k in shapes:
        x = torch.randn(t, k, device=dev, dtype=torch.bfloat16)
        w = torch.randn(n, k, device=dev, dtype=torch.bfloat16) * 0.05
        ms = median_ms(lambda: torch.matmul(x, w.t()), 20)
        entry = {"t": t, "n": n, "k": k, "ms": ms, "tflops": 2.0 * t * n * k / ms / 1e9}
        del x, w
        try:
            xi = torch.randint(-128, 128, (t, k), device=dev, dtype=torch.int8)
            wi = torch.randint(-128, 128, (n, k), device=dev, dtype=torch.int8)
            ms8 = median_ms(lambda: torch._int_mm(xi, wi.t()), 20)
            entry["int8_ms"] = ms8
            entry["int8_tops"] = 2.0 * t * n * k / ms8 / 1e9
            del xi, wi
        except Exception as e:  # reported in the JSON, not hidden
            entry["int8_error"] = str(e)
        out["gemm"].append(entry)
    if "--gemm-only" not in sys.argv:
        sdpa(out, dev)
    copy(out, dev)
    json.dump(out, sys.stdout, indent=1)


def sdpa(out, dev):
    l, h, d = 32760, 40, 128
    q = torch.randn(1, h, l, d, device=dev, dtype=torch.bfloat16)
    k = torch.randn(1, h, l, d, device=dev, dtype=torch.bfloat16)
    v = torch.randn(1, h, l, d, device=dev, dtype=torch.bfloat16)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    try:
        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
            ms = median_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v), 5)
        out["sdpa"] = {"backend": "cudnn", "l": l, "heads": h, "hd": d, "ms": ms, "tflops": 4.0 * l * l * d * h / ms / 1e9}
    except Exception as e:  # reported, not hidden: the table then shows no cuDNN baseline
        out["sdpa"] = {"backend": "cudnn", "error": str(e)}
    try:
        with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
            ms = median_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v), 5)
        out["sdpa_flash"] = {"backend": "flash", "ms": ms, "tflops": 4.0 * l * l * d * h / ms / 1e9}
    except Exception as e:
        out["sdpa_flash"] = {"backend": "flash", "error": str(e)}
    del q, k, v


def copy(out, dev):
    a = torch.empty(1 << 28, device=dev, dtype=torch.float32).uniform_()
    b = torch.empty_like(a)
    ms = median_ms(lambda: b.copy_(a), 20)
    out["copy"] = {"bytes": 2 * a.numel() * 4, "ms": ms, "gbps": 2 * a.numel() * 4 / ms / 1e6}


if __name__ == "__main__":
    main()
