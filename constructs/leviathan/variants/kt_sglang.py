"""Chart `kt-sglang`: Kimi-K2.5 (1T MoE, native INT4) on kvcache-ai's SGLang fork with kt-kernel:
attention and a few experts per layer on the GPUs, the other routed experts in host RAM on the CPU.

    helm install kimi charts/kt-sglang -f charts/kt-sglang/profiles/ice.yaml -n aic

`cpu.isa` is the one value that decides what the CPU runs: the `--kt-method`, the image flavour
(images/kt-sglang builds `-avx512` and `-amx`), and the node affinity on NFD labels.
"""

from __future__ import annotations

from constructs import Construct

from .. import versions
from ..config.shape import block
from ..engines import flag_manifest
from ..engines import sglang
from ..config.shape import ValuesShape
from ..helm.chart import ChartInfo, HelmChart, chart_shape
from ..helm.holes import Cond, Expr, If, Kind, Tpl
from ..k8s import cpu_isa, download, storage
from ..k8s.placement import node_placement
from ..k8s.probes import HealthPaths
from ..k8s.service import add_service
from ..k8s.test_hook import add_test_hook
from ..k8s.workload import EngineContainer, add_engine_deployment
from . import kt_sglang_rules

NAME = "kt-sglang"
VERSION = "0.1.0"
FLAVOURS = versions.flavours(NAME)


class KtSglangChart(HelmChart):
    def __init__(self, scope: Construct, values: ValuesShape | None = None):
        info = ChartInfo(
            name=NAME, version=VERSION, app_version=FLAVOURS["avx512"].app_version,
            description="Kimi-K2.5 on SGLang + KT-Kernel: routed experts in host RAM on the CPU ISA the node has",
            keywords=("llm", "kimi", "sglang", "kt-kernel", "moe", "cpu-offload"),
        )
        super().__init__(scope, info, values or chart_shape(NAME))
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
