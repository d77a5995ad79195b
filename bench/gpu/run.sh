#!/usr/bin/env bash
# One GPU session of the CUDA backend, on a lent H100/H200 (from the repository root):
#   1. record the card, driver, CUDA and PyTorch versions;
#   2. configure and build the GPU tests (test_ops, test_forward, test_bench), qdit, ops_cuda_bench and
#      fused_linear_bench with -DQDIT_CUDA=ON (sm_90a). Debian build dependencies
#      the GPU image lacks (oneDNN, GoogleTest, Google Benchmark, RE2, nlohmann-json, pkgconf) come as .deb files
#      in .gpudeps/ (bench/gpu/fetch-deps.sh; carried) unpacked into a private prefix, never into /. cuBLAS(Lt)
#      comes from the toolkit or from the NVIDIA pip wheels of the PyTorch image (cmake/QditCudaLibs.cmake);
#   3. run the GPU tests (ops and whole model), then compute-sanitizer memcheck and racecheck over them;
#   4. run the GPU benchmarks and PyTorch's same-run baselines (bf16 matmul, cuDNN SDPA, copy), `qdit run` on
#      both devices, and the benchmark scenarios (bench/gpu/scenarios.sh; QDIT_GPU_UPDATE=1 records them as the
#      card's baselines in bench/baselines.json, which then comes back in $OUT);
#   5. print a short table (last, so it ends the output).
# If the build on the GPU machine fails and .gpubin/ holds binaries built on the development machine, those run
# instead, and the log says so loudly.
# QDIT_GPU_FOCUS=attention: every GPU test (ops and whole model), the attention benchmarks (cuDNN's SDPA and the
# int8-QK kernel) with PyTorch's attention baseline, the benchmark scenarios, memcheck over the int8-QK attention
# tests (op and forward) and racecheck over a short one; no other benchmarks, no `qdit run` comparison.
# QDIT_GPU_FOCUS=int8 narrows a session to the int8 GEMM work (issue 5): the int8/linear GPU tests, the GEMM,
# quantization and copy benchmarks, PyTorch's GEMM baselines (bf16 and cuBLASLt int8, no attention), the
# sanitizers over the int8 tests, and a disassembly check that the Hopper kernel really issues IGMMA and
# UTMALDG; no whole-model run.
set -uo pipefail
FOCUS=${QDIT_GPU_FOCUS:-all}
export PATH="$PATH:/usr/local/cuda/bin"
if [ "$FOCUS" = int8 ]; then
  TEST_FILTER='*Int8GemmCuda*:*LinearCuda*'
  BENCH_FILTER='BM_(W8A8|Int8|Bf16|Quantize|Copy)'
  TORCH_ARGS=--gemm-only
  SAN_FILTER='*Int8GemmCuda*:*LinearCuda.W8A8*:*LinearCuda.Quantization*'
  RACE_FILTER='*LinearCuda.QuantizationAndInt32*'
  FWD_SAN_FILTER=''
  FWD_RACE_FILTER=''
elif [ "$FOCUS" = attention ]; then
  TEST_FILTER='*Cuda*'
  BENCH_FILTER='BM_Attention(Int8Qk|CudnnKernel)'
  TORCH_ARGS=--attention-only
  SAN_FILTER='*AttentionInt8*:-*FullLength32760*'
  RACE_FILTER='*AttentionInt8QkCuda.RaggedLengthsSeveralHeads*'
  FWD_SAN_FILTER='*AttentionInt8Forward*'
  FWD_RACE_FILTER=''
else
  TEST_FILTER='*Cuda*'
  BENCH_FILTER='.'
  # Whole-model GPU tests (test_forward) under the sanitizers too: tiny models, every variant and scheme.
  FWD_SAN_FILTER='*Cuda*'
  FWD_RACE_FILTER='*Cuda*'
  TORCH_ARGS=
  # Sanitizers on the moderate shapes (the 160 MiB copy and the 32760-token attention would take minutes).
  SAN_FILTER='*Cuda*:-*RoundTripSmallAndLarger*:*LargeSelfAttention*:*FullLength32760*'
  # racecheck over the same set: every GPU op test but the two that take minutes under the tool.
  RACE_FILTER=$SAN_FILTER
