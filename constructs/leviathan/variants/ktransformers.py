"""Chart `ktransformers`: DeepSeek-V3 671B Q4_K_M GGUF on the KTransformers legacy server, routed
experts on the CPU, attention on one or more GPUs.

    helm install leviathan charts/ktransformers -f charts/ktransformers/profiles/leviathan.yaml
"""

from __future__ import annotations

from typing import Annotated, Literal

from constructs import Construct
from pydantic import Field

from .. import versions
from ..config.base import ValuesModel
from ..config.bounds import CORES_MAX, GIB_MAX, INT32_MAX, NOT_AN_OPTION
from ..config.common import (Download, EngineValues, Gpus, Image, Memory, PvcStorage, Resources, Service, Storage,
                             extra_args_field, extra_args_unchecked_field, pinned_image)
from ..engines import flag_manifest
from ..engines import ktransformers as kt
from ..helm.chart import ChartInfo, HelmChart
from ..helm.helpers import memory_limit_rule
from ..helm.holes import Block, Expr, If, Kind, Tpl
from ..k8s import download, storage
from ..k8s.probes import HealthPaths
from ..k8s.service import add_service
from ..k8s.test_hook import add_test_hook
from ..k8s.workload import EngineContainer, add_engine_deployment

NAME = "ktransformers"
VERSION = "0.1.0"
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
    gguf: GgufWeights = GgufWeights()
    """GGUF weights (`--gguf_path`)."""
    config: ModelConfigFiles = ModelConfigFiles()
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
    model: Model = Model()
    """Which weights, and how big they are."""
    engine: Engine = Engine()
    """KTransformers server flags."""
    image: Image = pinned_image("ktransformers")
    """Engine image (KTransformers v0.4.1, the last release that ships the server)."""
    gpus: KtGpus = KtGpus()
    """GPUs of the engine pod, and the layer placement over them."""
    resources: Resources = Resources(memory=Memory(limit_gi_b=416), shm_gi_b=64)
    """CPU, RAM and /dev/shm. The routed experts live in host RAM: the limit must cover the weights."""
    service: Service = Service(port=10002)
    """How the OpenAI-compatible API is exposed."""
    download: Download = Download(image=pinned_image("model-downloader"))
    """The model-download Job."""
    storage: Storage = Storage(read_mi_bps=500, pvc=PvcStorage(create=True, size_gi_b=450))
    """Where the weights live. Default: a new 450 GiB PVC (kept on uninstall); for a node-local NVMe set
    `storage.hostPath.path` and `storage.pvc.create=false`."""


class KtransformersChart(HelmChart):
    def __init__(self, scope: Construct, values: KtValues | None = None):
        info = ChartInfo(
            name=NAME, version=VERSION, app_version=versions.image("ktransformers").app_version,
            description="DeepSeek-V3 671B GGUF on KTransformers: routed experts in host RAM, attention on GPUs",
            keywords=("llm", "deepseek", "ktransformers", "moe", "gguf", "cpu-offload"),
        )
        super().__init__(scope, info, values or KtValues())
        v = self.v
        storage.add_model_storage(self)
        wait_for_model = download.add_model_download(
            self,
            download.sources_json(
                (v.model.gguf.repo, v.model.gguf.revision,
                 f'(list (printf "%s/*" {v.model.gguf.quant.go}))', v.model.gguf.dir),
                (v.model.config.repo, v.model.config.revision,
                 '(list "*.json" "*.py" "*.model" "*.tiktoken")', v.model.config.dir),
            ),
            [v.model.gguf.dir, v.model.config.dir],
        )
        generated_rules = v.gpus.count.gt(1) & ~v.engine.optimize_config_path.truthy()
        self.add_config_map(
            "optimize-rules.yaml", self.name("optimize-rules"), "engine",
            {kt.RULES_FILE: Block(Tpl(f'include "{NAME}.optimizeRules" .'), omit_empty=False)},
            when=generated_rules,
        )
        self.extra_helpers.append(kt.placement_helpers(NAME))
        engine_args = kt.args(v)
        flag_manifest.add_extra_args_check(self, NAME, engine_args)
        add_engine_deployment(self, EngineContainer(
            command=kt.command(v),
            args=engine_args,
            env=[],
            port=v.engine.port,
            # No /health in KTransformers; /v1/models is static and cheap. The port stays closed
            # for the whole load, so startup probes see "connection refused" until it is ready.
            health=HealthPaths(startup="/v1/models", readiness="/v1/models", liveness="/v1/models"),
            init_containers=[If(v.download.enabled.truthy(), [wait_for_model])],
            # numactl --interleave=all calls set_mempolicy(2), which the runtime's default seccomp
            # profile allows only with CAP_SYS_NICE; without it numactl exits before the server starts.
            add_capabilities=(v.engine.numa_interleave.truthy(), ["SYS_NICE"]),
            extra_mounts=[If(generated_rules, [{"name": "optimize-rules", "mountPath": kt.RULES_DIR,
                                                 "readOnly": True}])],
            extra_volumes=[If(generated_rules, [{"name": "optimize-rules",
                                                  "configMap": {"name": self.name("optimize-rules")}}])],
            # numactl --interleave=all calls set_mempolicy, which RuntimeDefault seccomp allows only with SYS_NICE.
            annotations={"leviathan.dev/host-memory-needed-gib": Tpl(
                f"add ({v.model.size_gi_b.go} | int64) ({v.model.host_overhead_gi_b.go} | int64) | toString")},
        ))
        add_service(self)
        add_test_hook(self, v.model.served_name)
        self._rules()

    def _rules(self) -> None:
        v = self.v
        gpus, engine, model, memory = v.gpus, v.engine, v.model, v.resources.memory
        split_len = Expr(f"len {gpus.layer_split.go}", Kind.INT)
        split_sum = Tpl(f'include "{NAME}.layerSplitSum" .', Kind.INT)
        self.extra_helpers.append(
            f'{{{{- define "{NAME}.layerSplitSum" -}}}}\n{{{{- $sum := 0 -}}}}\n'
            f'{{{{- range .Values.gpus.layerSplit }}}}{{{{- $sum = add $sum (int .) -}}}}{{{{- end -}}}}\n'
            f'{{{{- $sum -}}}}\n{{{{- end }}}}\n')
        has_split = gpus.layer_split.truthy()
        self.rule(
            "engine.backendType", gpus.count.gt(1) & engine.backend_type.eq("balance_serve"),
            f'printf "engine.backendType: balance_serve runs a single GPU engine process on CUDA, but '
            f'gpus.count is %d. Use --set engine.backendType=ktransformers for multi-GPU placement, or '
            f'--set gpus.count=1." ({gpus.count.go} | int64)')
        self.rule(
            "gpus.layerSplit.count", has_split & split_len.ne(gpus.count),
            f'printf "gpus.layerSplit has %d entries but gpus.count is %d. Give one layer count per GPU, '
            f'e.g. --set gpus.layerSplit={{46,15}} for 2 GPUs." (len {gpus.layer_split.go}) ({gpus.count.go} | int64)')
        self.rule(
            "gpus.layerSplit.sum", has_split & split_sum.ne(model.num_layers),
            f'printf "gpus.layerSplit adds up to %d layers but model.numLayers is %d. Every layer needs '
            f'exactly one GPU." (include "{NAME}.layerSplitSum" . | int64) ({model.num_layers.go} | int64)')
        self.rule(
            "gpus.layerSplit.custom", has_split & engine.optimize_config_path.truthy(),
            '"gpus.layerSplit and engine.optimizeConfigPath are both set. The split generates a placement '
            'file; a custom rule file replaces it. Keep one."')
        self.rules.append(memory_limit_rule(
            memory.limit_gi_b, model.size_gi_b, model.host_overhead_gi_b, "weights",
            " that KTransformers keeps in host RAM: the pod would be OOM-killed while loading.",
            " on a node with that much allocatable memory, or a smaller quant"))
        cpu = v.resources.cpu
        self.rule(
            "engine.cpuInfer", cpu.limit.gt(0) & engine.cpu_infer.gt(cpu.limit),
            f'printf "engine.cpuInfer=%d threads exceeds resources.cpu.limit=%d cores: the expert threads '
            f'would be throttled. Lower cpuInfer or raise the limit." ({engine.cpu_infer.go} | int64) '
            f'({cpu.limit.go} | int64)')


