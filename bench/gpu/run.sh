#!/usr/bin/env bash
# One GPU session of the CUDA backend, on a lent H100/H200 (from the repository root):
#   1. record the card, driver, CUDA and PyTorch versions;
#   2. configure and build test_ops and ops_cuda_bench with -DQDIT_CUDA=ON (sm_90a). Debian build dependencies
#      the GPU image lacks (oneDNN, GoogleTest, Google Benchmark, RE2, nlohmann-json, pkgconf) come as .deb files
#      in .gpudeps/ (bench/gpu/fetch-deps.sh; carried) unpacked into a private prefix, never into /. cuBLAS(Lt)
#      comes from the toolkit or from the NVIDIA pip wheels of the PyTorch image (cmake/QditCudaLibs.cmake);
#   3. run the GPU tests, then compute-sanitizer memcheck and racecheck over them;
#   4. run the GPU benchmarks and PyTorch's same-run baselines (bf16 matmul, cuDNN SDPA, copy);
#   5. print a short table (last, so it ends the output).
# If the build on the GPU machine fails and .gpubin/ holds binaries built on the development machine, those run
# instead, and the log says so loudly.
set -uo pipefail
# Logs go to a private folder; the device tool returns only a few files, so $OUT (if set) receives a tarball of
# all of them plus the JSON results and the table.
RET=${OUT:-}
OUT=/tmp/qdit-gpu-out
rm -rf "$OUT" && mkdir -p "$OUT"
ROOT=$(pwd)
JOBS=$(nproc)
STATUS=()
# The whole script fits a time budget (device minutes are scarce): each step gets at most what is left, and the
# steps run in order of importance (build, tests, benchmarks, baselines, sanitizers), the table last.
BUDGET=${QDIT_GPU_BUDGET_S:-420}
left() { local l=$((BUDGET - SECONDS)); local cap=${1:-$l}; [ $l -lt $cap ] && cap=$l; [ $cap -lt 5 ] && cap=5; echo $cap; }
note() { echo "== $*"; }
step() { local name=$1; shift; local t0=$SECONDS; "$@"; local rc=$?; STATUS+=("$name: rc=$rc ($((SECONDS - t0)) s)"); return $rc; }

note "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/card.txt"
(nvcc --version | tail -2; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; cmake --version | head -1; g++ --version | head -1; ldd --version | head -1) 2>&1 | tee -a "$OUT/card.txt"

