"""Cut one kernel's sm_90 cubins out of the pinned wheel's sgl_kernel, for run_rmsnorm.py on a GPU.

The Hopper build of sgl_kernel (`sgl_kernel/sm90/common_ops.abi3.so`, in ktransformers 0.7.2) is
273 MB and links against torch 2.9.1 and CUDA 12, which the lent GPU machine does not have. The
compiled kernels inside it do not depend on either: each translation unit's fatbin holds plain ELF
cubins that the CUDA driver loads as they are. This takes the sm_90 and sm_90a cubins that define
`--symbol` (by default FlashInfer's RMSNormKernel<8, half>, which `sgl_kernel.rmsnorm` launches for
fp16 rows of 4096) and writes them with a manifest of checksums.

    python extract_kernel.py ktransformers-0.7.2-py3-none-manylinux_2_35_x86_64.whl OUTDIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fatbin import CUBIN, entries  # noqa: E402

MEMBER = "sgl_kernel/sm90/common_ops.abi3.so"
RMSNORM_HALF_VEC8 = "_ZN10flashinfer4norm13RMSNormKernelILj8E6__halfEEvPT0_S4_S4_jjjff"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--symbol", default=RMSNORM_HALF_VEC8)
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as wheel:
        library = wheel.read(MEMBER)
    symbol = args.symbol.encode() + b"\0"  # a whole name in the ELF string table
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = {"wheel": args.wheel.name, "wheel_sha256": sha256(args.wheel.read_bytes()),
                "library": MEMBER, "library_sha256": sha256(library), "symbol": args.symbol, "cubins": []}
    for entry in entries(library):
        if entry.kind != CUBIN or entry.arch != 90 or entry.compressed or symbol not in entry.payload:
            continue
        cubin = entry.cubin()
        name = "sm_90a.cubin" if entry.arch_specific() else "sm_90.cubin"
        (args.out / name).write_bytes(cubin)
        manifest["cubins"].append({"file": name, "sha256": sha256(cubin), "bytes": len(cubin),
                                   "fatbin_container_offset": entry.container_offset,
                                   "entry_offset": entry.offset, "entry_flags": hex(entry.flags),
                                   "elf_flags": hex(entry.elf_flags())})
    if not manifest["cubins"]:
        sys.exit(f"no uncompressed sm_90 cubin in {MEMBER} defines {args.symbol}")
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
