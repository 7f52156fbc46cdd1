"""The `llama-server` command line: only flags of the pinned llama.cpp (b11312 = 0c1e57098).

Every flag below is in `engines/manifests/llamacpp.json`, read from that commit's `common/arg.cpp`;
synth fails on any other. What the seed got wrong and this fixes:

- `--threads` is the CPU request. The seed's `-t -1` is not "auto": llama.cpp turns any value <= 0
  into `std::thread::hardware_concurrency()`, every logical CPU of the node, whatever the pod's
  CPU limit.
- `--parallel` is explicit: the server's default (-1) means 4 slots sharing `--ctx-size`, so the
  seed's 16384 context became 4096 tokens per request.
- `--load-mode`, never `--mlock`/`--no-mmap`: this commit removed both ("invalid argument").
- `--host 0.0.0.0 --port`: the defaults are 127.0.0.1 (unreachable from the Service) and a port
  that newer builds change (8080 -> 9931).
- `--metrics`: /metrics answers only with it.
"""

from __future__ import annotations

from ..config.shape import each
from ..helm.holes import Expr, If

BINARY = "llama-server"


def command() -> list:
    # Found on the image's PATH: images/llama-cpp puts the binary and its libraries in /app (on PATH),
    # the e2e mock engine in /usr/local/bin.
    return [BINARY]


def args(v, model_file: Expr) -> list:
    engine, model = v.engine, v.model
    return [
        "--model", model_file,
        "--host", "0.0.0.0",
        "--port", engine.port.as_str(),
        "--alias", model.served_name,
        "--threads", v.resources.cpu.request.as_str(),
        "--ctx-size", engine.ctx_size.as_str(),
        "--parallel", engine.parallel.as_str(),
        "--n-gpu-layers", engine.gpu_layers,
        If(engine.override_tensor.truthy(), ["--override-tensor", engine.override_tensor]),
        If(engine.n_cpu_moe.gt(0), ["--n-cpu-moe", engine.n_cpu_moe.as_str()]),
        "--load-mode", engine.load_mode,
        "--flash-attn", engine.flash_attn,
        "--temp", engine.temperature.as_str(),
        "--min-p", engine.min_p.as_str(),
        If(engine.jinja.truthy(), ["--jinja"], ["--no-jinja"]),
        "--metrics",
        each(engine.extra_args),
        each(engine.extra_args_unchecked),
    ]