README_NOTES = """\
## How this chart fixes the seed deployments

* **Real flags.** `--cpu_offload_max_threads` does not exist (the server exits with
  "unrecognized arguments"); CPU expert threads are `engine.cpuInfer` (`--cpu_infer`). `--gpu_split`
  is accepted but never read; GPU placement is `gpus.layerSplit`, from which the chart generates the
  optimize-rule file passed with `--optimize_config_path`. `--model_path` is the config/tokenizer
  directory and `--gguf_path` the quant directory; the seed pointed `--model_path` at the GGUF files
  and had no `--gguf_path`.
* **No `/health`.** KTransformers keeps its port closed while it loads and has no health endpoint;
  all probes use `GET /v1/models`. The seed's `curl :30000/health` could never succeed.
* **Storage without privileges.** Mount the NVMe partition on the host (e.g. Talos
  `machine.disks` to `/var/mnt/data`) and set `storage.hostPath.path`. The chart never formats or
  mounts disks and never runs privileged; `hostPath.type: Directory` fails fast when the disk is not
  mounted, instead of filling the root filesystem.
* **`numactl` gets exactly one capability.** `engine.numaInterleave` wraps the server in
  `numactl --interleave=all`, which calls `set_mempolicy(2)`. The container runtime's default
  seccomp profile (which the pod uses: `seccompProfile: RuntimeDefault`) allows that syscall only
  to a process holding `CAP_SYS_NICE`, and the engine container drops ALL capabilities. So when,
  and only when, `numaInterleave` is on, the container adds back `SYS_NICE`; nothing else. (The
  seed got NUMA interleaving by running privileged.) A namespace enforcing PodSecurity `restricted`
  refuses added capabilities: use `baseline` there, or leave `numaInterleave` off.
* **Only flags the engine has.** `engine.extraArgs` is checked against the flags of the pinned
  server's own parser (`files/engine-flags.json`, generated by `scripts/engine-flags`): an unknown
  flag, or one the chart already sets (`--port`, `--model_path`, ...), fails `helm template` with
  its name. `engine.extraArgsUnchecked` skips the first check, for an image you patched yourself.
* **The placement rules name DeepSeek-V3's classes.** The generated rule file replaces
  `modeling_deepseek_v3.DeepseekV3RotaryEmbedding` with `RoPE.YarnRotaryEmbeddingV3` and puts
  `lm_head` on the last GPU as a Marlin `KTransformersLinear`, as the upstream V3 multi-GPU rules
  do; `make test` checks every class and every layer regex against the pinned source's module tree.
* **Multi-GPU needs `engine.backendType=ktransformers`.** balance_serve starts one GPU engine
  process on CUDA, so a 2-GPU placement with it is rejected at `helm template` time.
"""
