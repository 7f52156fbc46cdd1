"""kwok "fat" GPU nodes: fake Nodes shaped like the seeds' H100 machines, on a
real control plane, for scheduling tests (big requests, 8-GPU pods, Pending).

kwok (https://kwok.sigs.k8s.io) runs as one host process against the cluster's
kubeconfig. It only manages Nodes annotated ``kwok.x-k8s.io/node=fake``
(``--manage-all-nodes=false``), so the real kubelet node stays the kubelet's.
The fake nodes are tainted ``kwok.x-k8s.io/node=fake:NoSchedule``: only pods
that tolerate the taint land there. Pods on them never run: kwok marks them
Running/Ready (Jobs: Succeeded) and deletes them when asked. Probes are not
simulated, so health flows stay on the real node with the mock engines.

Verified here (kwok v0.8.0 built with go 1.26.8; etcd + kube-apiserver +
kube-controller-manager + kube-scheduler 1.34 on loopback): the node is Ready
in <1 s and stays Ready (lease); an 8-GPU pod that tolerates the taint runs on
it; a 9-GPU pod stays Pending with "Insufficient nvidia.com/gpu"; an untolerating
pod stays Pending ("untolerated taint"); deleting a bound pod completes. The
controller-manager is needed: it lifts the ``node.kubernetes.io/not-ready``
taint that admission puts on every new Node.

The Stage objects below are our own minimal set (kwok requires stages when its
CRDs are not installed): node-ready, node-heartbeat, pod-ready, pod-complete
(Jobs), pod-delete.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from leviathan import tools

from .backends.base import Kubectl
from .supervisor import Supervisor, cluster_env

__all__ = ["KWOK_VERSION", "ensure_kwok", "fat_gpu_node", "kwok_stages", "KwokGpuNodes", "FAKE_NODE_TAINT"]

KWOK_VERSION = "v0.8.0"  # needs go >= 1.26.0; built against k8s.io v0.36
CACHE = tools.CACHE / "kwok"
MANAGED_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
FAKE_NODE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}


def kwok_binary(version: str = KWOK_VERSION) -> Path:
    return CACHE / "bin" / version / "kwok"


def ensure_kwok(version: str = KWOK_VERSION, go: str = "/usr/local/go/bin/go") -> Path:
    """``go install sigs.k8s.io/kwok/cmd/kwok@version`` into the cache (once); returns the binary."""
    binary = kwok_binary(version)
    if binary.exists():
        return binary
    env = {
        **os.environ,
        "GOBIN": str(binary.parent),
        "GOMODCACHE": str(CACHE / "gomod"),
        "GOCACHE": str(CACHE / "gocache"),
        "GOFLAGS": "-trimpath -buildvcs=false",
        "CGO_ENABLED": "0",
    }
    # kwok reports this as its version (and as the fake kubelet version of its nodes).
    ldflags = f"-X sigs.k8s.io/kwok/pkg/consts.Version={version}"
    subprocess.run([go, "install", "-ldflags", ldflags, f"sigs.k8s.io/kwok/cmd/kwok@{version}"], env=env, check=True)
    return binary


def fat_gpu_node(name: str, gpus: int = 8, cpu: str = "384", memory: str = "1536Gi",
                 product: str = "NVIDIA-H100-80GB-HBM3", gpu_memory_mib: int = 81559) -> dict:
    """A Node like the seeds' H100 boxes: 8 GPUs, 384 CPUs, 1.5 TiB RAM (status is kept as created)."""
    resources = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "7Ti", "nvidia.com/gpu": str(gpus)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {MANAGED_ANNOTATION[0]: MANAGED_ANNOTATION[1], "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": product,
                "nvidia.com/gpu.count": str(gpus), "nvidia.com/gpu.memory": str(gpu_memory_mib),
            },
        },
        "spec": {"taints": [FAKE_NODE_TAINT]},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": f"kwok-{KWOK_VERSION}",
                         "kubeProxyVersion": f"kwok-{KWOK_VERSION}", "containerRuntimeVersion": "kwok",
                         "kernelVersion": "kwok", "osImage": "kwok", "machineID": "", "bootID": "",
                         "systemUUID": ""},
        },
    }


def _stage(name: str, kind: str, expressions: list[dict], next_: dict, delay_ms: int | None = None) -> dict:
    spec: dict = {"resourceRef": {"apiGroup": "v1", "kind": kind},
                  "selector": {"matchExpressions": expressions}, "next": next_}
    if delay_ms is not None:
        spec["delay"] = {"durationMilliseconds": delay_ms, "jitterDurationMilliseconds": delay_ms + 5000}
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": name}, "spec": spec}


