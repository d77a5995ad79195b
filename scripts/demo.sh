#!/usr/bin/env bash
# What `make demo` runs (after `make build`): builds a tiny random-weight Wan2.1-T2V model with `qdit synth`,
# quantizes it with `qdit quantize` twice -- W8A8_DYNAMIC with the FFN down projections kept in float (the
# msModelSlim Wan recipe) and static W8A8 calibrated on forward inputs spread over the sampling schedule --,
# checks both with `qdit inspect`, runs the float and both quantized models with `qdit run`, and prints how far
# each quantized output is from the float one.
#
# usage: scripts/demo.sh [BUILD_DIR]   (default: build)
set -euo pipefail

BUILD=${1:-build}
QDIT="$BUILD/qdit"
if [[ ! -x "$QDIT" ]]; then
  echo "demo: $QDIT not found; run 'make build' first" >&2
  exit 2
fi
WORK="$BUILD/demo"
rm -rf "$WORK"
mkdir -p "$WORK"

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# A Wan2.1-T2V-1.3B-shaped model shrunk to 2 blocks of width 128 (head dim 64), in bf16 like the released weights.
# (--seed picks the weights for the model and the random draws for an input file.)
MODEL=(--variant wan2.1-t2v-1.3b --layers 2 --dim 128 --heads 2 --ffn 256)

say "1. a tiny random-weight Wan2.1 T2V checkpoint (Diffusers names, bf16)"
run "$QDIT" synth "${MODEL[@]}" --seed 42 --dtype bf16 --out "$WORK/float"

say "2. forward inputs: calibration runs across the schedule (t = 999 ... 1) and one held-out evaluation input"
CALIB=()
seed=100
for t in 999 750 500 250 1; do
  run "$QDIT" synth "${MODEL[@]}" --inputs "$WORK/calib_t$t.safetensors" --latent 2x16x16 --timestep "$t" \
    --seed $((seed++)) >/dev/null
  CALIB+=(--calibration "$WORK/calib_t$t.safetensors")
done
echo "wrote 5 calibration inputs (latent 2x16x16): $WORK/calib_t{999,750,500,250,1}.safetensors"

run "$QDIT" synth "${MODEL[@]}" --inputs "$WORK/eval.safetensors" --latent 2x8x8 --timestep 600 --seed 7

say "3. quantize: W8A8_DYNAMIC, FFN down projections kept in float (AscendV1 layout)"
run "$QDIT" quantize "$WORK/float" --out "$WORK/w8a8_dynamic" --scheme w8a8_dynamic --exclude '*ffn.net.2*' \
  --check "$WORK/eval.safetensors"

say "4. quantize: static W8A8 from the calibration runs (raw msModelSlim layout, native Wan names)"
run "$QDIT" quantize "$WORK/float" --out "$WORK/w8a8" --scheme w8a8 "${CALIB[@]}" --layout mindie \
  --check "$WORK/eval.safetensors"

say "5. inspect: every layer resolved, no problems"
for m in w8a8_dynamic w8a8; do
  printf '$ %s inspect %s | tail -3\n' "$QDIT" "$WORK/$m"
  "$QDIT" inspect "$WORK/$m" | tail -3
done

say "6. run the float model and both quantized models on the evaluation input"
for m in float w8a8_dynamic w8a8; do
  run "$QDIT" run "$WORK/$m" --inputs "$WORK/eval.safetensors" --output "$WORK/out_$m.safetensors"
done

say "7. relative L2 error of each quantized output vs the float output (from the files qdit run wrote)"
if command -v python3 >/dev/null; then
  python3 - "$WORK" <<'PY'
import json, math, struct, sys
def noise_pred(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    info = json.loads(data[8:8 + n])["noise_pred"]
    begin, end = info["data_offsets"]
    raw = data[8 + n + begin:8 + n + end]
    return struct.unpack("<%df" % (len(raw) // 4), raw)
work = sys.argv[1]
ref = noise_pred(work + "/out_float.safetensors")
den = sum(v * v for v in ref)
for m in ("w8a8_dynamic", "w8a8"):
    q = noise_pred(work + "/out_" + m + ".safetensors")
    err = math.sqrt(sum((a - b) ** 2 for a, b in zip(q, ref)) / den)
    print("  %-13s %.4f" % (m, err))
PY
else
  echo "  (python3 not found: the same numbers are the 'relative L2 error' lines printed by quantize --check above)"
fi
echo
echo "demo: done (files in $WORK)"
