"""Chart `llamacpp`: Kimi-K2-Thinking GGUF on llama.cpp's `llama-server`, routed experts in host RAM,
on Kubernetes or OpenShift (Route, default-deny NetworkPolicies, restricted-v2 SCC).

    helm install kimi charts/llamacpp -f charts/llamacpp/profiles/openshift.yaml
    oc apply -n <ns> -f rendered/llamacpp/openshift.yaml
"""

from __future__ import annotations

from typing import Literal

from constructs import Construct
from pydantic import Field

from .. import versions
from ..config.base import ValuesModel
from ..config.bounds import GIB_MAX, INT32_MAX, NOT_AN_OPTION
from ..config.common import (Download, EngineValues, Gpus, Image, Memory, PvcStorage, Resources, SecretRef, Service,
                             Storage, extra_args_field, extra_args_unchecked_field, pinned_image)
from ..config.platform import OpenShift, Platform
from ..engines import flag_manifest
from ..engines import llamacpp as engine_cli
from ..helm.chart import ChartInfo, HelmChart
from ..helm.helpers import memory_limit_rule
from ..helm.holes import Expr, If, Kind, Tpl
from ..k8s import download, platform, storage
from ..k8s.network_policy import add_network_policies
from ..k8s.probes import HealthPaths
from ..k8s.secrets import secret_env
from ..k8s.route import add_route
from ..k8s.service import add_service
from ..k8s.test_hook import add_test_hook
from ..k8s.workload import EngineContainer, add_engine_deployment
from . import llamacpp_quants as quants
from . import llamacpp_readme

NAME = "llamacpp"
VERSION = "0.1.0"
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
    host_overhead_gi_b: int = Field(llamacpp_readme.HOST_OVERHEAD_GIB, ge=0, le=GIB_MAX, alias="hostOverheadGiB")
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
    api_key_secret: SecretRef = SecretRef(key="LLAMA_API_KEY")
    """Secret holding the API key clients must send (`Authorization: Bearer <key>`); llama-server reads
    it from `LLAMA_API_KEY`, so it is on no command line. `/health` stays public for the probes, and
    `helm test` sends the key. Empty name: no key (then only the NetworkPolicies and the Route guard the API)."""
    jinja: bool = True
    """Use the model's Jinja chat template (`--jinja`; `--no-jinja` when false). Kimi-K2 needs it."""
    extra_args: list[str] = extra_args_field("llama-server", also="a `--flag=value` (llama.cpp reads none), ")
    extra_args_unchecked: list[str] = extra_args_unchecked_field()


class LlamacppValues(EngineValues):
    model: Model = Model()
    """Which GGUF quant to serve (the quant table sets its size, PVC minimum and first shard)."""
    engine: Engine = Engine()
    """llama-server flags."""
    image: Image = pinned_image("llama-cpp-cuda")
    """Engine image (llama.cpp b11312, CUDA). `leviathan/llama-cpp:b11312-cpu` runs without a GPU."""
    gpus: Gpus = Gpus()
    """GPUs of the engine pod (`gpus.count: 0` with the CPU image)."""
    resources: Resources = Resources(memory=Memory(limit_gi_b=256), shm_gi_b=1)
    """CPU, RAM and /dev/shm. `--threads` is `cpu.request`. The memory limit must hold the weights
    (see "Memory rule" in the README)."""
    service: Service = Service(port=8080)
    """How the OpenAI-compatible API is exposed inside the cluster (the Route points at it)."""
    download: Download = Download(image=pinned_image("model-downloader"))
    """The model-download Job (only the chosen quant's folder)."""
    storage: Storage = Storage(read_mi_bps=500, pvc=PvcStorage(create=True, size_gi_b=0))
    """Where the GGUF lives. Default: a new PVC (kept on uninstall) of the quant's minimum size
    (`pvc.sizeGiB: 0`); or `storage.hostPath.path` / `pvc.existingClaim`."""
    platform: Platform = ""
    """`kubernetes` or `openshift` (Route, NetworkPolicies, UIDs assigned by the restricted-v2 SCC).
    Empty: `openshift` when the cluster serves route.openshift.io/v1. `helm template` and the bundles
    see no cluster: set it there."""
    openshift: OpenShift = OpenShift()
    """OpenShift objects (used only when the platform is openshift)."""


