"""Chart `kt-sglang`: Kimi-K2.5 (1T MoE, native INT4) on kvcache-ai's SGLang fork with kt-kernel:
attention and a few experts per layer on the GPUs, the other routed experts in host RAM on the CPU.

    helm install kimi charts/kt-sglang -f charts/kt-sglang/profiles/ice.yaml -n aic

`cpu.isa` is the one value that decides what the CPU runs: the `--kt-method`, the image flavour
(images/kt-sglang builds `-avx512` and `-amx`), and the node affinity on NFD labels.
"""

from __future__ import annotations

from typing import Any, Literal

from constructs import Construct
from pydantic import Field

from .. import versions
from ..config.base import ValuesModel, block
from ..config.bounds import CORES_MAX, GIB_MAX, INT32_MAX, NOT_AN_OPTION, SECONDS_MAX
from ..config.common import (Download, EngineValues, Gpus, Image, Memory, PvcStorage, Resources, Service, Storage,
                             extra_args_field, extra_args_unchecked_field, pinned_image)
from ..config.common import Cpu as CpuResources
from ..engines import flag_manifest
from ..engines import sglang
from ..helm.chart import ChartInfo, HelmChart
from ..helm.holes import Cond, Expr, If, Kind, Tpl
from ..helm.kube_types import kubernetes
from ..k8s import cpu_isa, download, storage
from ..k8s.placement import node_placement
from ..k8s.probes import HealthPaths
from ..k8s.service import add_service
from ..k8s.test_hook import add_test_hook
from ..k8s.workload import EngineContainer, add_engine_deployment
from . import kt_sglang_rules

NAME = "kt-sglang"
VERSION = "0.1.0"
FLAVOURS = {pin.flavour: pin for pin in (versions.image("kt-sglang-avx512"), versions.image("kt-sglang-amx"))}


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
    cpu_weights: CpuWeights = CpuWeights()
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
    model: Model = Model()
    """Which weights, and how big they are."""
    engine: Engine = Engine()
    """SGLang server flags."""
    cpu: CpuExperts = CpuExperts()
    """The CPU experts: instruction set, method, threads, NUMA."""
    image: KtImage = KtImage(repository=FLAVOURS["avx512"].repository, tag="")
    """Engine image (sglang-kt + kt-kernel, pinned). The tag follows `cpu.isa` unless set."""
    gpus: Gpus = Gpus(count=2)
    """GPUs of the engine pod."""
    resources: Resources = Resources(cpu=CpuResources(request=64, limit=64), memory=Memory(limit_gi_b=640),
                                     shm_gi_b=32)
    """CPU, RAM and /dev/shm. The routed experts live in host RAM: the limit must cover the weights."""
    service: Service = Service(port=30000)
    """How the OpenAI-compatible API is exposed."""
    download: KtDownload = KtDownload(image=pinned_image("model-downloader"))
    """The model-download Job."""
    storage: Storage = Storage(read_mi_bps=500, pvc=PvcStorage(create=True, size_gi_b=700))
    """Where the weights live: a new 700 GiB PVC by default (kept on uninstall)."""


