#!/usr/bin/env bash
# Memory benchmark of `qdit synth` and `qdit quantize` on a Wan2.1-T2V-14B-config checkpoint (D=5120, F=13824,
# 40 heads; bf16 like the released weights). Both stream one tensor / one layer at a time, so their memory beyond
# the mmap of the source must stay flat whatever the depth: the target is a peak anonymous RSS (heap, i.e. what
# is resident beyond the file mappings) under 2 GiB for quantize.
#
# usage: bench/quantize_14b_memory.sh BUILD_DIR [WORK_DIR] [LAYERS]
#   LAYERS defaults to 40 (the full 14B: 28.6 GB of bf16 weights written, about 15 GB more for the output);
#   fewer layers give the same per-layer peak with less disk.
set -euo pipefail

BUILD=${1:?usage: bench/quantize_14b_memory.sh BUILD_DIR [WORK_DIR] [LAYERS]}
WORK=${2:-$BUILD/bench-14b}
LAYERS=${3:-40}
QDIT="$BUILD/qdit"
[[ -x "$QDIT" ]] || { echo "no $QDIT: build first" >&2; exit 2; }
rm -rf "$WORK"
mkdir -p "$WORK"

# Runs a command, sampling /proc/PID/status every 50 ms; prints wall time and the peaks of RssAnon (heap and
# other private memory), RssFile (mapped file pages, the source mmap included) and VmHWM (the kernel's own peak).
measure() {
  local label=$1
  shift
  local start end pid anon=0 file=0 hwm=0 a f h
  start=$(date +%s.%N)
  "$@" >"$WORK/$label.log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [[ -r /proc/$pid/status ]]; then
      a=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      f=$(awk '/^RssFile:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      h=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      (( ${a:-0} > anon )) && anon=${a:-0}
      (( ${f:-0} > file )) && file=${f:-0}
      (( ${h:-0} > hwm )) && hwm=${h:-0}
    fi
    sleep 0.05
  done
  wait "$pid" || { echo "$label failed:"; cat "$WORK/$label.log"; exit 1; }
  end=$(date +%s.%N)
  printf '%-10s %8.1f s   peak RssAnon %7.1f MiB   peak RssFile %8.1f MiB   VmHWM %8.1f MiB\n' "$label" \
    "$(echo "$end - $start" | bc)" "$(echo "$anon / 1024" | bc -l)" "$(echo "$file / 1024" | bc -l)" \
    "$(echo "$hwm / 1024" | bc -l)"
  echo "$anon" >"$WORK/$label.anon_kib"
}

echo "Wan2.1-T2V-14B config, $LAYERS blocks, bf16, $(nproc) cores; work dir $WORK"
measure synth "$QDIT" synth --variant wan2.1-t2v-14b --layers "$LAYERS" --dtype bf16 --out "$WORK/float"
du -sh "$WORK/float"
measure quantize "$QDIT" quantize "$WORK/float" --out "$WORK/w8a8_dynamic" --scheme w8a8_dynamic \
  --exclude '*ffn.net.2*'
du -sh "$WORK/w8a8_dynamic"
tail -1 "$WORK/quantize.log"

limit_kib=$((2 * 1024 * 1024))
anon=$(cat "$WORK/quantize.anon_kib")
if (( anon < limit_kib )); then
  echo "PASS: quantize peak anonymous RSS $((anon / 1024)) MiB < 2048 MiB"
else
  echo "FAIL: quantize peak anonymous RSS $((anon / 1024)) MiB >= 2048 MiB"
  exit 1
fi