class LlamacppChart(HelmChart):
    def __init__(self, scope: Construct, values: LlamacppValues | None = None):
        info = ChartInfo(
            name=NAME, version=VERSION, app_version=versions.image("llama-cpp-cuda").app_version,
            description="Kimi-K2-Thinking GGUF on llama.cpp llama-server, experts in host RAM, for Kubernetes and OpenShift",
            keywords=("llm", "llama.cpp", "gguf", "kimi-k2", "moe", "openshift"),
        )
        super().__init__(scope, info, values or LlamacppValues())
        v = self.v
        self.extra_helpers += [platform.helper(NAME), _quant_helpers()]
        storage.add_model_storage(self)
        wait_for_model = download.add_model_download(
            self,
            download.sources_json((v.model.repo, v.model.revision,
                                   f'(list (printf "%s/*" {v.model.quant.go}))', v.model.dir)),
            [v.model.dir],
        )
        engine_args = engine_cli.args(v, self.include("modelFile"))
        # The key comes from the Secret through LLAMA_API_KEY: --api-key or --api-key-file in extraArgs
        # would replace it.
        key_owner = "engine.apiKeySecret"
        flag_manifest.add_extra_args_check(self, NAME, engine_args, also={"api_key": key_owner, "api_key_file": key_owner})
        weights = self.weights_gib()
        add_engine_deployment(self, EngineContainer(
            command=engine_cli.command(),
            args=engine_args,
            env=[secret_env(self, v.engine.api_key_secret, "LLAMA_API_KEY")],
            port=v.engine.port,
            # llama-server answers /health at once: 503 "Loading model" until the weights are in, then 200.
            health=HealthPaths(startup="/health", readiness="/health", liveness="/health"),
            init_containers=[If(v.download.enabled.truthy(), [wait_for_model])],
            home_dir="/home/llama",
            annotations={"leviathan.dev/host-memory-needed-gib": Tpl(
                f"add ({weights.go} | int64) ({v.model.host_overhead_gi_b.go} | int64) | toString")},
        ))
        add_service(self)
        add_test_hook(self, v.model.served_name, api_key_secret=v.engine.api_key_secret)
        openshift = platform.is_openshift(self)
        add_route(self, openshift)
        add_network_policies(self, openshift)
        self._rules()

    def weights_gib(self) -> Expr:
        return self.include("weightsGiB", Kind.INT)

    def pvc_size_gib(self) -> Expr:
        return self.include("pvcSizeGiB", Kind.INT)

    def _rules(self) -> None:
        v = self.v
        engine, model, memory = v.engine, v.model, v.resources.memory
        shards = self.include("shards", Kind.INT)
        self.rule(
            "model.shards", ~model.file.truthy() & shards.lt(1),
            f'printf "model.shards: the chart does not know how many shards %s has in %s. Count the '
            f'files in its %s/ folder and --set model.shards=N (the first shard is '
            f'%s-%s-00001-of-0000N.gguf), or name the file with model.file." {model.quant.go} {model.repo.go} '
            f'{model.quant.go} {model.file_stem.go} {model.quant.go}')
        self.rule(
            "engine.nCpuMoe", engine.override_tensor.truthy() & engine.n_cpu_moe.gt(0),
            f'printf "engine.nCpuMoe=%d and engine.overrideTensor are both set; llama.cpp applies the '
            f'earlier --override-tensor first, so nCpuMoe would do nothing. Keep one: --set '
            f'engine.overrideTensor= to place the first N layers\' experts with nCpuMoe." ({engine.n_cpu_moe.go} | int64)')
        self.rule(
            "engine.parallel", Expr(f"div ({engine.ctx_size.go} | int64) ({engine.parallel.go} | int64)",
                                    Kind.INT).lt(256),
            f'printf "engine.parallel=%d slots share engine.ctxSize=%d tokens: %d tokens per request is '
            f'too few. Raise ctxSize or lower parallel." ({engine.parallel.go} | int64) '
            f'({engine.ctx_size.go} | int64) (div ({engine.ctx_size.go} | int64) ({engine.parallel.go} | int64))')
        self.rules.append(memory_limit_rule(
            memory.limit_gi_b, self.weights_gib(), model.host_overhead_gi_b, "%s weights",
            ". Every byte of the GGUF passes through this pod's memory cgroup (read into RAM with loadMode "
            "none, page cache with mmap): below it the pod is OOM-killed while loading, or re-reads experts "
            "from disk for every token.",
            " on a node with that much allocatable memory, or a smaller quant", weights_args=model.quant.go))
        pvc = v.storage.pvc
        minimum = Expr(f'(include "{NAME}.quant" . | fromJson).minPvcGiB | int64', Kind.INT)
        self.rule(
            "storage.pvc.quantMinimum", pvc.create.truthy() & ~model.file.truthy() & self.pvc_size_gib().lt(minimum),
            f'printf "storage.pvc.sizeGiB=%d is below the %d GiB that %s needs (weights plus the download\'s '
            f'partial files). Use --set storage.pvc.sizeGiB=%d, or 0 for the quant\'s minimum." '
            f'({self.pvc_size_gib().go} | int64) ({minimum.go}) {model.quant.go} ({minimum.go})')