fi
# Logs go to a private folder; the device tool returns only a few files, so $OUT (if set) receives a tarball of
# all of them plus the JSON results and the table.
RET=${OUT:-}
OUT=/tmp/qdit-gpu-out
rm -rf "$OUT" && mkdir -p "$OUT"
ROOT=$(pwd)
JOBS=$(nproc)
STATUS=()
# The whole script fits a time budget (device minutes are scarce): each step gets at most what is left, and the
# steps run in order of importance (build, tests, benchmarks, baselines, scenarios, sanitizers), the table last.
BUDGET=${QDIT_GPU_BUDGET_S:-420}
left() { local l=$((BUDGET - SECONDS)); local cap=${1:-$l}; [ $l -lt $cap ] && cap=$l; [ $cap -lt 5 ] && cap=5; echo $cap; }
note() { echo "== $*"; }
step() { local name=$1; shift; local t0=$SECONDS; "$@"; local rc=$?; STATUS+=("$name: rc=$rc ($((SECONDS - t0)) s)"); return $rc; }
# racecheck reports hazards in NVIDIA's library kernels too (cuDNN's generated SDPA kernels, cuBLAS's nvjet
# kernels: TMA/mbarrier-synchronised code the tool does not model). They are listed, by kernel, and the verdict
# that counts is the one over qdit's own kernels.
own_hazards() {
  local name=$1 log=$2
  python3 - "$log" <<'PY' | tee -a "$OUT/racecheck_by_kernel.txt"
import collections, re, sys
lib = re.compile(r"^(cudnn|nvjet|cutlass|sm90_xmma|sm80_xmma|ampere_|void cutlass)")
own, other = collections.Counter(), collections.Counter()
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"Race reported between \S+ access at (\S+?)\+0x", line)
    if m:
        (other if lib.match(m.group(1)) else own)[m.group(1)] += 1
print(f"racecheck {sys.argv[1].rsplit('/', 1)[-1]}: {sum(own.values())} race reports in qdit kernels {dict(own)}; "
      f"{sum(other.values())} in NVIDIA library kernels {dict(other)}")
sys.exit(1 if own else 0)
PY
  local rc=${PIPESTATUS[0]}
  STATUS+=("${name}_own_kernels: rc=$rc")
}

note "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/card.txt"
(nvcc --version | tail -2; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; cmake --version | head -1; g++ --version | head -1; ldd --version | head -1) 2>&1 | tee -a "$OUT/card.txt"

# ---- dependencies and library paths (bench/gpu/gpu_env.sh) ---------------------------------------------------
. bench/gpu/gpu_env.sh

# ---- build on this machine ---------------------------------------------------------------------------------
BIN=""
build() {
  configure_gpu_build "$OUT/configure.log" || return 1
  timeout "$(left 200)" cmake --build build-gpu -j "$JOBS" --target test_ops test_forward test_bench qdit ops_cuda_bench fused_linear_bench \
    >"$OUT/build.log" 2>&1 || {
    grep -E "error|Error" "$OUT/build.log" | head -30; return 1; }
}
# QDIT_GPU_PREBUILT=DIR: run the binaries built on the development machine (bench/gpu/stage-prebuilt.sh) (same nvcc, sm_90a)
# and carried in DIR, with DIR/BUILD_INFO saying from which tree; this skips a minute of device time and does
# not depend on other folders of the tree compiling at that moment. Falls back to building here when the
# binaries cannot load.
PREBUILT=${QDIT_GPU_PREBUILT:-}
if [ -n "$PREBUILT" ] && [ -f "$PREBUILT/bins.tar.xz" ]; then  # as stage-prebuilt.sh packs them
  mkdir -p /tmp/qdit-prebuilt && tar xJf "$PREBUILT/bins.tar.xz" -C /tmp/qdit-prebuilt &&
    cp "$PREBUILT/BUILD_INFO" /tmp/qdit-prebuilt/ 2>/dev/null
  PREBUILT=/tmp/qdit-prebuilt
fi
if [ -n "$PREBUILT" ] && [ -x "$PREBUILT/test_ops" ] && ! ldd "$PREBUILT/test_ops" | grep -q "not found"; then
  note "PREBUILT BINARIES from $PREBUILT: $(cat "$PREBUILT/BUILD_INFO" 2>/dev/null)"
  BIN=$PREBUILT
elif step build build; then
  BIN=build-gpu
elif [ -x .gpubin/test_ops ]; then
  note "BUILD ON THE GPU MACHINE FAILED: running the binaries built on the development machine (.gpubin/)"
  BIN=.gpubin
else
  note "BUILD FAILED and no prebuilt binaries: stopping"
fi

