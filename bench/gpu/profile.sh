#!/usr/bin/env bash
# Kernel-level profile of a few blocks of the Wan 14B forward on the lent GPU (from the repository root), to see
# what the "rest" stage of `qdit bench` is made of: Nsight Systems' per-kernel and per-API-call summaries.
#   QDIT_PROFILE_BIN=.gpubin-final bash bench/gpu/profile.sh [layers]
# Output: $OUT/profile_kernels.txt and $OUT/profile_api.txt when $OUT is set, else /tmp/qdit-profile.
set -uo pipefail
BIN=${QDIT_PROFILE_BIN:-build-gpu}
LAYERS=${1:-4}
DEST=${OUT:-/tmp/qdit-profile}
mkdir -p "$DEST"
DEPS=/tmp/qdit-deps
if [ ! -d "$DEPS/usr" ] && ls .gpudeps/*.deb >/dev/null 2>&1; then
  mkdir -p "$DEPS"
  for f in .gpudeps/*.deb; do dpkg-deb -x "$f" "$DEPS" 2>/dev/null || dpkg -x "$f" "$DEPS"; done
fi
NV=$(python3 -c "import nvidia; print(next(iter(nvidia.__path__)))" 2>/dev/null || true)
NVLIBS=$(find "$NV" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu:${NVLIBS}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
if [ -z "$NSYS" ]; then echo "nsys not found"; exit 1; fi
"$NSYS" profile -o /tmp/qdit-prof --force-overwrite true --trace cuda --sample none --cpuctxsw none \
  "$BIN/qdit" bench --synthetic --variant wan2.1-t2v-14b --exclude '*ffn.net.2*' --layers "$LAYERS" --repeat 1 \
  --warmup 1 --no-ceilings >"$DEST/profile_run.txt" 2>&1
tail -12 "$DEST/profile_run.txt"
"$NSYS" stats --report cuda_gpu_kern_sum --format csv /tmp/qdit-prof.nsys-rep >"$DEST/profile_kernels.csv" 2>/dev/null
"$NSYS" stats --report cuda_api_sum --format csv /tmp/qdit-prof.nsys-rep >"$DEST/profile_api.csv" 2>/dev/null
"$NSYS" stats --report cuda_gpu_mem_time_sum --format csv /tmp/qdit-prof.nsys-rep >"$DEST/profile_mem.csv" 2>/dev/null
python3 - "$DEST" <<'PY'
import csv, sys, os
d = sys.argv[1]
def rows(name):
    try:
        lines = open(os.path.join(d, name)).read().splitlines()
        start = next(i for i, l in enumerate(lines) if l.startswith('"Time') or l.startswith("Time"))
        return list(csv.DictReader(lines[start:]))
    except Exception as e:
        print("could not read", name, e); return []
for name, key in (("profile_kernels.csv", "Name"), ("profile_api.csv", "Name"), ("profile_mem.csv", "Operation")):
    print("==", name)
    for r in rows(name)[:25]:
        print(f"{r.get('Time (%)', '?'):>6}%  {float(r.get('Total Time (ns)', 0)) / 1e6:10.2f} ms  {r.get('Instances', r.get('Num Calls', r.get('Count', '?'))):>7}  {r.get(key, '?')[:110]}")
PY
