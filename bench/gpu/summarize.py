"""Prints the short table of a bench/gpu/run.sh session from ops_cuda_bench's JSON and torch_ref.py's JSON, and
writes the same rows as Markdown (for bench/RESULTS.md). Usage: summarize.py BENCH_JSON TORCH_JSON MD_OUT"""
import json
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception as e:  # a missing half of the run shows as such in the table
        print(f"(could not read {path}: {e})")
        return None


def main():
    bench, torch_ref, md_path = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
    rows = []
    by = {}
    if bench:
        for b in bench.get("benchmarks", []):
            by[b["name"].split("/iterations")[0].replace("/manual_time", "")] = b
    def ms(name):
        b = by.get(name)
        return b["real_time"] if b else None  # unit: ms (Unit(kMillisecond))
    card = bench["benchmarks"][0].get("label", "?") if bench and bench.get("benchmarks") else "?"
    shapes = [(32760, 5120, 5120), (32760, 13824, 5120), (32760, 5120, 13824), (32760, 1536, 1536)]
    tgemm = {(g["t"], g["n"], g["k"]): g for g in (torch_ref or {}).get("gemm", [])}
    kernels = {0: "mma 1 block/SM", 1: "mma 2 blocks/SM", 2: "sm90 128x224", 3: "sm90 128x224 multicast-2",
               4: "sm90 256x128", 5: "sm90 256x128 multicast-2", 6: "sm90 2x128x128 ping-pong",
               7: "sm90 256x128 TMA store"}
    rows.append(("what", "ms", "TOP/s", "vs qdit bf16 cuBLASLt", "vs torch bf16"))
    checks = []
    for t, n, k in shapes:
        key = f"{t}/{n}/{k}"
        flop = 2.0 * t * n * k
        bf = ms(f"BM_Bf16GemmCublasLt/{key}")
        tg = tgemm.get((t, n, k))
        lin = by.get("BM_W8A8DynamicLinear/" + key)
        lin_kernel = (lin or {}).get("label", "").split("int8 kernel ")[-1] if lin else "?"
        entries = [(f"W8A8_DYNAMIC linear (quant + {lin_kernel} + epilogue, f32 out)", "BM_W8A8DynamicLinear/" + key),
                   (f"W8A8_DYNAMIC linear from bf16 activations (quant + {lin_kernel} + epilogue, f32 out)",
                    "BM_W8A8DynamicLinearBf16In/" + key)]
        for kid in (4, 6, 7):
            entries.append((f"quant + int8 GEMM {kernels[kid]} + epilogue (= the linear with that kernel)",
                            f"BM_W8A8DynamicQuantGemm/{key}/{kid}"))
        for kid, kname in kernels.items():
            for bf16 in (0, 1):
                entries.append((f"int8 GEMM + epilogue, {kname}, {'bf16' if bf16 else 'f32'} out",
                                f"BM_Int8GemmOnly/{key}/{kid}/{bf16}"))
        entries.append(("bf16 GEMM cuBLASLt (qdit, fp32 out)", "BM_Bf16GemmCublasLt/" + key))
        for label, name in entries:
            m = ms(name)
            if m is None:
                continue
            rows.append((f"{label} {t}x{n}x{k}", f"{m:.3f}", f"{flop / m / 1e9:.0f}",
                         f"{bf / m:.2f}x" if bf else "-", f"{tg['ms'] / m:.2f}x" if tg else "-"))
        if tg:
            rows.append((f"torch bf16 matmul {t}x{n}x{k}", f"{tg['ms']:.3f}", f"{tg['tflops']:.0f}",
                         f"{bf / tg['ms']:.2f}x" if bf else "-", "1.00x"))
            if "int8_ms" in tg:
                rows.append((f"torch._int_mm int8->int32 (cuBLASLt, no epilogue) {t}x{n}x{k}", f"{tg['int8_ms']:.3f}",
                             f"{tg['int8_tops']:.0f}", f"{bf / tg['int8_ms']:.2f}x" if bf else "-",
                             f"{tg['ms'] / tg['int8_ms']:.2f}x"))
        # The figure: the whole layer (quantization included) against the bf16 GEMM, from F32 activations
        # and from the bf16 activations the bf16 GEMM itself is given.
        for bench, src in (("BM_W8A8DynamicLinear", "f32"), ("BM_W8A8DynamicLinearBf16In", "bf16")):
            m = ms(f"{bench}/{key}")
            if m and bf and n != 1536:
                ratio = bf / m
                vs_torch = f" ({tg['ms'] / m:.2f}x torch bf16)" if tg else ""
                checks.append(f"issue 5, {t}x{n}x{k}: W8A8_DYNAMIC linear from {src} activations {ratio:.2f}x the bf16"
                              f" cuBLASLt GEMM{vs_torch}: {'MET' if ratio >= 1.6 else 'not met'} (target 1.6x)")
    for kq in (5120, 13824):
        for src, arg, in_bytes in (("fp32", 0, 4), ("bf16", 1, 2)):
            q = ms(f"BM_QuantizePerToken/32760/{kq}/{arg}")
            if q:
                gbs = 32760 * kq * (in_bytes + 1) / q / 1e6
                rows.append((f"per-token quantization 32760x{kq} {src}->int8", f"{q:.3f}", f"{gbs:.0f} GB/s", "-", "-"))
    flop_a = 4.0 * 32760 * 32760 * 128 * 40
    sd = (torch_ref or {}).get("sdpa") or {}
    fl = (torch_ref or {}).get("sdpa_flash") or {}
    for warps in (0, 4, 8):  # 0: through cuDNN's SDPA (the default), 4/8: our flash kernel's block size
        a = ms(f"BM_AttentionBf16/32760/40/128/{warps}")
        if a:
            name = "cuDNN SDPA" if warps == 0 else f"own kernel, {warps} warps"
            rows.append((f"qdit attention bf16 L=32760 40x128, {name}", f"{a:.2f}", f"{flop_a / a / 1e9:.0f}",
                         "-", f"{sd['ms'] / a:.2f}x of cuDNN" if "ms" in sd else "-"))
    ck = ms("BM_AttentionCudnnKernelBf16/32760/40/128")
    for pv, pv_name in ((0, "fp16 P.V"), (1, "e4m3 P.V")):
        for arg, what in ((0, "with preparation"), (1, "kernel only")):
            a = ms(f"BM_AttentionInt8Qk/32760/40/{arg}/{pv}")
            if a:
                rows.append((f"qdit attention int8 q.k^T, {pv_name}, L=32760 40x128, {what}", f"{a:.2f}",
                             f"{flop_a / a / 1e9:.0f}", "-", f"{sd['ms'] / a:.2f}x of cuDNN" if "ms" in sd else "-"))
                if arg == 0 and ck:
                    checks.append(f"int8 q.k^T attention, {pv_name}: {ck / a:.2f}x qdit's cuDNN SDPA call "
                                  f"({a:.2f} vs {ck:.2f} ms)")
    for heads in (40, 12):
        for arg, what in ((0, "cuDNN SDPA via ops::attention"), (1, "int8 q.k^T")):
            a = ms(f"BM_CrossAttention/32760/512/{heads}/{arg}")
            if a:
                rows.append((f"qdit cross-attention L=32760 x 512 text keys, {heads}x128, {what}", f"{a:.3f}",
                             f"{4.0 * 32760 * 512 * 128 * heads / a / 1e9:.0f}", "-", "-"))
    if "ms" in sd:
        rows.append(("torch SDPA cuDNN L=32760 40x128", f"{sd['ms']:.2f}", f"{sd['tflops']:.0f}", "-", "1.00x"))
    elif sd:
        rows.append(("torch SDPA cuDNN", "error", sd.get("error", "")[:60], "-", "-"))
    if "ms" in fl:
        rows.append(("torch SDPA flash L=32760 40x128", f"{fl['ms']:.2f}", f"{fl['tflops']:.0f}", "-", "-"))
    c = ms(f"BM_CopyD2D/{1 << 30}")
    if c:
        rows.append(("qdit D2D copy 1 GiB (GB/s, read+write)", f"{c:.3f}", f"{2 * (1 << 30) / c / 1e6:.0f} GB/s", "-", "-"))
    tc = (torch_ref or {}).get("copy")
    if tc:
        rows.append(("torch D2D copy 1 GiB", f"{tc['ms']:.3f}", f"{tc['gbps']:.0f} GB/s", "-", "-"))
    head = f"card: {card}; torch {torch_ref.get('torch') if torch_ref else '?'}, CUDA {torch_ref.get('cuda') if torch_ref else '?'}, cuDNN {torch_ref.get('cudnn') if torch_ref else '?'}"
    print(head)
    w = [max(len(str(r[i])) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(str(r[i]).ljust(w[i]) for i in range(5)))
    for c in checks:
        print(c)
    with open(md_path, "w") as f:
        f.write(head + "\n\n")
        f.write("| " + " | ".join(rows[0]) + " |\n|" + "---|" * 5 + "\n")
        for r in rows[1:]:
            f.write("| " + " | ".join(r) + " |\n")
        f.write("\n" + "\n".join(f"- {c}" for c in checks) + "\n")


if __name__ == "__main__":
    main()
