"""Run the pinned wheel's own compiled RMSNorm kernels (extract_kernel.py) on this machine's GPU and
check them against a float64 reference. Needs torch with CUDA (for memory and the context) and the
driver's libcuda; not sgl_kernel, torch 2.9.1 or CUDA 12 (see ../README.md for why).

    python run_rmsnorm.py CUBIN_DIR     # prints one line per case, exits 1 on a mismatch

The launch is the one FlashInfer's host `norm::RMSNorm` makes (sgl_kernel.rmsnorm calls it):
vec_size = gcd(16 / sizeof(half), d) = 8, block = (32, min(1024, d / 8) / 32), one block per row,
num_warps floats of dynamic shared memory, arguments (input, weight, output, d, stride_input,
stride_output, weight_bias, eps). Two cases tell the two float arguments apart: `weight_bias` 0
(RMSNorm) and 1 (Gemma's), each with its own eps; a control launch with the two swapped must
mismatch, so the check can fail. The same cubin's FusedAddRMSNormKernel (sgl_kernel.fused_add_rmsnorm:
residual += input, then input = RMSNorm(residual), in place) runs too, with room for the row in
shared memory, as its launcher gives it.
"""

from __future__ import annotations

import ctypes
import json
import sys
from pathlib import Path

import torch

cuda = ctypes.CDLL("libcuda.so.1")


def check(result: int, what: str) -> None:
    if result != 0:
        name = ctypes.c_char_p()
        cuda.cuGetErrorName(result, ctypes.byref(name))
        raise SystemExit(f"{what}: {name.value.decode() if name.value else result}")


def load(cubin: bytes, symbol: str) -> ctypes.c_void_p:
    module, function = ctypes.c_void_p(), ctypes.c_void_p()
    check(cuda.cuModuleLoadData(ctypes.byref(module), ctypes.c_char_p(cubin)), "cuModuleLoadData")
    check(cuda.cuModuleGetFunction(ctypes.byref(function), module, symbol.encode()), "cuModuleGetFunction")
    return function


def warps(d: int) -> int:
    """FlashInfer's block for a row of d halves: min(1024, d / vec_size) threads, vec_size 8."""
    return min(1024, d // 8) // 32


def launch(function, rows: int, d: int, pointers: list[torch.Tensor], smem_floats: int,
           weight_bias: float, eps: float) -> None:
    """One block per row; contiguous rows, so both strides are d."""
    args = [ctypes.c_void_p(t.data_ptr()) for t in pointers]
    args += [ctypes.c_uint32(d), ctypes.c_uint32(d), ctypes.c_uint32(d),
             ctypes.c_float(weight_bias), ctypes.c_float(eps)]
    params = (ctypes.c_void_p * len(args))(*[ctypes.cast(ctypes.byref(a), ctypes.c_void_p) for a in args])
    stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
    check(cuda.cuLaunchKernel(function, rows, 1, 1, 32, warps(d), 1, smem_floats * 4, stream, params, None),
          "cuLaunchKernel")
    torch.cuda.synchronize()


def rmsnorm(function, x: torch.Tensor, w: torch.Tensor, weight_bias: float, eps: float) -> torch.Tensor:
    rows, d = x.shape
    out = torch.empty_like(x)
    launch(function, rows, d, [x, w, out], warps(d), weight_bias, eps)
    return out


def fused_add_rmsnorm(function, x: torch.Tensor, residual: torch.Tensor, w: torch.Tensor,
                      weight_bias: float, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    rows, d = x.shape
    x, residual = x.clone(), residual.clone()
    launch(function, rows, d, [x, residual, w], (warps(d) + 3) // 4 * 4 + d, weight_bias, eps)
    return x, residual


def reference(x: torch.Tensor, w: torch.Tensor, weight_bias: float, eps: float) -> torch.Tensor:
    x64 = x.double()
    return x64 * torch.rsqrt(x64.pow(2).mean(-1, keepdim=True) + eps) * (weight_bias + w.double())


def main() -> None:
    folder = Path(sys.argv[1])
    manifest = json.loads((folder / "manifest.json").read_text())
    torch.cuda.init()
    torch.zeros(1, device="cuda")  # makes the primary context current for the driver calls below
    version = ctypes.c_int()
    check(cuda.cuDriverGetVersion(ctypes.byref(version)), "cuDriverGetVersion")
    print(f"GPU {torch.cuda.get_device_name()} (compute capability "
          f"{'.'.join(map(str, torch.cuda.get_device_capability()))}), driver CUDA {version.value}, "
          f"torch {torch.__version__}")
    print(f"kernel {manifest['symbol']} from {manifest['library']} in {manifest['wheel']} "
          f"(sha256 {manifest['wheel_sha256'][:16]}...)")
    generator = torch.Generator(device="cuda").manual_seed(0)
    fused_symbol = manifest["symbol"].replace("13RMSNormKernel", "21FusedAddRMSNormKernel")
    failures = 0

    def report(label: str, got: torch.Tensor, want: torch.Tensor, expect_match: bool = True) -> None:
        nonlocal failures
        error = (got.double() - want).abs().max().item()
        # fp16 output: half a unit in the last place of values up to ~16 is 2**-7.
        matched = error <= 2 ** -6
        failures += matched != expect_match
        verdict = ("OK" if matched else "MISMATCH") + ("" if expect_match else " (control: a mismatch is expected)")
        print(f"{label}: max |error| vs float64 reference {error:.2e} -> {verdict}")

    for cubin in manifest["cubins"]:
        image = (folder / cubin["file"]).read_bytes()
        plain, fused = load(image, manifest["symbol"]), load(image, fused_symbol)
        for rows, d, weight_bias, eps in ((8, 4096, 0.0, 1e-6), (257, 4096, 1.0, 0.5), (3, 7168, 0.0, 1e-5)):
            x = torch.randn(rows, d, device="cuda", dtype=torch.float16, generator=generator) * 3
            w = torch.rand(d, device="cuda", dtype=torch.float16, generator=generator) + 0.5
            case = f"rows={rows} d={d} weight_bias={weight_bias} eps={eps}"
            report(f"{cubin['file']} RMSNorm {case}", rmsnorm(plain, x, w, weight_bias, eps),
                   reference(x, w, weight_bias, eps))
            residual = torch.randn(rows, d, device="cuda", dtype=torch.float16, generator=generator)
            normed, summed = fused_add_rmsnorm(fused, x, residual, w, weight_bias, eps)
            report(f"{cubin['file']} FusedAddRMSNorm {case} (residual)", summed, x.double() + residual.double())
            report(f"{cubin['file']} FusedAddRMSNorm {case} (output)", normed,
                   reference(summed, w, weight_bias, eps))
        x = torch.randn(4, 4096, device="cuda", dtype=torch.float16, generator=generator) * 3
        w = torch.rand(4096, device="cuda", dtype=torch.float16, generator=generator) + 0.5
        report(f"{cubin['file']} RMSNorm with weight_bias and eps swapped", rmsnorm(plain, x, w, 0.5, 1.0),
               reference(x, w, 1.0, 0.5), expect_match=False)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
