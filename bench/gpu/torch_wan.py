#!/usr/bin/env python3
"""Same-run PyTorch baseline for `qdit bench`: one Wan 2.1 DiT forward in plain PyTorch bf16 (wan-dit.md §3),
random weights made on the GPU, the numerics of the original Wan code under bf16 autocast: bf16 weights and GEMM
inputs, fp32 residual stream, fp32 LayerNorm/modulation, fp32 time MLP and head, q/k RMSNorm over the full width
with fp32 statistics, interleaved 3D RoPE, F.scaled_dot_product_attention with PyTorch's default dispatch (as
diffusers uses it) unless --sdpa names a backend. Prints one JSON line: median forward time (CUDA events, after
warm-up), peak allocated/reserved memory.

    python3 bench/gpu/torch_wan.py --variant wan2.1-t2v-14b [--frames 81 --height 480 --width 832]
"""
import argparse
import json
import math
import sys

import torch
import torch.nn.functional as F

CONFIGS = {  # wan-dit.md §1
    "wan2.1-t2v-1.3b": dict(dim=1536, ffn=8960, heads=12, layers=30),
    "wan2.1-t2v-14b": dict(dim=5120, ffn=13824, heads=40, layers=40),
}
CIN = COUT = 16
TEXT_LEN, TEXT_DIM, FREQ_DIM, EPS = 512, 4096, 256, 1e-6


def uniform(shape, bound, dtype=torch.bfloat16, dev="cuda"):
    return (torch.rand(shape, device=dev, dtype=torch.float32) * 2 - 1).mul_(bound).to(dtype)


def linear_params(n, k, dtype=torch.bfloat16):
    # std 1/sqrt(fan-in), like a trained model's weights; small biases.
    return uniform((n, k), math.sqrt(3.0 / k), dtype), uniform((n,), 0.02, dtype)


