#!/usr/bin/env bash
# Run on the development machine before a GPU session that uses QDIT_GPU_PREBUILT (bench/gpu/run.sh): copies
# the GPU test, benchmark and CLI binaries from BUILD_DIR (configured with CUDA on, sm_90a) into DEST (a git-ignored folder,
# named in the device tool's `carry`) with BUILD_INFO naming the commit, the locally modified files and nvcc.
# Usage: bench/gpu/stage-prebuilt.sh BUILD_DIR DEST
set -euo pipefail
src=$1 dest=$2
BINS="test_ops test_forward test_bench qdit ops_cuda_bench fused_linear_bench"
cmake --build "$src" --target $BINS -j2 >/dev/null
# The six binaries with their sm_90a kernels outgrow the device tool's 64 MiB carry limit: they travel stripped
# and xz-compressed (about 7 MiB); run.sh unpacks bins.tar.xz when it finds one.
mkdir -p "$dest"
stage=$(mktemp -d)
for b in $BINS; do cp "$src/$b" "$stage/" && strip "$stage/$b"; done
tar cJf "$dest/bins.tar.xz" -C "$stage" $BINS
rm -rf "$stage"
{
  echo "commit $(git rev-parse --short HEAD), built $(date -u +%FT%TZ) with $(nvcc --version | tail -1)"
  echo "modified: $(git status --porcelain -- src tests bench | tr '\n' ' ')"
} >"$dest/BUILD_INFO"
cat "$dest/BUILD_INFO"
