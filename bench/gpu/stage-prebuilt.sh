#!/usr/bin/env bash
# Run on the development machine before a GPU session that uses QDIT_GPU_PREBUILT (bench/gpu/run.sh): copies
# the GPU test, benchmark and CLI binaries from BUILD_DIR (configured with CUDA on, sm_90a) into DEST (a git-ignored folder,
# named in the device tool's `carry`) with BUILD_INFO naming the commit, the locally modified files and nvcc.
# Usage: bench/gpu/stage-prebuilt.sh BUILD_DIR DEST
set -euo pipefail
src=$1 dest=$2
BINS="test_ops test_forward test_bench qdit ops_cuda_bench fused_linear_bench"
cmake --build "$src" --target $BINS -j2 >/dev/null
mkdir -p "$dest"
for b in $BINS; do cp "$src/$b" "$dest/"; done
{
  echo "commit $(git rev-parse --short HEAD), built $(date -u +%FT%TZ) with $(nvcc --version | tail -1)"
  echo "modified: $(git status --porcelain -- src tests bench | tr '\n' ' ')"
} >"$dest/BUILD_INFO"
cat "$dest/BUILD_INFO"
