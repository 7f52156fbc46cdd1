"""Values of the `llamacpp` chart (Kimi-K2 GGUF on llama.cpp's llama-server).

values.yaml, values.schema.json and the README's values table come from these models
(helm/values_files.py); the construct, variants/llamacpp.py, reads only their fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..variants import llamacpp_quants as quants
from .base import ValuesModel, section
from .bounds import GIB_MAX, INT32_MAX, NOT_AN_OPTION
from .common import (Download, EngineValues, Gpus, Image, Memory, PvcStorage, Resources, SecretRef, Service,
                     Storage, extra_args_field, extra_args_unchecked_field, pinned_image)
from .platform import OpenShift, Platform


MAX_SHARDS = 99999  # the split-GGUF name has a 5-digit shard count

Quant = Literal[tuple(q.name for q in quants.QUANTS)]  # type: ignore[valid-type]


class Model(ValuesModel):
    repo: str = Field("unsloth/Kimi-K2-Thinking-GGUF", min_length=1, pattern=NOT_AN_OPTION)
    """Hugging Face repository holding the GGUF quants, one folder per quant."""
    revision: str = Field("main", min_length=1, pattern=NOT_AN_OPTION)
    """Branch, tag or commit of the repository. Pin a commit for reproducible downloads."""
    quant: Quant = quants.DEFAULT
    """Quant folder to download and serve (the chart's quant table: size, minimum PVC, shards)."""
    file_stem: str = Field("Kimi-K2-Thinking", min_length=1, max_length=200, pattern=r"^[^/\n\r-][^/\n\r]*$")
    """File name prefix of the shards: `<fileStem>-<quant>-00001-of-000NN.gguf`."""
    shards: int = Field(0, ge=0, le=MAX_SHARDS)
    """Number of shards of the quant. 0: from the quant table (known for UD-TQ1_0 only)."""
    file: str = Field("", max_length=255, pattern=r"^([^/\n\r.][^\n\r]*\.gguf)?$")
    """GGUF file under `<storage.mountPath>/<dir>` to serve instead of the derived first shard (for
    another model). For a split model give the first shard: llama.cpp finds the others beside it."""
    dir: str = Field("kimi-k2-thinking-gguf", min_length=1, max_length=255, pattern=r"^[^/.\n\r][^\n\r]*$")
    """Directory under `storage.mountPath` that receives the repository files."""
    size_gi_b: int = Field(0, ge=0, le=GIB_MAX, alias="sizeGiB")
    """Size of the weights in GiB. 0: the quant table's size. Drives the startup budget and the memory rule."""
    host_overhead_gi_b: int = Field(quants.HOST_OVERHEAD_GIB, ge=0, le=GIB_MAX, alias="hostOverheadGiB")
    """Host RAM beyond the weights: compute buffers, the CUDA context's host side, HTTP server, slack."""
    served_name: str = Field("kimi-k2-thinking", min_length=1, pattern=NOT_AN_OPTION)
    """Model id the API serves (`--alias`, listed by /v1/models)."""


class Engine(ValuesModel):
    port: int = Field(8080, ge=1, le=65535)
    """Port llama-server listens on (`--port`; always passed: newer builds change the default)."""
    ctx_size: int = Field(16384, ge=256, le=INT32_MAX)
    """Total KV-cache tokens (`--ctx-size`), shared by the `parallel` slots."""
    parallel: int = Field(1, ge=1, le=256)
    """Server slots, i.e. concurrent requests (`--parallel`). Each gets ctxSize / parallel tokens."""
    gpu_layers: str = Field("all", pattern=r"^(all|auto|[0-9]{1,4})$")
    """Layers on the GPU (`--n-gpu-layers`): a number, `all`, or `auto`."""
    override_tensor: str = Field(".ffn_.*_exps.=CPU", max_length=1024, pattern=r"^([^=\s-][^=\s]*=[A-Za-z0-9_]+(,[^=\s]+=[A-Za-z0-9_]+)*)?$")
    """Tensor placement (`--override-tensor <regex>=<buffer>,...`). The default keeps every routed
    expert in host RAM and the rest on the GPU. Empty: no override."""
    n_cpu_moe: int = Field(0, ge=0, le=4096)
    """Keep the experts of the first N layers in host RAM (`--n-cpu-moe`), the rest on the GPU.
    Use with an empty `overrideTensor`. 0: off."""
    load_mode: Literal["none", "mmap", "auto", "dio"] = "none"
    """How the weights are loaded (`--load-mode`). `none` reads them into memory, as llama.cpp itself
    advises with CPU tensor overrides; `mmap` maps the file (page cache). The mlock modes are not
    offered: the container has no CAP_IPC_LOCK and locking 250+ GB would fail."""
    flash_attn: Literal["auto", "on", "off"] = "auto"
    """Flash attention (`--flash-attn`, a value is required at this build)."""
    temperature: float = Field(1.0, ge=0, le=10)
    """Default sampling temperature (`--temp`; requests may override). Moonshot: 1.0 for K2-Thinking."""
    min_p: float = Field(0.01, ge=0, le=1)
    """Default min-p sampling (`--min-p`), unsloth's 0.01 for Kimi-K2."""
    api_key_secret: SecretRef = section(lambda: SecretRef(key="LLAMA_API_KEY"))
    """Secret holding the API key clients must send (`Authorization: Bearer <key>`); llama-server reads
    it from `LLAMA_API_KEY`, so it is on no command line. `/health` stays public for the probes, and
    `helm test` sends the key. Empty name: no key (then only the NetworkPolicies and the Route guard the API)."""
    jinja: bool = True
    """Use the model's Jinja chat template (`--jinja`; `--no-jinja` when false). Kimi-K2 needs it."""
    extra_args: list[str] = extra_args_field("llama-server", also="a `--flag=value` (llama.cpp reads none), ")
    extra_args_unchecked: list[str] = extra_args_unchecked_field()


class LlamacppValues(EngineValues):
    model: Model = section(Model)
    """Which GGUF quant to serve (the quant table sets its size, PVC minimum and first shard)."""
    engine: Engine = section(Engine)
    """llama-server flags."""
    image: Image = section(lambda: pinned_image("llama-cpp-cuda"))
    """Engine image (llama.cpp b11312, CUDA). `leviathan/llama-cpp:b11312-cpu` runs without a GPU."""
    gpus: Gpus = section(Gpus)
    """GPUs of the engine pod (`gpus.count: 0` with the CPU image)."""
    resources: Resources = section(lambda: Resources(memory=Memory(limit_gi_b=256), shm_gi_b=1))
    """CPU, RAM and /dev/shm. `--threads` is `cpu.request`. The memory limit must hold the weights
    (see "Memory rule" in the README)."""
    service: Service = section(lambda: Service(port=8080))
    """How the OpenAI-compatible API is exposed inside the cluster (the Route points at it)."""
    download: Download = section(lambda: Download(image=pinned_image("model-downloader")))
    """The model-download Job (only the chosen quant's folder)."""
    storage: Storage = section(lambda: Storage(read_mi_bps=500, pvc=PvcStorage(create=True, size_gi_b=0)))
    """Where the GGUF lives. Default: a new PVC (kept on uninstall) of the quant's minimum size
    (`pvc.sizeGiB: 0`); or `storage.hostPath.path` / `pvc.existingClaim`."""
    platform: Platform = ""
    """`kubernetes` or `openshift` (Route, NetworkPolicies, UIDs assigned by the restricted-v2 SCC).
    Empty: `openshift` when the cluster serves route.openshift.io/v1. `helm template` and the bundles
    see no cluster: set it there."""
    openshift: OpenShift = section(OpenShift)
    """OpenShift objects (used only when the platform is openshift)."""
