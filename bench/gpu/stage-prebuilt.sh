#!/usr/bin/env bash
# Run on the development machine before a GPU session that uses QDIT_GPU_PREBUILT (bench/gpu/run.sh): copies
# test_ops and ops_cuda_bench from BUILD_DIR (configured with CUDA on, sm_90a) into DEST (a git-ignored folder,
# named in the device tool's `carry`) with BUILD_INFO naming the commit, the locally modified files and nvcc.
# Usage: bench/gpu/stage-prebuilt.sh BUILD_DIR DEST
set -euo pipefail
src=$1 dest=$2
cmake --build "$src" --target test_ops ops_cuda_bench -j2 >/dev/null
mkdir -p "$dest"
cp "$src/test_ops" "$src/ops_cuda_bench" "$dest/"
{
  echo "commit $(git rev-parse --short HEAD), built $(date -u +%FT%TZ) with $(nvcc --version | tail -1)"
  echo "modified: $(git status --porcelain -- src/qdit/ops tests/ops bench/gpu | tr '\n' ' ')"
} >"$dest/BUILD_INFO"
cat "$dest/BUILD_INFO"
