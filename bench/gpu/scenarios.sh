#!/usr/bin/env bash
# The benchmark scenarios of issue 5 on the card this machine has, each with its same-run PyTorch baseline
# (from the repository root, on a lent GPU machine; called by run.sh's "scenarios" section or on its own):
#   1. Debian build dependencies from .gpudeps/ into a private prefix (as run.sh does), configure build-gpu;
#   2. build qdit, test_forward and test_bench; with --tests run their GPU tests (whole model vs float64 and CPU);
#   3. for every scenario (`qdit bench --list`): `qdit bench --scenario ID --check bench/baselines.json` (plus
#      --update when asked: records the run as the card's baseline), then bench/gpu/torch_wan.py on the same
#      Wan config (plain PyTorch bf16, random weights), and a line qdit vs PyTorch.
# Results (JSON per scenario, logs) go to $QDIT_SCEN_OUT (default /tmp/qdit-scenarios). Exit status 1 when a
# scenario regressed against its baseline or a step failed.
#   bash bench/gpu/scenarios.sh [--tests] [--update]
set -uo pipefail
TESTS=0; UPDATE=""
for a in "$@"; do
  case $a in --tests) TESTS=1 ;; --update) UPDATE=--update ;; *) echo "unknown argument $a" >&2; exit 2 ;; esac
done
OUTD=${QDIT_SCEN_OUT:-/tmp/qdit-scenarios}
mkdir -p "$OUTD"
BASELINES=${QDIT_BASELINES:-bench/baselines.json}
RC=0

. bench/gpu/gpu_env.sh  # .gpudeps unpacked, library paths, configure_gpu_build

# QDIT_BENCH_PREBUILT=DIR: qdit, test_forward and test_bench built on the development machine (same nvcc 13,
# sm_90a) and carried, so the run does not depend on the rest of the tree compiling at that moment; DIR/BUILD_INFO
# says from which tree. Used only when they load; otherwise build here.
BIN=build-gpu
PRE=${QDIT_BENCH_PREBUILT:-}
if [ -n "$PRE" ] && [ -x "$PRE/qdit" ] && ! ldd "$PRE/qdit" "$PRE/test_forward" | grep -q "not found"; then
  echo "== scenarios: PREBUILT binaries from $PRE: $(cat "$PRE/BUILD_INFO" 2>/dev/null)"
  BIN=$PRE
elif [ ! -f build-gpu/build.ninja ]; then
  configure_gpu_build "$OUTD/configure.log" || exit 1
fi
t0=$SECONDS
if [ "$BIN" = build-gpu ] && ! cmake --build build-gpu -j "$(nproc)" --target qdit test_forward test_bench >"$OUTD/build.log" 2>&1; then
  grep -E "error" "$OUTD/build.log" | head -20
  echo "== scenarios: build failed"; exit 1
fi
echo "== scenarios: qdit, test_forward, test_bench ready in $BIN ($((SECONDS - t0)) s)"
ldd "$BIN/qdit" | grep -E "not found|cudnn|cublasLt|cudart" | sed "s/^/   /"

if [ $TESTS = 1 ]; then
  for t in test_forward test_bench; do
    timeout 240 "$BIN/$t" --gtest_filter='*Cuda*' >"$OUTD/$t.log" 2>&1 || RC=1
    grep -E "^GPU |^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|Failure|Expected|Which is|error" "$OUTD/$t.log" | head -60
  done
fi

printf '%s\n' "| scenario | qdit forward ms | gemm / attention / rest ms | peak GiB | PyTorch bf16 ms | PyTorch peak GiB | speedup |" >"$OUTD/table.md"
printf '%s\n' "|---|---|---|---|---|---|---|" >>"$OUTD/table.md"
for s in $("$BIN/qdit" bench --list | awk '{print $1}'); do
  echo "== scenario $s"
  timeout 300 "$BIN/qdit" bench --scenario "$s" --check "$BASELINES" $UPDATE --out "$OUTD/$s.json" \
    2> >(tee "$OUTD/$s.err" >&2) | tee "$OUTD/$s.txt"
  st=${PIPESTATUS[0]}
  [ "$st" = 0 ] || { echo "== scenario $s: exit $st"; RC=1; }
  variant=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['variant'])" "$OUTD/$s.json" 2>/dev/null) || continue
  # One PyTorch forward per Wan config: scenarios that differ only in qdit's options (e.g. _qk8) share it.
  if [ -s "$OUTD/torch_$variant.json" ]; then
    cp "$OUTD/torch_$variant.json" "$OUTD/$s.torch.json"
  else
    timeout 240 env PYTHONUNBUFFERED=1 python3 bench/gpu/torch_wan.py --variant "$variant" >"$OUTD/$s.torch.json" 2>"$OUTD/$s.torch.log" ||
      { tail -5 "$OUTD/$s.torch.log"; RC=1; continue; }
    cp "$OUTD/$s.torch.json" "$OUTD/torch_$variant.json"
  fi
  python3 - "$OUTD/$s.json" "$OUTD/$s.torch.json" >>"$OUTD/table.md" <<'PY'
import json, sys
q = json.load(open(sys.argv[1])); t = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
st = q["stages_ms"]
print(f"| {q['scenario']} ({q['device_name']}) | {q['forward_ms']:.1f} | {st['gemm']:.1f} / {st['attention']:.1f} / {st['rest']:.1f} "
      f"| {q['peak_memory_bytes'] / 2**30:.2f} | {t['forward_ms']:.1f} | {t['peak_allocated_gib']:.2f} | {t['forward_ms'] / q['forward_ms']:.2f}x |")
PY
done
echo "== scenarios: qdit vs PyTorch (same run)"
cat "$OUTD/table.md"
exit $RC