# ---- dependencies: Debian .debs unpacked into a private prefix -----------------------------------------------
DEPS=/tmp/qdit-deps
if ls .gpudeps/*.deb >/dev/null 2>&1; then
  mkdir -p "$DEPS"
  for f in .gpudeps/*.deb; do dpkg-deb -x "$f" "$DEPS" 2>/dev/null || dpkg -x "$f" "$DEPS"; done
fi
ARCHLIB=$DEPS/usr/lib/x86_64-linux-gnu
NV=$(python3 -c "import nvidia, os; print(os.path.dirname(nvidia.__file__))" 2>/dev/null || true)
NVLIBS=$(find "$NV" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="$ARCHLIB:${NVLIBS}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export PKG_CONFIG_SYSROOT_DIR=$DEPS
export PKG_CONFIG_LIBDIR="$ARCHLIB/pkgconfig:$DEPS/usr/share/pkgconfig"
PKGCONF=$(command -v pkg-config || echo "$DEPS/usr/bin/pkgconf")

# ---- build on this machine ---------------------------------------------------------------------------------
BIN=""
build() {
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DQDIT_CUDA=ON \
    -DCMAKE_PREFIX_PATH="$DEPS/usr;$ARCHLIB/cmake" -DPKG_CONFIG_EXECUTABLE="$PKGCONF" \
    -DGTest_DIR="$ARCHLIB/cmake/GTest" -Dbenchmark_DIR="$ARCHLIB/cmake/benchmark" -Ddnnl_DIR="$ARCHLIB/cmake/dnnl" \
    -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" >"$OUT/configure.log" 2>&1 || {
    tail -30 "$OUT/configure.log"; return 1; }
  timeout "$(left 200)" cmake --build build-gpu -j "$JOBS" --target test_ops ops_cuda_bench >"$OUT/build.log" 2>&1 || {
    grep -E "error|Error" "$OUT/build.log" | head -30; return 1; }
}
if step build build; then
  BIN=build-gpu
elif [ -x .gpubin/test_ops ]; then
  note "BUILD ON THE GPU MACHINE FAILED: running the binaries built on the development machine (.gpubin/)"
  BIN=.gpubin
else
  note "BUILD FAILED and no prebuilt binaries: stopping"
fi

if [ -n "$BIN" ]; then
  ldd "$BIN/test_ops" | grep -E "not found|cublas|cudart|dnnl" | tee "$OUT/ldd.txt"
  # ---- tests ---------------------------------------------------------------------------------------------
  note "GPU tests"
  step gpu_tests timeout "$(left 150)" "$BIN/test_ops" --gtest_filter='*Cuda*' --gtest_output=json:"$OUT/gtest.json" \
    >"$OUT/tests.log" 2>&1
  grep -E "^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|Failure|Expected|Which is|rel_l2|error|Error" "$OUT/tests.log" | head -120
  # ---- benchmarks ----------------------------------------------------------------------------------------
  note "benchmarks"
  step bench timeout "$(left 120)" "$BIN/ops_cuda_bench" --benchmark_out="$OUT/bench.json" --benchmark_out_format=json \
    >"$OUT/bench.log" 2>&1
  tail -5 "$OUT/bench.log"
fi
note "PyTorch baselines"
step torch_ref timeout "$(left 100)" env PYTHONUNBUFFERED=1 python3 bench/gpu/torch_ref.py >"$OUT/torch.json" 2>"$OUT/torch.log"
tail -3 "$OUT/torch.log"
if [ "$BIN" = build-gpu ]; then
  note "whole model: qdit run --device cuda vs cpu"
  if timeout "$(left 120)" cmake --build build-gpu -j "$JOBS" --target qdit >"$OUT/build_qdit.log" 2>&1; then
    step e2e timeout "$(left 90)" bash bench/gpu/e2e.sh build-gpu/qdit /tmp/qdit-e2e >"$OUT/e2e.log" 2>&1
    tail -15 "$OUT/e2e.log"
  else
    grep -E "error" "$OUT/build_qdit.log" | head -10
  fi
fi
if [ -n "$BIN" ]; then
  # Sanitizers on the moderate shapes (the 160 MiB copy and the 32760-token attention would take minutes).
  SAN_FILTER='*Cuda*:-*RoundTripSmallAndLarger*:*LargeSelfAttention*'
  if command -v compute-sanitizer >/dev/null; then
    note "compute-sanitizer memcheck"
    step memcheck timeout "$(left 120)" compute-sanitizer --tool memcheck --error-exitcode 9 "$BIN/test_ops" \
      --gtest_filter="$SAN_FILTER" >"$OUT/memcheck.log" 2>&1
    grep -E "ERROR SUMMARY|Invalid|PASSED|FAILED" "$OUT/memcheck.log" | head -20
    note "compute-sanitizer racecheck"
    step racecheck timeout "$(left 90)" compute-sanitizer --tool racecheck --error-exitcode 9 "$BIN/test_ops" \
      --gtest_filter='*AttentionCuda.Bf16*:*AttentionCuda.Cross*:*LinearCuda.QuantizationAndInt32*:*NormsCuda*:*AttentionCuda.Fp32*' \
      >"$OUT/racecheck.log" 2>&1
    grep -E "RACECHECK SUMMARY|ERROR SUMMARY|hazard|PASSED|FAILED" "$OUT/racecheck.log" | head -20
  else
    note "compute-sanitizer not found"
  fi
fi

# ---- benchmark scenarios (issue 5; bench/gpu/scenarios.sh owns this section) ------------------------------
# Every `qdit bench --scenario` for the card found here, checked against bench/baselines.json (a regression or
# a missing baseline for this card marks the step rc=1), each with its same-run PyTorch bf16 forward
# (bench/gpu/torch_wan.py). About 2-3 minutes on an H100/H200: give QDIT_GPU_BUDGET_S room for it.
if [ "${QDIT_GPU_SCENARIOS:-1}" = 1 ] && [ "${FOCUS:-all}" = all ]; then
  note "benchmark scenarios: qdit bench --scenario ... --check bench/baselines.json, PyTorch same-run"
  step scenarios timeout "$(left 300)" env QDIT_SCEN_OUT="$OUT/scenarios" bash bench/gpu/scenarios.sh \
    >"$OUT/scenarios.log" 2>&1
  grep -E "^(== |\||ok:|REGRESSION|no baseline|  (forward|peak))" "$OUT/scenarios.log" | tail -20
fi

note "steps"
printf '%s\n' "${STATUS[@]}"
note "summary"
python3 bench/gpu/summarize.py "$OUT/bench.json" "$OUT/torch.json" "$OUT/table.md"
if [ -n "$RET" ]; then
  tar czf "$RET/logs.tgz" -C "$OUT" . 2>/dev/null
  cp "$OUT/bench.json" "$OUT/torch.json" "$OUT/table.md" "$RET/" 2>/dev/null
fi
