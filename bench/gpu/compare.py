"""Relative L2 between the `qdit run` outputs of e2e.sh: GPU vs CPU at the same precision (what the CUDA backend
must match), and each bf16 run vs the CPU fp32 run (what the bf16 precision policy costs, on either device;
activation quantization amplifies it, since a small change of x moves some values across a rounding boundary)."""
import glob
import os
import sys

import numpy as np
from safetensors.numpy import load_file


def load(d, model, dev, p):
    path = os.path.join(d, f"{model}.{dev}_{p}.safetensors")
    if not os.path.exists(path):
        return None
    return load_file(path)["noise_pred"].astype(np.float64)


def rel(got, ref):
    if got is None or ref is None:
        return float("inf")
    if not np.all(np.isfinite(got)):
        return float("inf")
    return float(np.linalg.norm(got - ref) / np.linalg.norm(ref))


def main():
    d = sys.argv[1]
    models = sorted({os.path.basename(p).split(".")[0] for p in glob.glob(os.path.join(d, "*.safetensors"))} - {"in"})
    print(f"{'model':14} {'gpu fp32 vs cpu fp32':>21} {'gpu bf16 vs cpu bf16':>21} {'gpu bf16 vs cpu fp32':>21} {'cpu bf16 vs cpu fp32':>21}")
    for m in models:
        cf, cb, gf, gb = (load(d, m, dev, p) for dev, p in (("cpu", "fp32"), ("cpu", "bf16"), ("cuda", "fp32"), ("cuda", "bf16")))
        print(f"{m:14} {rel(gf, cf):21.3e} {rel(gb, cb):21.3e} {rel(gb, cf):21.3e} {rel(cb, cf):21.3e}")


if __name__ == "__main__":
    main()
