#!/usr/bin/env python3
"""Writes the seed corpus of safetensors_header_fuzz: a few small, hand-described file images, valid and
invalid, so the fuzzer starts from the format's real structure instead of random bytes."""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors_header")


def image(header, data=b"", pad=True):
    text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    raw = text.encode()
    if pad:
        raw += b" " * (-(8 + len(raw)) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


seeds = {
    "empty_header": image({}),
    "metadata_only": image({"__metadata__": {"format": "pt", "producer": "qdit"}}),
    "two_tensors": image({"__metadata__": {"format": "pt"},
                          "blocks.0.attn1.to_q.weight": entry("I8", [2, 4], 8, 16),
                          "blocks.0.attn1.to_q.weight_scale": entry("F32", [2, 1], 0, 8)},
                         bytes(range(16))),
    "scalar_and_empty": image({"s": entry("F32", [], 0, 4), "e": entry("BF16", [0, 3], 4, 4)}, b"\x00\x00\x80\x3f"),
    "overlap_invalid": image({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}, bytes(12)),
    "length_past_end": struct.pack("<Q", 4096) + b"{}",
}

# Every dtype, each in its own 8-byte slot (holes are allowed by the reader, so this is valid).
layout = [("F64", 8), ("F32", 4), ("F16", 2), ("BF16", 2), ("I64", 8), ("I32", 4), ("I16", 2), ("I8", 1),
          ("U8", 1), ("BOOL", 1), ("F8_E4M3", 1), ("F8_E5M2", 1)]
seeds["every_dtype"] = image({"t_" + n: entry(n, [1], i * 8, i * 8 + s) for i, (n, s) in enumerate(layout)},
                             bytes(8 * len(layout)))

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {OUT}")
