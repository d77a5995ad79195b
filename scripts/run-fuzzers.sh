#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, starting from its seed corpus in fuzz/corpus/<name>.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-20}
found=0
for f in "$build"/*_fuzz; do
  [ -x "$f" ] || continue
  found=1
  name=$(basename "$f")
  seeds="fuzz/corpus/${name%_fuzz}"
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
  echo "fuzz: $name for ${seconds}s"
  "$f" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 "$work" 2>&1 | tail -n 12
  rm -rf "$work"
done
if [ $found -eq 0 ]; then echo "fuzz: no fuzz targets were built" >&2; exit 1; fi
