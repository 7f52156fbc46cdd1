"""Values of the `kt-sglang` chart (Kimi-K2.5 on SGLang with kt-kernel CPU experts).

values.yaml, values.schema.json and the README's values table come from these models
(helm/values_files.py); the construct, variants/kt_sglang.py, reads only their fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .. import versions
from ..helm.kube_types import kubernetes
from .base import ValuesModel, section
from .bounds import CORES_MAX, GIB_MAX, INT32_MAX, NOT_AN_OPTION, SECONDS_MAX
from .common import (Download, EngineValues, Gpus, Image, Memory, PvcStorage, Resources, Service, Storage,
                     extra_args_field, extra_args_unchecked_field, pinned_image)
from .common import Cpu as CpuResources


FLAVOURS = versions.flavours("kt-sglang")


class CpuWeights(ValuesModel):
    repo: str = Field("", pattern=r"^([^-].*)?$")
    """Hugging Face repository of expert weights converted for AMX (`AMXINT4`/`AMXINT8`), downloaded
    by the Job. Empty: put them in `dir` yourself (kt-kernel's convert_cpu_weights.py)."""
    revision: str = Field("main", min_length=1, pattern=NOT_AN_OPTION)
    """Branch, tag or commit of `repo`."""
    dir: str = Field("kimi-k2.5-cpu-weights", min_length=1, pattern=r"^[^/-].*$")
    """Directory under `storage.mountPath` with the converted weights (`--kt-weight-path` for AMX)."""


class Model(ValuesModel):
    id: str = Field("moonshotai/Kimi-K2.5", min_length=1, pattern=NOT_AN_OPTION)
    """Hugging Face repository of the model, downloaded into `dir` by the Job."""
    revision: str = Field("main", min_length=1, pattern=NOT_AN_OPTION)
    """Branch, tag or commit of the model. Pin a commit for reproducible weights."""
    dir: str = Field("kimi-k2.5", min_length=1, pattern=r"^[^/-].*$")
    """Directory under `storage.mountPath` holding the model (`--model-path`; also `--kt-weight-path`
    for RAWINT4/FP8/BF16, which read the experts from the model's own safetensors)."""
    served_name: str = Field("Kimi-K2.5", min_length=1, pattern=NOT_AN_OPTION)
    """Model id the API serves (`--served-model-name`)."""
    size_gi_b: int = Field(555, ge=1, le=GIB_MAX, alias="sizeGiB")
    """Size of the weights in GiB (Kimi-K2.5 native INT4: about 595 GB = 555 GiB). Drives the
    startup budget and the memory check."""
    host_overhead_gi_b: int = Field(48, ge=0, le=GIB_MAX, alias="hostOverheadGiB")
    """Host RAM beyond the weights: Python, CUDA contexts of each TP rank, pinned staging buffers."""
    cpu_weights: CpuWeights = section(CpuWeights)
    """Converted CPU weights, used only by the AMX methods."""


class CpuExperts(ValuesModel):
    isa: Literal["avx512", "amx"] = "avx512"
    """The node's CPU instruction set. It selects together: `--kt-method` (avx512: RAWINT4; amx:
    AMXINT4), the image flavour (`<version>-cu128-avx512` / `-amx`), and a required node affinity on
    the Node Feature Discovery labels of that ISA (avx512: AVX512F + AVX512BW and no AMXTILE; amx:
    AMXTILE + AMXINT8). AMD EPYC / Threadripper have no AMX: use avx512. An AMX node runs only the
    amx flavour."""
    method: Literal["", "RAWINT4", "FP8", "BF16", "AMXINT4", "AMXINT8"] = ""
    """`--kt-method`. Empty: the ISA's default. RAWINT4 serves a native-INT4 checkpoint (Kimi-K2.5)
    from its own files; AMXINT4/AMXINT8 need `isa: amx` and converted weights (`model.cpuWeights`)."""
    kt_cpuinfer: int = Field(60, ge=1, le=CORES_MAX)
    """Expert threads (`--kt-cpuinfer`): physical cores, not SMT threads (upstream: physical cores
    minus the GPUs). Must fit `resources.cpu.limit`."""
    numa_nodes: int = Field(2, ge=1, le=64)
    """NUMA nodes of the host (`--kt-threadpool-count`: kt-kernel runs one thread pool per NUMA
    node). A dual-socket EPYC in NPS1 mode has 2."""
    numa_memory_binding: bool = False
    """Let kt-kernel bind each thread pool's memory to its NUMA node (numa_bind,
    hwloc_set_membind). Adds CAP_SYS_NICE to the engine container: the runtime's default seccomp
    profile allows set_mempolicy/mbind only with it, and PodSecurity `restricted` refuses any added
capability. Off: the seccomp profile refuses those calls (EPERM), and the kernel's default policy
places the memory."""


class Engine(ValuesModel):
    port: int = Field(30000, ge=1, le=65535)
    """Port SGLang listens on (`--port`)."""
    tensor_parallel_size: int = Field(2, ge=1, le=16)
    """GPUs the attention and GPU experts are sharded over (`--tensor-parallel-size`)."""
    kt_num_gpu_experts: int = Field(8, ge=0, le=INT32_MAX)
    """Experts per MoE layer kept on the GPUs (`--kt-num-gpu-experts`); the rest run on the CPU."""
    kt_max_deferred_experts_per_token: int = Field(1, ge=0, le=64)
    """`--kt-max-deferred-experts-per-token`: 0 is synchronous; 1-4 overlap CPU and GPU work."""
    mem_fraction_static: float = Field(0.9, gt=0, lt=1)
    """Fraction of each GPU's memory for weights + KV cache (`--mem-fraction-static`)."""
    chunked_prefill_size: int = Field(8192, ge=1, le=INT32_MAX)
    """Prefill chunk in tokens (`--chunked-prefill-size`)."""
    max_total_tokens: int = Field(65536, ge=1, le=INT32_MAX)
    """KV-cache capacity in tokens, all requests together (`--max-total-tokens`)."""
    cpu_prefill_tokens_per_second: int = Field(50, ge=1, le=INT32_MAX)
    """Prefill speed with the experts on the CPU (tokens/s; a few tens for a 1T MoE). Sizes the
    watchdog: one full chunk must finish well inside it."""
    watchdog_timeout_seconds: int = Field(0, ge=0, le=SECONDS_MAX)
    """`--watchdog-timeout`: a forward batch longer than this kills the server (sglang default 300 s).
    0: twice chunkedPrefillSize / cpuPrefillTokensPerSecond, at least 300."""
    enable_p2p_check: bool = True
    """`--enable-p2p-check` when tensorParallelSize > 1: test GPU peer access instead of assuming it."""
    extra_args: list[str] = extra_args_field("sglang-kt")
    extra_args_unchecked: list[str] = extra_args_unchecked_field()


class KtImage(Image):
    tag: str = Field("", pattern=r"^([\w][\w.-]{0,127})?$", json_schema_extra={"not": {"const": "latest"}})
    """Immutable image tag (never `latest`). Empty: the pinned build of the `cpu.isa` flavour
    (images/versions.yaml). A tag of the other flavour fails `helm template`."""


class KtDownload(Download):
    node_selector: dict[str, str] = {}
    """Run the download Job on other nodes than the engine (e.g. a small GPU-less node), when the
    weights are on a network PVC. Empty: the engine's placement. Not allowed with hostPath storage."""
    tolerations: list[dict[str, Any]] = Field([], json_schema_extra=kubernetes("io.k8s.api.core.v1.Toleration"))
    """Tolerations of the download Job when `nodeSelector` is set."""


class KtSglangValues(EngineValues):
    model: Model = section(Model)
    """Which weights, and how big they are."""
    engine: Engine = section(Engine)
    """SGLang server flags."""
    cpu: CpuExperts = section(CpuExperts)
    """The CPU experts: instruction set, method, threads, NUMA."""
    image: KtImage = section(lambda: KtImage(repository=FLAVOURS["avx512"].repository, tag=""))
    """Engine image (sglang-kt + kt-kernel, pinned). The tag follows `cpu.isa` unless set."""
    gpus: Gpus = section(lambda: Gpus(count=2))
    """GPUs of the engine pod."""
    resources: Resources = section(lambda: Resources(cpu=CpuResources(request=64, limit=64),
                                                     memory=Memory(limit_gi_b=640), shm_gi_b=32))
    """CPU, RAM and /dev/shm. The routed experts live in host RAM: the limit must cover the weights."""
    service: Service = section(lambda: Service(port=30000))
    """How the OpenAI-compatible API is exposed."""
    download: KtDownload = section(lambda: KtDownload(image=pinned_image("model-downloader")))
    """The model-download Job."""
    storage: Storage = section(lambda: Storage(read_mi_bps=500, pvc=PvcStorage(create=True, size_gi_b=700)))
    """Where the weights live: a new 700 GiB PVC by default (kept on uninstall)."""
