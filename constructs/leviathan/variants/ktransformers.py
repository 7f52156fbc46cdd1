"""Chart `ktransformers`: DeepSeek-V3 671B Q4_K_M GGUF on the KTransformers legacy server, routed
experts on the CPU, attention on one or more GPUs.

    helm install leviathan charts/ktransformers -f charts/ktransformers/profiles/leviathan.yaml
"""

from __future__ import annotations

from constructs import Construct

from .. import versions
from ..engines import flag_manifest
from ..engines import ktransformers as kt
from ..config.shape import ValuesShape
from ..helm.chart import ChartInfo, HelmChart, chart_shape
from ..helm.helpers import memory_limit_rule
from ..helm.holes import Block, Expr, If, Kind, Tpl
from ..k8s import download, storage
from ..k8s.probes import HealthPaths
from ..k8s.service import add_service
from ..k8s.test_hook import add_test_hook
from ..k8s.workload import EngineContainer, add_engine_deployment

NAME = "ktransformers"
VERSION = "0.1.0"


class KtransformersChart(HelmChart):
    def __init__(self, scope: Construct, values: ValuesShape | None = None):
        info = ChartInfo(
            name=NAME, version=VERSION, app_version=versions.image("ktransformers").app_version,
            description="DeepSeek-V3 671B GGUF on KTransformers: routed experts in host RAM, attention on GPUs",
            keywords=("llm", "deepseek", "ktransformers", "moe", "gguf", "cpu-offload"),
        )
        super().__init__(scope, info, values or chart_shape(NAME))
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