class KtSglangChart(HelmChart):
    def __init__(self, scope: Construct, values: KtSglangValues | None = None):
        info = ChartInfo(
            name=NAME, version=VERSION, app_version=FLAVOURS["avx512"].app_version,
            description="Kimi-K2.5 on SGLang + KT-Kernel: routed experts in host RAM on the CPU ISA the node has",
            keywords=("llm", "kimi", "sglang", "kt-kernel", "moe", "cpu-offload"),
        )
        super().__init__(scope, info, values or KtSglangValues())
        v = self.v
        self.extra_helpers.append(sglang.helpers(NAME).replace("AMX_TAG", FLAVOURS["amx"].tag)
                                  .replace("AVX512_TAG", FLAVOURS["avx512"].tag))
        self.extra_helpers.append(cpu_isa.affinity_helper(NAME))
        storage.add_model_storage(self)
        amx = self.amx_method()
        model, weights = v.model, v.model.cpu_weights
        model_source = f'(dict "repo" {model.id.go} "revision" {model.revision.go} "allowPatterns" (list "*") ' \
                       f'"subdir" {model.dir.go})'
        cpu_source = f'(dict "repo" {weights.repo.go} "revision" {weights.revision.go} "allowPatterns" (list "*") ' \
                     f'"subdir" {weights.dir.go})'
        with_cpu_weights = amx & Cond(f'ne {weights.repo.go} ""')
        sources = Expr(f"ternary (list {model_source} {cpu_source}) (list {model_source}) "
                       f"({with_cpu_weights.go}) | toJson", Kind.STR)
        dl = v.download
        separate = dl.node_selector.truthy()
        wait_for_model = download.add_model_download(
            self, sources,
            [model.dir, Tpl(f"(ternary {weights.dir.go} {model.dir.go} ({with_cpu_weights.go}))")],
            placement={"_placement": If(separate, {"nodeSelector": block(dl.node_selector),
                                                   "tolerations": block(dl.tolerations)},
                                        node_placement(self))},
        )
        engine_args = sglang.args(self)
        # These flags' values come from helpers (engines/sglang.py), which hide the values they read.
        flag_manifest.add_extra_args_check(self, "sglang", engine_args, also={
            "model_path": "storage.mountPath, model.dir",
            "kt_method": "cpu.isa, cpu.method",
            "kt_weight_path": "cpu.isa, cpu.method, model.dir, model.cpuWeights.dir",
            "watchdog_timeout": "engine.watchdogTimeoutSeconds, engine.chunkedPrefillSize, "
                                "engine.cpuPrefillTokensPerSecond",
        })
        add_engine_deployment(self, EngineContainer(
            command=sglang.command(),
            args=engine_args,
            env=[
                # /health answers 200 without submitting a generation once the server is up (503
                # while Starting): a probe never queues work behind a long CPU-expert prefill.
                {"name": "SGLANG_ENABLE_HEALTH_ENDPOINT_GENERATION", "value": "0"},
            ],
            port=v.engine.port,
            # The port is closed while the experts load (uvicorn starts after the schedulers), then
            # /health is 503 until the warmup request finished, then 200.
            health=HealthPaths(startup="/health", readiness="/health", liveness="/health"),
            init_containers=[If(dl.enabled.truthy(), [wait_for_model])],
            # kt-kernel binds each NUMA pool's memory (numa_bind, hwloc_set_membind): set_mempolicy
            # and mbind, which the RuntimeDefault seccomp profile allows only with CAP_SYS_NICE.
            add_capabilities=(v.cpu.numa_memory_binding.truthy(), ["SYS_NICE"]),
            home_dir="/home/sglang",
            image=self.include("engineImage"),
            affinity=cpu_isa.affinity_block(NAME),
            annotations={
                "leviathan.dev/host-memory-needed-gib": Tpl(
                    f"add ({model.size_gi_b.go} | int64) ({model.host_overhead_gi_b.go} | int64) | toString"),
                "leviathan.dev/kt-method": self.include("ktMethod"),
            },
        ))
        add_service(self)
        add_test_hook(self, model.served_name)
        kt_sglang_rules.add_rules(self)

    def amx_method(self):
        return Tpl(f'include "{NAME}.ktMethod" .').eq("AMXINT4") | Tpl(f'include "{NAME}.ktMethod" .').eq("AMXINT8")


