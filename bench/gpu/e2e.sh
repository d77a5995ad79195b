#!/usr/bin/env bash
# Whole-model check of `qdit run --device cuda` (called by run.sh with the qdit binary): a small random Wan model
# (2 blocks, D=256, 2 heads of 128, F=512) is written by `qdit synth`, quantized by `qdit quantize` into each
# scheme, and run on the CPU and on the GPU, each in fp32 and bf16. compare.py prints the relative L2 of each
# GPU output against the CPU output of the same precision, and of the bf16 runs against the CPU fp32 one.
# Usage: e2e.sh QDIT WORKDIR
set -uo pipefail
Q=$1
D=$2
rm -rf "$D" && mkdir -p "$D"
"$Q" synth --variant wan2.1-t2v-1.3b --layers 2 --dim 256 --heads 2 --ffn 512 --dtype f32 --out "$D/float" \
  --inputs "$D/in.safetensors" --latent 4x16x16 || exit 1
for s in w8a8_dynamic w4a4_dynamic w8a16; do
  "$Q" quantize "$D/float" --out "$D/$s" --scheme "$s" >/dev/null || echo "quantize $s failed"
done
for m in float w8a8_dynamic w4a4_dynamic w8a16; do
  [ -d "$D/$m" ] || continue
  for p in fp32 bf16; do
    "$Q" run "$D/$m" --inputs "$D/in.safetensors" --output "$D/$m.cpu_$p.safetensors" --device cpu --precision $p >/dev/null || echo "run $m cpu $p failed"
  done
  for p in fp32 bf16; do
    "$Q" run "$D/$m" --inputs "$D/in.safetensors" --output "$D/$m.cuda_$p.safetensors" --device cuda --precision $p >/dev/null || echo "run $m cuda $p failed"
  done
done
python3 "$(dirname "$0")/compare.py" "$D"
