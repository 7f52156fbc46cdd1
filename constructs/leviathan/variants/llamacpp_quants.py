"""The GGUF quants of Kimi-K2-Thinking the `llamacpp` chart knows, as data.

One row per quant of `unsloth/Kimi-K2-Thinking-GGUF` (folder `<quant>/`, files
`Kimi-K2-Thinking-<quant>-000NN-of-000MM.gguf`). The chart derives from the chosen row:

- the weights' size: the startup budget (2 x size / storage.readMiBps) and the memory rule;
- the PVC size: the seed's minimum per quant (weights + room for the download's partial files);
- the first shard llama-server is given (`-m`), from the shard count.

Sizes: unsloth's published figures (GB, 10^9) converted to GiB, rounded up. Only UD-TQ1_0's shard
count (6) is recorded in our sources (shared/reference/engines.md 4.6); for the others `shards` is
None and the chart asks for `model.shards` (or `model.file`) instead of guessing a file name.
"""

from __future__ import annotations

from dataclasses import dataclass

HOST_OVERHEAD_GIB = 16  # the default of model.hostOverheadGiB (config/llamacpp.py)


@dataclass(frozen=True)
class Quant:
    name: str
    size_gib: int
    min_pvc_gib: int
    shards: int | None
    note: str


QUANTS: tuple[Quant, ...] = (
    Quant("UD-TQ1_0", 230, 300, 6,
          "1.8-bit dynamic, 247 GB: the smallest; unsloth: \"disk + RAM + VRAM >= 247 GB\"."),
    Quant("UD-Q2_K_XL", 355, 450, None,
          "2-bit dynamic, 381 GB: unsloth's recommended balance of size and accuracy."),
    Quant("UD-Q4_K_XL", 548, 650, None,
          "4-bit dynamic, 588 GB: near full precision (the model is natively INT4)."),
)

BY_NAME = {quant.name: quant for quant in QUANTS}
DEFAULT = "UD-TQ1_0"


def helm_table() -> str:
    """The table as a Go-template dict literal, for the chart's `<chart>.quant` helper."""
    rows = " ".join(
        f'"{q.name}" (dict "sizeGiB" {q.size_gib} "minPvcGiB" {q.min_pvc_gib} "shards" {q.shards or 0})'
        for q in QUANTS)
    return f"dict {rows}"


def markdown(host_overhead_gib: int) -> str:
    """The quantization guide's table, generated from the same rows: the RAM column is the chart's
    memory rule (weights + model.hostOverheadGiB)."""
    lines = [f"| quant | weights (GiB) | minimum PVC (GiB) | RAM limit, experts on CPU (GiB, overhead {host_overhead_gib}) "
             "| shards | |", "|---|---|---|---|---|---|"]
    for q in QUANTS:
        shards = str(q.shards) if q.shards else "set `model.shards`"
        lines.append(f"| `{q.name}` | {q.size_gib} | {q.min_pvc_gib} | {q.size_gib + host_overhead_gib} | {shards} "
                     f"| {q.note} |")
    return "\n".join(lines)
