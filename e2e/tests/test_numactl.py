"""`engine.numaInterleave: true` with Debian's real numactl in the mock-engine image, under the
RuntimeDefault seccomp profile the chart sets.

containerd's default seccomp profile allows set_mempolicy/mbind/get_mempolicy only to containers
holding CAP_SYS_NICE, and the chart drops every capability but that one when numaInterleave is on.
The positive test shows the pod starts and the engine really runs under the interleave policy; the
negative one applies the same rendered chart with SYS_NICE removed and shows numactl refusing.
"""

from __future__ import annotations

import json

import pytest
import yaml

from leviathan_e2e.release import REPO, Release, wait_for

pytestmark = pytest.mark.e2e

NUMA = {"engine": {"numaInterleave": True}}


@pytest.fixture
def ktransformers(kubectl, namespace, mock_engine_image, fake_gpus) -> Release:
    return Release(name="numa", chart="ktransformers", namespace=namespace, kubectl=kubectl)


def _values() -> list:
    return [REPO / "e2e" / "values" / "ktransformers.yaml"]


def _engine(pod: dict) -> dict:
    return next(c for c in pod["spec"]["containers"] if c["name"] == "engine")


def test_numa_interleave_starts_under_runtime_default_seccomp(ktransformers):
    release = ktransformers
    release.install(_values(), json_sets=NUMA)
    pod = release.engine_pod()
    assert release.ready(pod) and release.restarts(pod) == 0
    engine = _engine(pod)
    assert engine["command"][:3] == ["numactl", "--interleave=all", "ktransformers"]
    assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert engine["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["SYS_NICE"]}
    name = pod["metadata"]["name"]
    # The real numactl set the policy, then exec'd the engine (PID 1): its memory is interleaved.
    numa_maps = release.kubectl("exec", "-n", release.namespace, name, "-c", "engine", "--",
                                "cat", "/proc/1/numa_maps").stdout
    assert "interleave:" in numa_maps, numa_maps[:2000]
    exe = release.kubectl("exec", "-n", release.namespace, name, "-c", "engine", "--",
                          "readlink", "/proc/1/exe").stdout.strip()
    assert exe == "/usr/local/bin/mock-engine"


def test_numactl_without_sys_nice_is_refused_by_seccomp(ktransformers):
    """The same rendered chart, with only SYS_NICE taken away: set_mempolicy is denied (EPERM) and
    the engine never starts."""
    release = ktransformers
    rendered = release.helm("template", release.name, str(REPO / "charts" / "ktransformers"),
                            "-f", str(_values()[0]), "--set-json", f"engine={json.dumps(NUMA['engine'])}").stdout
    objects = [o for o in yaml.safe_load_all(rendered)
               if o and "helm.sh/hook" not in (o["metadata"].get("annotations") or {})]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    engine = _engine(deployment["spec"]["template"])
    assert engine["securityContext"]["capabilities"]["add"] == ["SYS_NICE"]  # what the chart renders
    engine["securityContext"]["capabilities"] = {"drop": ["ALL"]}
    release.kubectl("apply", "-n", release.namespace, "-f", "-",
                    input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))

    def terminated():
        pods = release.engine_pods()
        statuses = [s for p in pods for s in p["status"].get("containerStatuses", [])]
        return [s for s in statuses
                if (s.get("lastState") or {}).get("terminated") or (s.get("state") or {}).get("terminated")]

    status = wait_for("engine container terminated", terminated, timeout=120)[0]
    ended = (status.get("state") or {}).get("terminated") or status["lastState"]["terminated"]
    assert ended["exitCode"] != 0
    pod = release.engine_pod()
    assert not release.ready(pod)
    logs = release.kubectl("logs", "-n", release.namespace, pod["metadata"]["name"], "-c", "engine",
                           check=False)
    previous = release.kubectl("logs", "--previous", "-n", release.namespace, pod["metadata"]["name"],
                               "-c", "engine", check=False)
    text = logs.stdout + previous.stdout
    assert NUMACTL_REFUSAL in text, text
    # it is numactl that failed: the engine itself never printed a line
    assert "mock ktransformers" not in text and "loading blk" not in text


#: What Debian's numactl 2.0.16 prints when seccomp denies set_mempolicy (EPERM), seen here:
#: "set_mempolicy: Operation not permitted" / "setting interleave mask: Operation not permitted".
NUMACTL_REFUSAL = "set_mempolicy: Operation not permitted"