README_NOTES = """\
## How this chart fixes the seed deployment

* **Memory that covers the experts.** kt-kernel keeps the routed experts (~555 GiB for Kimi-K2.5
  INT4) in host RAM. The seed's 480Gi limit was OOM-killed at layer 35/60; the chart refuses a
  `resources.memory.limitGiB` below `model.sizeGiB + model.hostOverheadGiB`. The `ice` profile
  asks for 650Gi.
* **The quota is checked at install.** `helm install` looks up the namespace's ResourceQuotas and
  LimitRanges and fails at once, with the quota's name and numbers, when the engine pod cannot be
  admitted (the seed's namespace `aic` had a 500Gi memory quota). The same values install once the
  quota is 700Gi. `helm template` cannot look anything up, so the rendered bundles skip this check.
* **One value for the CPU instruction set.** `cpu.isa` picks the `--kt-method` (avx512: RAWINT4,
  which serves the native-INT4 checkpoint from its own files; amx: AMXINT4 on converted weights),
  the image flavour (`-avx512` / `-amx`) and a required node affinity on Node Feature Discovery
  labels (`feature.node.kubernetes.io/cpu-cpuid.AVX512F` + `AVX512BW` with `AMXTILE` absent, or
  `AMXTILE` + `AMXINT8`). An AMX image can never land on an AMD node: without NFD (or on the wrong
  CPU) the pod stays Pending, and its events say why. Each value matches exactly one node class:
  every AMX CPU (Intel Sapphire Rapids and newer) also has AVX512, so without the "no AMX"
  condition an avx512 release could land on an AMX box, where RAWINT4 runs on AVX512 and leaves
  the AMX tile units idle. An AMX box should run the amx flavour (AMXINT4/AMXINT8); an avx512
  release pinned to one stays Pending with "didn't match Pod's node affinity/selector". An AMX method with `isa: avx512`, an avx512 method with
  `isa: amx`, or an `image.tag` of the other flavour fails `helm template` with a sentence.
  sglang-kt's own default method is AMXINT4, which fails on AMD, so the chart always passes it.
* **Real flags only.** Every flag is checked against the parser of sglang-kt 0.7.2 from its PyPI
  wheel (`files/engine-flags.json`). The old `--kt-amx-weight-path` / `--kt-amx-method` names do not
  exist there. `--host 0.0.0.0` is always set (sglang's default 127.0.0.1 is unreachable from the
  Service), and `--kt-threadpool-count` is `cpu.numaNodes` (one thread pool per NUMA node).
* **Probes that never generate.** SGLang starts its HTTP server only after the weights are loaded,
  so the port is closed during the load. After that, `/health` returns 503 until the warmup request
  is done. With `SGLANG_ENABLE_HEALTH_ENDPOINT_GENERATION=0` (read in sglang-kt 0.7.2's
  `http_server.py`), `/health` then returns 200 without submitting a one-token generation, so a
  probe never queues behind a long CPU-expert prefill. The startup budget comes from
  `model.sizeGiB / storage.readMiBps`.
* **A watchdog sized for the CPU.** sglang kills the server when one forward batch takes longer
  than `--watchdog-timeout` (default 300 s). The chart sets it to twice the time of one full
  prefill chunk at `engine.cpuPrefillTokensPerSecond`, and never below 300 s.
* **TP over two GPUs.** `/dev/shm` is a memory-backed volume of `resources.shmGiB` (at least 1 GiB
  per rank), and `--enable-p2p-check` is added when `tensorParallelSize > 1`.
* **NUMA binding gets exactly one capability.** kt-kernel binds each pool's memory to its NUMA node
  (`numa_bind`, `hwloc_set_membind`: the `set_mempolicy`/`mbind` syscalls). The RuntimeDefault
  seccomp profile allows those syscalls only with `CAP_SYS_NICE`. `cpu.numaMemoryBinding: true` adds
  `SYS_NICE`, and nothing else. It is off by default, because PodSecurity `restricted` refuses any
  added capability.
* **The download on its own node.** The seed downloaded from a 2080 Ti node. `download.nodeSelector`
  / `download.tolerations` place the Job elsewhere when the weights are on a network PVC (refused
  with hostPath storage). A ReadWriteOnce Ceph volume attaches to one node at a time, so the
  engine's pod cannot start its `wait-for-model` init container until the Job's pod has ended and
  released the volume. The init container then waits for the Job's completion marker.
"""
