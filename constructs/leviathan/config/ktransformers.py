"""Values of the `ktransformers` chart (DeepSeek-V3 GGUF on KTransformers).

values.yaml, values.schema.json and the README's values table come from these models
(helm/values_files.py); the construct, variants/ktransformers.py, reads only their fields.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import ValuesModel, section
from .bounds import CORES_MAX, GIB_MAX, INT32_MAX, NOT_AN_OPTION
from .common import (Download, EngineValues, Gpus, Image, Memory, PvcStorage, Resources, Service, Storage,
                     extra_args_field, extra_args_unchecked_field, pinned_image)


# The engine's C++ kernels index layers with int32; no released model has more than a few hundred.
MAX_LAYERS = 4096


class GgufWeights(ValuesModel):
    repo: str = Field("unsloth/DeepSeek-V3-GGUF", min_length=1)
    """Hugging Face repository holding the GGUF quants."""
    revision: str = Field("main", min_length=1)
    """Branch, tag or commit of the repository. Pin a commit for reproducible downloads."""
    quant: str = Field("DeepSeek-V3-Q4_K_M", min_length=1, max_length=255, pattern=r"^[^/\n\r]+$")
    """Folder of the chosen quant inside the repository. Only this folder is downloaded, and
    `--gguf_path` points at it: the loader reads every *.gguf below the path, so it must never be a
    parent of several quants."""
    dir: str = Field("deepseek-v3-gguf", min_length=1, pattern=r"^[^/].*$")
    """Directory under `storage.mountPath` that receives the repository files."""


class ModelConfigFiles(ValuesModel):
    repo: str = Field("deepseek-ai/DeepSeek-V3", min_length=1)
    """Repository of the original model: only its config, tokenizer and modeling code are fetched
    (`--model_path` must be this config directory, not the GGUF directory)."""
    revision: str = Field("main", min_length=1)
    """Branch, tag or commit of the config repository."""
    dir: str = Field("deepseek-v3-config", min_length=1, pattern=r"^[^/].*$")
    """Directory under `storage.mountPath` that receives the config files."""


class Model(ValuesModel):
    served_name: str = Field("deepseek-v3", min_length=1, pattern=NOT_AN_OPTION)
    """Model id the API serves (`--model_name`, listed by /v1/models)."""
    size_gi_b: int = Field(377, ge=1, le=GIB_MAX, alias="sizeGiB")
    """Size of the GGUF weights in GiB (Q4_K_M: 9 shards, 404 GB = 377 GiB). Drives the startup
    budget and the memory check."""
    host_overhead_gi_b: int = Field(24, ge=0, le=GIB_MAX, alias="hostOverheadGiB")
    """Host RAM needed beyond the weights (Python, CUDA context, KV cache staging, page cache churn)."""
    num_layers: int = Field(61, ge=1, le=MAX_LAYERS)
    """Transformer layers of the model (DeepSeek-V3: 61); `gpus.layerSplit` must add up to it."""
    gguf: GgufWeights = section(GgufWeights)
    """GGUF weights (`--gguf_path`)."""
    config: ModelConfigFiles = section(ModelConfigFiles)
    """Config and tokenizer (`--model_path`)."""


class Engine(ValuesModel):
    port: int = Field(10002, ge=1, le=65535)
    """Port the server listens on (`--port`)."""
    cpu_infer: int = Field(32, ge=1, le=CORES_MAX)
    """CPU threads for the routed experts (`--cpu_infer`; upstream advice: physical cores - 2).
    The seeds' `--cpu_offload_max_threads` does not exist."""
    backend_type: Literal["balance_serve", "ktransformers"] = "balance_serve"
    """`balance_serve` (concurrent requests, one GPU on CUDA) or `ktransformers` (single request;
    required for multi-GPU placement)."""
    cache_lens: int = Field(32768, ge=1, le=INT32_MAX)
    """Total KV-cache tokens shared by all requests (`--cache_lens`)."""
    max_new_tokens: int = Field(1024, ge=1, le=INT32_MAX)
    """Per-request generation cap (`--max_new_tokens`)."""
    chunk_size: int = Field(256, ge=1, le=INT32_MAX)
    """Prefill chunk (`--chunk_size`)."""
    max_batch_size: int = Field(4, ge=1, le=INT32_MAX)
    """Concurrent requests for balance_serve (`--max_batch_size`); keep
    cacheLens > maxBatchSize x maxNewTokens."""
    optimize_config_path: str = Field("", pattern=r"^([^-].*)?$")
    """Path of an optimize-rule YAML inside the image (e.g. an `-amx` rule). Empty: the engine's default
    for one GPU, or the chart-generated placement for several."""
    numa_interleave: bool = False
    """Wrap the server in `numactl --interleave=all` to use every memory channel of a multi-NUMA host.
    Adds the CAP_SYS_NICE capability to the engine container: the runtime's default seccomp profile
    allows numactl's set_mempolicy(2) only with it."""
    use_cuda_graph: bool = True
    """CUDA graphs (`--no-use_cuda_graph` when false; needed when experts are moved to a GPU)."""
    extra_args: list[str] = extra_args_field("KTransformers")
    extra_args_unchecked: list[str] = extra_args_unchecked_field()


class KtGpus(Gpus):
    count: int = Field(1, ge=1, le=8)
    """GPUs requested. Several GPUs need `engine.backendType=ktransformers`."""
    layer_split: list[Annotated[int, Field(ge=1, le=MAX_LAYERS)]] = Field([], max_length=8)
    """Layers per GPU, in GPU order (e.g. `[46, 15]` for a 96 GB + 32 GB pair). Must have `count`
    entries adding up to `model.numLayers`. Empty: an even split."""


class KtValues(EngineValues):
    model: Model = section(Model)
    """Which weights, and how big they are."""
    engine: Engine = section(Engine)
    """KTransformers server flags."""
    image: Image = section(lambda: pinned_image("ktransformers"))
    """Engine image (KTransformers v0.4.1, the last release that ships the server)."""
    gpus: KtGpus = section(KtGpus)
    """GPUs of the engine pod, and the layer placement over them."""
    resources: Resources = section(lambda: Resources(memory=Memory(limit_gi_b=416), shm_gi_b=64))
    """CPU, RAM and /dev/shm. The routed experts live in host RAM: the limit must cover the weights."""
    service: Service = section(lambda: Service(port=10002))
    """How the OpenAI-compatible API is exposed."""
    download: Download = section(lambda: Download(image=pinned_image("model-downloader")))
    """The model-download Job."""
    storage: Storage = section(lambda: Storage(read_mi_bps=500, pvc=PvcStorage(create=True, size_gi_b=450)))
    """Where the weights live. Default: a new 450 GiB PVC (kept on uninstall); for a node-local NVMe set
    `storage.hostPath.path` and `storage.pvc.create=false`."""