_READY_CONDITIONS = """\
conditions:
- type: Ready
  status: "True"
  reason: KwokReady
  message: kwok fake node
  lastHeartbeatTime: {{ Now | Quote }}
  lastTransitionTime: {{ or .metadata.creationTimestamp Now | Quote }}
{{ range list "MemoryPressure" "DiskPressure" "PIDPressure" "NetworkUnavailable" }}
- type: {{ . }}
  status: "False"
  reason: KwokNoPressure
  message: kwok fake node
  lastHeartbeatTime: {{ Now | Quote }}
  lastTransitionTime: {{ Now | Quote }}
{{ end }}
phase: Running
"""

_POD_RUNNING = """\
conditions:
{{ range list "PodScheduled" "Initialized" "ContainersReady" "Ready" }}
- type: {{ . }}
  status: "True"
  lastTransitionTime: {{ Now | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ Now | Quote }}
{{ end }}
phase: Running
startTime: {{ Now | Quote }}
"""

_POD_SUCCEEDED = """\
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ Now | Quote }}
      finishedAt: {{ Now | Quote }}
{{ end }}
phase: Succeeded
"""

_NOT_DELETED = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
_NODE_READY = '.status.conditions.[] | select( .type == "Ready" ) | .status'


def kwok_stages() -> list[dict]:
    """Node and pod lifecycles for the fake nodes (our own minimal Stage set)."""
    return [
        _stage("leviathan-node-ready", "Node", [{"key": _NODE_READY, "operator": "NotIn", "values": ["True"]}],
               {"statusTemplate": _READY_CONDITIONS}),
        # Re-applies while the node stays Ready: keeps lastHeartbeatTime fresh for the node lifecycle controller.
        _stage("leviathan-node-heartbeat", "Node", [{"key": _NODE_READY, "operator": "In", "values": ["True"]}],
               {"statusTemplate": _READY_CONDITIONS}, delay_ms=20000),
        _stage("leviathan-pod-ready", "Pod", [
            _NOT_DELETED, {"key": ".status.phase", "operator": "In", "values": ["Pending"]}],
            {"statusTemplate": _POD_RUNNING}),
        _stage("leviathan-pod-complete", "Pod", [
            _NOT_DELETED, {"key": ".status.phase", "operator": "In", "values": ["Running"]},
            {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]}],
            {"statusTemplate": _POD_SUCCEEDED}),
        # kubelet normally finishes a graceful delete; on a fake node kwok must do it.
        _stage("leviathan-pod-delete", "Pod", [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}],
               {"delete": True}),
    ]


def kwok_command(binary: Path, kubeconfig: Path, config: Path) -> list[str]:
    return [
        str(binary), f"--kubeconfig={kubeconfig}", f"--config={config}",
        # Never touch the real kubelet's node: manage only annotated fake nodes.
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={MANAGED_ANNOTATION[0]}={MANAGED_ANNOTATION[1]}",
        "--node-lease-duration-seconds=40",
    ]


@dataclass
class KwokGpuNodes:
    """Start kwok + create N fat GPU nodes; :meth:`stop` removes both (kwok by its PID)."""

    kubeconfig: Path
    workdir: Path
    count: int = 1
    gpus: int = 8
    product: str = "NVIDIA-H100-80GB-HBM3"
    binary: Path | None = None
    names: list[str] = field(default_factory=list)
    #: the backend's supervisor: kwok is then recorded, and stopped by any later teardown
    supervisor: Supervisor | None = None
    _proc: subprocess.Popen | None = None

    def start(self, ready_timeout: float = 60) -> list[str]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "kwok-stages.yaml"
        config.write_text(yaml.safe_dump_all(kwok_stages(), sort_keys=False))
        binary = self.binary or ensure_kwok()
        command = kwok_command(binary, self.kubeconfig, config)
        if self.supervisor is not None:
            self._proc = self.supervisor.spawn("kwok", command)
        else:
            log = open(self.workdir / "kwok.log", "ab")
            self._proc = subprocess.Popen(command, stdout=log, stderr=log, env=cluster_env())
            log.close()
        self.names = [f"kwok-gpu-{i}" for i in range(self.count)]
        nodes = [fat_gpu_node(n, gpus=self.gpus, product=self.product) for n in self.names]
        kubectl = Kubectl(self.kubeconfig)
        # create, not apply: a Node's status is only taken from the object on create.
        kubectl("create", "-f", "-", input=yaml.safe_dump_all(nodes))
        deadline = time.monotonic() + ready_timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"kwok exited with {self._proc.returncode}; see kwok.log")
            ready = kubectl("wait", "--for=condition=Ready", "--timeout=5s", *[f"node/{n}" for n in self.names],
                            check=False)
            if ready.returncode == 0:
                return self.names
            if time.monotonic() >= deadline:
                raise RuntimeError(f"kwok nodes not Ready after {ready_timeout}s: {ready.stderr.strip()}")

    def stop(self) -> None:
        if self.names:
            Kubectl(self.kubeconfig)("delete", "node", "--ignore-not-found", "--wait=false", *self.names, check=False)
        if self.supervisor is not None:
            self.supervisor.stop("kwok", timeout=10)
        elif self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> "KwokGpuNodes":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