if [ -n "$BIN" ]; then
  ldd "$BIN/test_ops" | grep -E "not found|cublas|cudart|cudnn|dnnl" | tee "$OUT/ldd.txt"
  # ---- tests ---------------------------------------------------------------------------------------------
  note "GPU tests"
  if [ "$FOCUS" = int8 ] && command -v cuobjdump >/dev/null; then
    note "disassembly of the int8 kernels (instruction counts per kernel family)"
    cuobjdump -sass "$BIN/test_ops" >"$OUT/test_ops.sass" 2>&1
    python3 - "$OUT/test_ops.sass" <<'PY' | tee "$OUT/sass_summary.txt"
import re, sys, collections
fn, counts = None, collections.defaultdict(collections.Counter)
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"Function : (\S+)", line)
    if m:
        fn = "sm90" if "int8_gemm_sm90" in m.group(1) else ("mma" if "int8_gemm_mma" in m.group(1) else None)
        continue
    if fn:
        for op in re.findall(r"\b(IGMMA\S*|HGMMA\S*|UTMALDG\S*|UTMAPF\S*|SYNCS\S*|USETMAXREG\S*|IMMA\S*|LDL\S*|STL\S*|WARPGROUP\S*)", line):
            counts[fn][op.split(".")[0]] += 1
for fn, c in counts.items():
    print(fn, dict(sorted(c.items())))
PY
  fi
  step gpu_tests timeout "$(left 150)" "$BIN/test_ops" --gtest_filter="$TEST_FILTER" --gtest_output=json:"$OUT/gtest.json" \
    >"$OUT/tests.log" 2>&1
  grep -E "^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|Failure|Expected|Which is|rel_l2|error|Error" "$OUT/tests.log" | head -120
  if [ -n "$FWD_SAN_FILTER" ] && [ -x "$BIN/test_forward" ]; then
    note "whole-model GPU tests (test_forward, test_bench)"
    step gpu_model_tests timeout "$(left 150)" "$BIN/test_forward" --gtest_filter='*Cuda*' \
      --gtest_output=json:"$OUT/gtest_forward.json" >"$OUT/tests_forward.log" 2>&1
    grep -E "^GPU |^\[ +(FAILED|PASSED) +\]|Failure|Expected|Which is" "$OUT/tests_forward.log" | head -60
    [ -x "$BIN/test_bench" ] && step gpu_bench_tests timeout "$(left 60)" "$BIN/test_bench" --gtest_filter='*Cuda*' \
      >"$OUT/tests_bench.log" 2>&1
  fi
  # ---- benchmarks ----------------------------------------------------------------------------------------
  note "benchmarks"
  if [ "$FOCUS" = int8 ]; then
    # One process per family, baselines first: a faulting kernel cannot take the baselines down with it.
    for fam in 'BM_(Bf16|Quantize|Copy)' 'BM_Int8GemmOnly' 'BM_W8A8'; do
      tag=$(echo "$fam" | tr -dc 'A-Za-z0-9')
      step "bench_$tag" timeout "$(left 100)" "$BIN/ops_cuda_bench" --benchmark_filter="$fam" \
        --benchmark_out="$OUT/bench_$tag.json" --benchmark_out_format=json >>"$OUT/bench.log" 2>&1
    done
    python3 - "$OUT" <<'PY'
import glob, json, os, sys
merged = {"benchmarks": []}
for f in sorted(glob.glob(os.path.join(sys.argv[1], "bench_BM*.json"))):
    try:
        merged["benchmarks"] += json.load(open(f)).get("benchmarks", [])
    except Exception as e:
        print("could not read", f, e)
json.dump(merged, open(os.path.join(sys.argv[1], "bench.json"), "w"))
PY
  else
    step bench timeout "$(left 120)" "$BIN/ops_cuda_bench" --benchmark_filter="$BENCH_FILTER" \
      --benchmark_out="$OUT/bench.json" --benchmark_out_format=json >"$OUT/bench.log" 2>&1
    if [ "$FOCUS" = all ] && [ -x "$BIN/fused_linear_bench" ]; then
      step fused_bench timeout "$(left 90)" "$BIN/fused_linear_bench" --benchmark_out="$OUT/fused_linear.json" \
        --benchmark_out_format=json >"$OUT/fused_linear.log" 2>&1
      grep -E "^BM_" "$OUT/fused_linear.log" | head -30
    fi
  fi
  tail -5 "$OUT/bench.log"