def rope_table(f, h, w, hd):
    """Complex [L, hd/2] rotations: pairs 0..d_t/2 temporal, then height, then width, each axis its own ω."""
    d_h = d_w = 2 * (hd // 6)
    d_t = hd - d_h - d_w
    def axis(n, d):
        omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        return torch.outer(torch.arange(n, dtype=torch.float64), omega)
    t, y, x = axis(f, d_t), axis(h, d_h), axis(w, d_w)
    ang = torch.cat([t[:, None, None, :].expand(f, h, w, -1), y[None, :, None, :].expand(f, h, w, -1),
                     x[None, None, :, :].expand(f, h, w, -1)], dim=-1).reshape(f * h * w, hd // 2)
    return torch.polar(torch.ones_like(ang), ang).to(torch.complex64).cuda()


def apply_rope(x, table, heads):  # x [L, D] bf16 -> rotated, interleaved pairs (2p, 2p+1)
    L, D = x.shape
    xc = torch.view_as_complex(x.float().reshape(L, heads, D // heads // 2, 2))
    return torch.view_as_real(xc * table[:, None, :]).reshape(L, D).to(x.dtype)


def rms(x, w):  # over the full width, fp32 statistics, back to the input dtype, times the weight
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype) * w


def attention(q, k, v, heads):
    L, D = q.shape
    hd = D // heads
    o = F.scaled_dot_product_attention(q.view(1, L, heads, hd).transpose(1, 2), k.view(1, -1, heads, hd).transpose(1, 2),
                                       v.view(1, -1, heads, hd).transpose(1, 2))
    return o.transpose(1, 2).reshape(L, D)


def make_model(cfg):
    D, Fd = cfg["dim"], cfg["ffn"]
    m = {"patch": linear_params(D, CIN * 4), "t1": linear_params(D, FREQ_DIM, torch.float32),
         "t2": linear_params(D, D, torch.float32), "tproj": linear_params(6 * D, D, torch.float32),
         "x1": linear_params(D, TEXT_DIM), "x2": linear_params(D, D), "head_mod": uniform((2, D), 0.1, torch.float32),
         "head": linear_params(4 * COUT, D, torch.float32), "blocks": []}
    for _ in range(cfg["layers"]):
        m["blocks"].append({
            "mod": uniform((6, D), 0.1, torch.float32),
            "q": linear_params(D, D), "k": linear_params(D, D), "v": linear_params(D, D), "o": linear_params(D, D),
            "nq": 1 + uniform((D,), 0.2), "nk": 1 + uniform((D,), 0.2),
            "ln_w": 1 + uniform((D,), 0.2, torch.float32), "ln_b": uniform((D,), 0.05, torch.float32),
            "cq": linear_params(D, D), "ck": linear_params(D, D), "cv": linear_params(D, D), "co": linear_params(D, D),
            "cnq": 1 + uniform((D,), 0.2), "cnk": 1 + uniform((D,), 0.2),
            "up": linear_params(Fd, D), "down": linear_params(D, Fd)})
    return m


def forward(m, cfg, latent, t, text, table):
    D, H = cfg["dim"], cfg["heads"]
    C, T, Hh, Ww = latent.shape
    f, h, w = T, Hh // 2, Ww // 2
    # Patchify: token (f, h, w) gets x[c, f, 2h+a, 2w+b] in (c, a, b) order.
    patches = latent.view(C, f, h, 2, w, 2).permute(1, 2, 4, 0, 3, 5).reshape(f * h * w, C * 4)
    x = F.linear(patches.to(torch.bfloat16), *m["patch"]).float()
    # Time MLP in fp32, cos first, float64 sinusoid.
    omega = 10000.0 ** (-torch.arange(FREQ_DIM // 2, dtype=torch.float64, device="cuda") / (FREQ_DIM // 2))
    arg = t.double() * omega
    sinus = torch.cat([torch.cos(arg), torch.sin(arg)]).float()[None]
    e = F.linear(F.silu(F.linear(sinus, *m["t1"])), *m["t2"])
    e0 = F.linear(F.silu(e), *m["tproj"]).view(6, D)
    ctx = F.linear(F.gelu(F.linear(text.to(torch.bfloat16), *m["x1"]), approximate="tanh"), *m["x2"])
    for b in m["blocks"]:
        mod = b["mod"] + e0
        y = (F.layer_norm(x, (D,), eps=EPS) * (1 + mod[1]) + mod[0]).to(torch.bfloat16)
        q = apply_rope(rms(F.linear(y, *b["q"]), b["nq"]), table, H)
        k = apply_rope(rms(F.linear(y, *b["k"]), b["nk"]), table, H)
        v = F.linear(y, *b["v"])
        x = x + F.linear(attention(q, k, v, H), *b["o"]).float() * mod[2]
        y = F.layer_norm(x, (D,), b["ln_w"], b["ln_b"], EPS).to(torch.bfloat16)
        q = rms(F.linear(y, *b["cq"]), b["cnq"])
        k = rms(F.linear(ctx, *b["ck"]), b["cnk"])
        v = F.linear(ctx, *b["cv"])
        x = x + F.linear(attention(q, k, v, H), *b["co"]).float()
        y = (F.layer_norm(x, (D,), eps=EPS) * (1 + mod[4]) + mod[3]).to(torch.bfloat16)
        hdn = F.gelu(F.linear(y, *b["up"]), approximate="tanh")
        x = x + F.linear(hdn, *b["down"]).float() * mod[5]
    hm = m["head_mod"] + e
    y = F.layer_norm(x, (D,), eps=EPS) * (1 + hm[1]) + hm[0]
    out = F.linear(y, *m["head"])  # [L, 4*Cout], c fastest within the 2x2 patch
    return out.view(f, h, w, 2, 2, COUT).permute(5, 0, 1, 3, 2, 4).reshape(COUT, T, Hh, Ww)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="wan2.1-t2v-14b", choices=sorted(CONFIGS))
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--sdpa", default="default", choices=["default", "cudnn", "flash", "efficient"])
    a = ap.parse_args()
    cfg = dict(CONFIGS[a.variant])
    if a.layers:
        cfg["layers"] = a.layers
    torch.manual_seed(0)
    T, Hh, Ww = (a.frames - 1) // 4 + 1, a.height // 8, a.width // 8
    table = rope_table(T, Hh // 2, Ww // 2, cfg["dim"] // cfg["heads"])
    m = make_model(cfg)
    latent = torch.randn(CIN, T, Hh, Ww, device="cuda")
    text = uniform((TEXT_LEN, TEXT_DIM), 0.5, torch.float32)
    t = torch.tensor(500.0, device="cuda")
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backends = {"cudnn": [SDPBackend.CUDNN_ATTENTION], "flash": [SDPBackend.FLASH_ATTENTION],
                "efficient": [SDPBackend.EFFICIENT_ATTENTION]}
    import contextlib
    ctx = sdpa_kernel(backends[a.sdpa]) if a.sdpa != "default" else contextlib.nullcontext()
    times = []
    with torch.no_grad(), ctx:
        out = forward(m, cfg, latent, t, text, table)  # warm-up
        torch.cuda.synchronize()
        assert torch.isfinite(out).all(), "non-finite output"
        for _ in range(a.repeat):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            out = forward(m, cfg, latent, t, text, table)
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e))
            print(f"torch_wan {a.variant}: forward {times[-1]:.1f} ms", file=sys.stderr, flush=True)
    times.sort()
    print(json.dumps({
        "what": "torch_wan", "variant": a.variant, "blocks": cfg["layers"], "tokens": T * (Hh // 2) * (Ww // 2),
        "sdpa": a.sdpa, "forward_ms": times[len(times) // 2] if len(times) % 2 else sum(times[len(times) // 2 - 1:len(times) // 2 + 1]) / 2,
        "forward_ms_runs": times, "peak_allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30, "device": torch.cuda.get_device_name(),
        "torch": torch.__version__, "cuda": torch.version.cuda}), flush=True)


if __name__ == "__main__":
    main()