def _quant_helpers() -> str:
    return f'''{{{{/*
The chosen quant's row of the quant table (variants/llamacpp_quants.py), as JSON.
*/}}}}
{{{{- define "{NAME}.quant" -}}}}
{{{{- get ({quants.helm_table()}) .Values.model.quant | toJson -}}}}
{{{{- end }}}}

{{{{/*
Weights in GiB: model.sizeGiB, or the quant table's size.
*/}}}}
{{{{- define "{NAME}.weightsGiB" -}}}}
{{{{- .Values.model.sizeGiB | default (include "{NAME}.quant" . | fromJson).sizeGiB | int64 -}}}}
{{{{- end }}}}

{{{{/*
Size of the created PVC in GiB: storage.pvc.sizeGiB, or the quant's minimum.
*/}}}}
{{{{- define "{NAME}.pvcSizeGiB" -}}}}
{{{{- .Values.storage.pvc.sizeGiB | default (include "{NAME}.quant" . | fromJson).minPvcGiB | int64 -}}}}
{{{{- end }}}}

{{{{/*
Shard count: model.shards, or the quant table's (0 when unknown).
*/}}}}
{{{{- define "{NAME}.shards" -}}}}
{{{{- .Values.model.shards | default (include "{NAME}.quant" . | fromJson).shards | int64 -}}}}
{{{{- end }}}}

{{{{/*
The file llama-server loads (`--model`): model.file, or the quant's first shard
<dir>/<quant>/<fileStem>-<quant>-00001-of-<shards>.gguf (llama.cpp loads the other shards beside it).
*/}}}}
{{{{- define "{NAME}.modelFile" -}}}}
{{{{- $m := .Values.model -}}}}
{{{{- if $m.file -}}}}
{{{{- printf "%s/%s/%s" .Values.storage.mountPath $m.dir $m.file -}}}}
{{{{- else -}}}}
{{{{- printf "%s/%s/%s/%s-%s-00001-of-%05d.gguf" .Values.storage.mountPath $m.dir $m.quant $m.fileStem $m.quant (include "{NAME}.shards" . | int) -}}}}
{{{{- end -}}}}
{{{{- end }}}}
'''


README_NOTES = llamacpp_readme.NOTES
