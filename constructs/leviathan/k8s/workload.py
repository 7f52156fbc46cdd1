"""The engine Deployment: one pod holding the GPUs, the host RAM and the model volume.

`strategy: Recreate` because two engine pods can never share the GPUs or hundreds of GB of RAM; a
RollingUpdate would leave the new pod Pending (or OOM the node) while the old one still runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config.shape import block
from ..helm.chart import HelmChart
from ..helm.holes import Cond, Expr, If, Kind, Splice, Tpl, gib
from . import storage
from .placement import node_placement
from .probes import PORT_NAME, HealthPaths, add_probe_rules, engine_probes

COMPONENT = "engine"


@dataclass
class EngineContainer:
    """What a variant decides about its engine container; the rest is shared."""

    command: list
    args: list
    env: list
    health: HealthPaths
    port: object
    model_read_only: bool = True
    init_containers: list = field(default_factory=list)
    extra_mounts: list = field(default_factory=list)
    extra_volumes: list = field(default_factory=list)
    # vLLM must not see Kubernetes service-link variables (a Service named "vllm" injects VLLM_PORT).
    enable_service_links: bool = True
    gpu_request_when: Cond | None = None
    # Linux capabilities added back after dropping ALL, only when the condition holds.
    add_capabilities: tuple[Cond, list[str]] | None = None
    home_dir: str = "/home/engine"
    # Facts the chart derived (startup budget, RAM needed), shown to operators as annotations.
    annotations: dict = field(default_factory=dict)
    # A variant that derives the image or the affinity (kt-sglang: from cpu.isa) gives them here.
    image: object = None
    affinity: object = None


def _gpu_entry(chart: HelmChart) -> dict:
    gpus = chart.v.gpus
    # The resource name is a mapping key spliced as text: quoted, so no value can start a comment or
    # another key (the schema also holds it to the `<domain>/<name>` format).
    return {"_gpu": Splice(f'printf "%s: %d" ({gpus.resource_name.go} | quote) ({gpus.count.go} | int64)')}


def _resources(chart: HelmChart, gpu_when: Cond) -> dict:
    res = chart.v.resources
    memory = res.memory
    request = gib(Expr(f"{memory.request_gi_b.go} | default {memory.limit_gi_b.go}", Kind.INT))
    return {
        "requests": {"cpu": res.cpu.request.as_str(), "memory": request, "_gpu": If(gpu_when, _gpu_entry(chart))},
        "limits": {
            "_cpu": If(res.cpu.limit.gt(0), {"cpu": res.cpu.limit.as_str()}),
            "memory": gib(memory.limit_gi_b),
            "_gpu": If(gpu_when, _gpu_entry(chart)),
        },
    }


def add_engine_deployment(chart: HelmChart, engine: EngineContainer) -> None:
    v = chart.v
    gpu_when = engine.gpu_request_when or v.gpus.count.gt(0)
    container = {
        "name": COMPONENT,
        "image": engine.image or Tpl(f'include "{chart.info.name}.image" {v.image.go}'),
        "imagePullPolicy": v.image.pull_policy,
        "command": engine.command,
        "args": engine.args,
        "env": [{"name": "HOME", "value": engine.home_dir}, *engine.env, block(v.extra_env)],
        "ports": [{"name": PORT_NAME, "containerPort": engine.port, "protocol": "TCP"}],
        "resources": _resources(chart, gpu_when),
        "volumeMounts": [
            storage.model_mount(chart, engine.model_read_only),
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "home", "mountPath": engine.home_dir},
            *engine.extra_mounts,
        ],
        **engine_probes(chart, engine.health),
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {
            "drop": ["ALL"],
            **({"_add": If(engine.add_capabilities[0], {"add": engine.add_capabilities[1]})}
               if engine.add_capabilities else {}),
        }},
    }
    pod_spec = {
        "_runtime": If(v.runtime_class_name.truthy(), {"runtimeClassName": v.runtime_class_name}),
        "_priority": If(v.priority_class_name.truthy(), {"priorityClassName": v.priority_class_name}),
        **node_placement(chart, engine.affinity),
        "imagePullSecrets": block(v.image_pull_secrets),
        "enableServiceLinks": engine.enable_service_links,
        "terminationGracePeriodSeconds": v.termination_grace_period_seconds,
        # The engine images run as UID 1000 (images/*/Dockerfile): PodSecurity `restricted` holds.
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": engine.init_containers,
        "containers": [container],
        "volumes": [
            storage.model_volume(chart),
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": gib(v.resources.shm_gi_b)}},
            {"name": "home", "emptyDir": {}},
            *engine.extra_volumes,
        ],
    }
    if not engine.init_containers:
        del pod_spec["initContainers"]
    annotations = {
        "leviathan.dev/weights-gib": chart.weights_gib().as_str(),
        "leviathan.dev/startup-budget-seconds": chart.include("startupBudgetSeconds"),
        **engine.annotations,
    }
    chart.add_object(
        "deployment.yaml", "apps/v1", "Deployment", chart.name(), COMPONENT,
        annotations=annotations,
        body={"spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": chart.selector_labels(COMPONENT)},
            "template": {
                "metadata": {"labels": chart.selector_labels(COMPONENT),
                             "annotations": block(v.pod_annotations)},
                "spec": pod_spec,
            },
        }},
    )
    add_probe_rules(chart)
    _add_resource_rules(chart)


def _add_resource_rules(chart: HelmChart) -> None:
    memory, cpu = chart.v.resources.memory, chart.v.resources.cpu
    # Found by the API server's dry run of accepted draws (e2e): it refuses requests above limits.
    chart.rule(
        "resources.cpu.request", cpu.limit.gt(0) & cpu.request.gt(cpu.limit),
        f'printf "resources.cpu: request (%d cores) is above limit (%d). Lower the request, raise the limit, '
        f'or set limit 0 for no limit." ({cpu.request.go} | int64) ({cpu.limit.go} | int64)')
    chart.rule(
        "resources.memory.request", memory.request_gi_b.gt(memory.limit_gi_b),
        f'printf "resources.memory: requestGiB (%d) is above limitGiB (%d). Lower the request or raise '
        f'the limit." ({memory.request_gi_b.go} | int64) ({memory.limit_gi_b.go} | int64)')
