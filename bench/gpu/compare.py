"""Relative L2 of each GPU `qdit run` output against the CPU fp32 output of the same model (e2e.sh)."""
import glob
import os
import sys

import numpy as np
from safetensors.numpy import load_file


def main():
    d = sys.argv[1]
    print(f"{'model':14} {'GPU precision':14} rel L2 vs CPU fp32")
    worst = 0.0
    for ref_path in sorted(glob.glob(os.path.join(d, "*.cpu_fp32.safetensors"))):
        model = os.path.basename(ref_path).split(".")[0]
        ref = load_file(ref_path)["noise_pred"].astype(np.float64)
        for p in ("fp32", "bf16"):
            path = os.path.join(d, f"{model}.cuda_{p}.safetensors")
            if not os.path.exists(path):
                print(f"{model:14} {p:14} missing")
                worst = float("inf")
                continue
            got = load_file(path)["noise_pred"].astype(np.float64)
            rel = float(np.linalg.norm(got - ref) / np.linalg.norm(ref)) if np.all(np.isfinite(got)) else float("inf")
            worst = max(worst, rel)
            print(f"{model:14} {p:14} {rel:.3e}")
    print(f"worst {worst:.3e} ({'below' if worst < 1e-2 else 'ABOVE'} the 1e-2 budget)")


if __name__ == "__main__":
    main()
