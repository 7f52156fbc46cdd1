"""The `vllm serve` command line: real flags of the pinned vLLM only.

Quantization is read from the checkpoint's config.json (compressed-tensors for W4A16), so
`--quantization` is passed only when set; a mismatching value makes vLLM refuse to start.
"""

from __future__ import annotations

from ..config.shape import each
from ..helm.holes import If


def command() -> list:
    return ["vllm", "serve"]


def args(v) -> list:
    engine, model = v.engine, v.model
    return [
        model.id,
        "--served-model-name", model.served_name,
        "--host", "0.0.0.0",
        "--port", engine.port.as_str(),
        "--revision", model.revision,
        "--tensor-parallel-size", engine.tensor_parallel_size.as_str(),
        "--gpu-memory-utilization", engine.gpu_memory_utilization.as_str(),
        If(engine.max_model_len.gt(0), ["--max-model-len", engine.max_model_len.as_str()]),
        If(engine.enforce_eager.truthy(), ["--enforce-eager"]),
        If(engine.quantization.truthy(), ["--quantization", engine.quantization]),
        If(engine.trust_remote_code.truthy(), ["--trust-remote-code"]),
        each(engine.extra_args),
        each(engine.extra_args_unchecked),
    ]
