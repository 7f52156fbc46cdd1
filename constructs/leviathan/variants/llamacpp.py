"""Chart `llamacpp`: Kimi-K2-Thinking GGUF on llama.cpp's `llama-server`, routed experts in host RAM,
on Kubernetes or OpenShift (Route, default-deny NetworkPolicies, restricted-v2 SCC).

    helm install kimi charts/llamacpp -f charts/llamacpp/profiles/openshift.yaml
    oc apply -n <ns> -f rendered/llamacpp/openshift.yaml
"""

from __future__ import annotations

from constructs import Construct

from .. import versions
from ..engines import flag_manifest
from ..engines import llamacpp as engine_cli
from ..config.shape import ValuesShape
from ..helm.chart import ChartInfo, HelmChart, chart_shape
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


class LlamacppChart(HelmChart):
    def __init__(self, scope: Construct, values: ValuesShape | None = None):
        info = ChartInfo(
            name=NAME, version=VERSION, app_version=versions.image("llama-cpp-cuda").app_version,
            description="Kimi-K2-Thinking GGUF on llama.cpp llama-server, experts in host RAM, for Kubernetes and OpenShift",
            keywords=("llm", "llama.cpp", "gguf", "kimi-k2", "moe", "openshift"),
        )
        super().__init__(scope, info, values or chart_shape(NAME))
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
