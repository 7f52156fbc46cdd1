"""Every key in values.yaml really flows: `--set` of each leaf changes `helm template`'s output.

Each leaf is moved from one valid value to another valid value, in a context (other `--set`s shared by
both renders) where the knob is active, e.g. `service.nodePort` only matters for a NodePort Service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from leviathan.config.charts import VALUES
from leviathan.helm.values_doc import docs
from leviathan.variants import REGISTRY

import cdk8s


@dataclass(frozen=True)
class Move:
    to: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    # extra --set applied only to the moved render (when the knob can't move alone and stay valid)
    extra: dict[str, Any] = field(default_factory=dict)


BUDGET_ACTIVE = {"probes.startup.floorSeconds": 1}
MULTI_GPU = {"gpus.count": 2, "engine.backendType": "ktransformers"}
# A hostPath store must be pinned to one node (rule storage.hostPath.node).
HOST_PATH = {"storage.hostPath.path": "/data", "storage.pvc.create": False, "nodeName": "node-a"}

AMX_WEIGHTS = {"cpu.isa": "amx", "model.cpuWeights.repo": "org/a"}

SHARED: dict[str, Move] = {
    "service.nodePort": Move(30123, {"service.type": "NodePort"}),
    "storage.hostPath.path": Move("/data/b", {**HOST_PATH, "storage.hostPath.path": "/data/a"}),
    "storage.hostPath.type": Move("DirectoryOrCreate", HOST_PATH),
    "storage.pvc.existingClaim": Move("claim-b", {"storage.pvc.create": False, "storage.pvc.existingClaim": "claim-a"}),
    "storage.pvc.create": Move(False, extra={"storage.hostPath.path": "/data", "nodeName": "node-a"}),
    "storage.readMiBps": Move(7, BUDGET_ACTIVE),
    "probes.startup.floorSeconds": Move(100000, {"probes.startup.ceilingSeconds": 200000}),
    "probes.startup.ceilingSeconds": Move(61, {"probes.startup.floorSeconds": 60}),
    "resources.cpu.limit": Move(64),
    "resources.memory.requestGiB": Move(10),
    "image.digest": Move("sha256:" + "a" * 64),
    "helperImage.digest": Move("sha256:" + "b" * 64),
    "download.image.digest": Move("sha256:" + "c" * 64),
    "download.hfTokenSecret.key": Move("TOKEN", {"download.hfTokenSecret.name": "hf"}),
    "download.endpoint": Move("https://hf.example.com"),
    "model.hfTokenSecret.key": Move("TOKEN", {"model.hfTokenSecret.name": "hf"}),
    "storage.mountPath": Move("/weights"),
    "gpus.resourceName": Move("amd.com/gpu"),
    "imagePullSecrets": Move([{"name": "regcred"}]),
    "extraEnv": Move([{"name": "EXTRA", "value": "1"}]),
    "tolerations": Move([{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]),
    "affinity": Move({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["h100"]}]}]}}}),
}

PER_CHART: dict[str, dict[str, Move]] = {
    "ktransformers": {
        "gpus.count": Move(2, {"engine.backendType": "ktransformers"}),
        "gpus.layerSplit": Move([46, 15], {**MULTI_GPU, "gpus.layerSplit": [31, 30]}),
        "model.numLayers": Move(60, MULTI_GPU),
        "model.hostOverheadGiB": Move(25),
        "engine.cpuInfer": Move(33),
        "resources.memory.limitGiB": Move(500),
        "storage.pvc.sizeGiB": Move(451),
        # extraArgs must be flags of the pinned engine (test_engine_flags.py)
        "engine.extraArgs": Move(["--force_think"]),
        },
    "vllm": {
        "gpus.count": Move(2),
        "gpus.visibleDevices": Move(["GPU-bbbb"], {"gpus.count": 0, "gpus.visibleDevices": ["GPU-aaaa"]}),
        "engine.tensorParallelSize": Move(2, {"gpus.count": 2}),
        "engine.maxModelLen": Move(0),
        "engine.quantization": Move("awq"),
        "engine.extraArgs": Move(["--kv-cache-dtype", "fp8"]),
        "model.sizeGiB": Move(50, BUDGET_ACTIVE),
    },
    "llamacpp": {
        "model.quant": Move("UD-Q2_K_XL", {"resources.memory.limitGiB": 400, "model.shards": 8}),
        "model.file": Move("other.gguf"),
        "engine.gpuLayers": Move("40"),
        "engine.overrideTensor": Move(".ffn_.*_exps.=CUDA0"),
        "engine.nCpuMoe": Move(10, {"engine.overrideTensor": ""}),
        "engine.loadMode": Move("mmap"),
        "engine.flashAttn": Move("on"),
        "engine.extraArgs": Move(["--seed", "3407"]),
        "engine.apiKeySecret.key": Move("KEY", {"engine.apiKeySecret.name": "llama-key"}),
        "storage.pvc.sizeGiB": Move(400),
        "platform": Move("openshift"),
        **{path: Move(to, {"platform": "openshift"}) for path, to in (
            ("openshift.route.enabled", False), ("openshift.route.host", "kimi.apps.example.com"),
            ("openshift.route.timeout", "10m"), ("openshift.networkPolicies.enabled", False),
            ("openshift.networkPolicies.dnsNamespace", "dns"))},
    },
    "kt-sglang": {
        # AMX methods read converted weights, which the Job downloads only from a named repository.
        "cpu.isa": Move("amx", extra={"model.cpuWeights.repo": "org/cpu-weights"}),
        "cpu.method": Move("FP8"),
        "model.cpuWeights.repo": Move("org/b", AMX_WEIGHTS),
        "model.cpuWeights.revision": Move("v2", AMX_WEIGHTS),
        "model.cpuWeights.dir": Move("converted", AMX_WEIGHTS),
        "engine.tensorParallelSize": Move(1),
        "engine.extraArgs": Move(["--enable-mixed-chunk"]),
        "resources.cpu.limit": Move(100),
        "resources.cpu.request": Move(32),
        "download.tolerations": Move([{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                                     {"download.nodeSelector": {"accelerator": "nvidia-rtx-2080ti"}}),
    },
}


def generic_move(value: Any) -> Move:
    if isinstance(value, bool):
        return Move(not value)
    if isinstance(value, int):
        return Move(value + 1)
    if isinstance(value, float):
        return Move(round(value - 0.01, 4))
    if isinstance(value, str):
        return Move(value + "-x" if value else "changed")
    if isinstance(value, list):
        return Move(["--changed"])
    if isinstance(value, dict):
        return Move({"changed.example/key": "v"})
    raise TypeError(value)


ENUMS = {"image.pullPolicy": "Always", "helperImage.pullPolicy": "Always", "download.image.pullPolicy": "Always",
         "service.type": "NodePort", "storage.pvc.accessMode": "ReadWriteMany",
         "engine.backendType": "ktransformers", "storage.hostPath.type": "DirectoryOrCreate"}


def cases():
    for variant in REGISTRY:
        for doc in docs(VALUES[variant.name]()):
            move = PER_CHART[variant.name].get(doc.path) or SHARED.get(doc.path)
            if move is None:
                move = Move(ENUMS[doc.path]) if doc.path in ENUMS else generic_move(doc.default)
            yield pytest.param(variant.name, doc.path, move, id=f"{variant.name}:{doc.path}")


def set_args(values: dict[str, Any]) -> list[str]:
    args = []
    for key, value in values.items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


@pytest.mark.parametrize(("chart", "path", "move"), list(cases()))
def test_set_changes_output(helm, charts_dir, chart, path, move):
    base = ["template", "t", str(charts_dir / chart), *set_args(move.context)]
    before = helm.run(*base)
    assert before.returncode == 0, f"context for {path} does not render:\n{before.stderr}"
    after = helm.run(*base, *set_args({path: move.to, **move.extra}))
    assert after.returncode == 0, f"--set {path}={move.to!r} does not render:\n{after.stderr}"
    assert after.stdout != before.stdout, f"--set {path} did not change the rendered output"