fi
note "PyTorch baselines"
step torch_ref timeout "$(left 100)" env PYTHONUNBUFFERED=1 python3 bench/gpu/torch_ref.py $TORCH_ARGS >"$OUT/torch.json" 2>"$OUT/torch.log"
tail -3 "$OUT/torch.log"
if [ -n "$BIN" ] && [ -x "$BIN/qdit" ] && [ "${FOCUS:-all}" = all ]; then
  note "whole model: qdit run --device cuda vs cpu"
  step e2e timeout "$(left 90)" bash bench/gpu/e2e.sh "$BIN/qdit" /tmp/qdit-e2e >"$OUT/e2e.log" 2>&1
  tail -15 "$OUT/e2e.log"
fi
# ---- benchmark scenarios (issue 5; bench/gpu/scenarios.sh owns this section) ------------------------------
# Every `qdit bench --scenario` for the card found here, checked against bench/baselines.json (a regression or
# a missing baseline for this card marks the step rc=1), each with its same-run PyTorch bf16 forward
# (bench/gpu/torch_wan.py). About 2-3 minutes on an H100/H200: give QDIT_GPU_BUDGET_S room for it.
if [ "${QDIT_GPU_SCENARIOS:-1}" = 1 ] && [ "$FOCUS" != int8 ]; then
  note "benchmark scenarios: qdit bench --scenario ... --check bench/baselines.json, PyTorch same-run"
  SCEN_PRE=""; [ -n "$BIN" ] && [ "$BIN" != build-gpu ] && SCEN_PRE=$BIN
  step scenarios timeout "$(left 300)" env QDIT_SCEN_OUT="$OUT/scenarios" QDIT_BENCH_PREBUILT="$SCEN_PRE" \
    bash bench/gpu/scenarios.sh ${QDIT_GPU_UPDATE:+--update} >"$OUT/scenarios.log" 2>&1
  grep -E "^(== |\||ok:|REGRESSION|no baseline|  (forward|peak))" "$OUT/scenarios.log" | tail -20
fi

if [ -n "$BIN" ]; then
  if command -v compute-sanitizer >/dev/null; then
    note "compute-sanitizer memcheck"
    step memcheck timeout "$(left 120)" compute-sanitizer --tool memcheck --error-exitcode 9 "$BIN/test_ops" \
      --gtest_filter="$SAN_FILTER" >"$OUT/memcheck.log" 2>&1
    grep -E "ERROR SUMMARY|Invalid|PASSED|FAILED" "$OUT/memcheck.log" | head -20
    if [ -n "$FWD_SAN_FILTER" ] && [ -x "$BIN/test_forward" ]; then
      step memcheck_model timeout "$(left 150)" compute-sanitizer --tool memcheck --error-exitcode 9 "$BIN/test_forward" \
        --gtest_filter="$FWD_SAN_FILTER" >"$OUT/memcheck_model.log" 2>&1
      grep -E "ERROR SUMMARY|Invalid|PASSED|FAILED" "$OUT/memcheck_model.log" | head -20
    fi
    note "compute-sanitizer racecheck"
    step racecheck timeout "$(left 240)" compute-sanitizer --tool racecheck --error-exitcode 9 "$BIN/test_ops" \
      --gtest_filter="$RACE_FILTER" \
      >"$OUT/racecheck.log" 2>&1
    grep -E "RACECHECK SUMMARY|ERROR SUMMARY|hazard|PASSED|FAILED" "$OUT/racecheck.log" | head -20
    own_hazards racecheck "$OUT/racecheck.log"
    if [ -n "$FWD_RACE_FILTER" ] && [ -x "$BIN/test_forward" ]; then
      step racecheck_model timeout "$(left 240)" compute-sanitizer --tool racecheck --error-exitcode 9 "$BIN/test_forward" \
        --gtest_filter="$FWD_RACE_FILTER" >"$OUT/racecheck_model.log" 2>&1
      grep -E "RACECHECK SUMMARY|ERROR SUMMARY|hazard|PASSED|FAILED" "$OUT/racecheck_model.log" | head -20
      own_hazards racecheck_model "$OUT/racecheck_model.log"
    fi
  else
    note "compute-sanitizer not found"
  fi
fi

note "steps"
printf '%s\n' "${STATUS[@]}"
note "summary"
python3 bench/gpu/summarize.py "$OUT/bench.json" "$OUT/torch.json" "$OUT/table.md"
if [ -n "$RET" ]; then
  tar czf "$RET/logs.tgz" -C "$OUT" . 2>/dev/null
  cp "$OUT/bench.json" "$OUT/torch.json" "$OUT/table.md" "$RET/" 2>/dev/null
  [ -n "${QDIT_GPU_UPDATE:-}" ] && cp bench/baselines.json "$RET/baselines.json" 2>/dev/null
fi
