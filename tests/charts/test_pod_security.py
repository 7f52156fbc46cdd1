"""Defaults meet PodSecurity `restricted`; a hostPath store brings only the violations the chart README
explains (a hostPath volume, a root download Job for a root-owned host directory, SYS_NICE for numactl)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import CHART_NAMES, docs, find, profiles
from .pod_security import pod_spec, restricted_violations

# Every pod the chart can create: the download Job, the optimize-rule mount and the helm test pod.
EVERY_POD = {"ktransformers": ["gpus.count=2", "engine.backendType=ktransformers"], "vllm": [], "llamacpp": [],
             "kt-sglang": ["download.nodeSelector.pool=cpu"]}


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_default_pods_meet_the_restricted_pod_security_standard(helm, charts_dir, chart):
    pods = [(m["kind"], pod_spec(m)) for m in docs(helm.template(charts_dir / chart, sets=EVERY_POD[chart]).stdout)]
    pods = [(kind, pod) for kind, pod in pods if pod is not None]
    assert {kind for kind, _ in pods} >= {"Deployment", "Pod"}
    for kind, pod in pods:
        assert not restricted_violations(pod), (kind, restricted_violations(pod))


def test_a_host_path_store_brings_only_the_documented_exceptions(helm, charts_dir):
    (profile,) = profiles("ktransformers")
    manifests = docs(helm.template(charts_dir / "ktransformers", values=[profile]).stdout)
    engine = restricted_violations(pod_spec(find(manifests, "Deployment")))
    job = restricted_violations(pod_spec(find(manifests, "Job")))
    # the profile also runs numactl --interleave=all, which needs CAP_SYS_NICE (set_mempolicy)
    assert engine == ["volume models: ['hostPath']", "engine: adds capabilities ['SYS_NICE']"]
    assert job == ["volume models: ['hostPath']", "pod runAsUser 0", "download: runAsNonRoot != true"]
    readme = (charts_dir / "ktransformers" / "README.md").read_text()
    assert "PodSecurity" in readme and "hostPath" in readme and "numaInterleave" in readme


def test_the_helm_test_pod_and_wait_for_model_run_as_non_root(helm, charts_dir):
    manifests = docs(helm.template(charts_dir / "ktransformers").stdout)
    init = pod_spec(find(manifests, "Deployment"))["initContainers"][0]
    test = pod_spec(find(manifests, "Pod"))["containers"][0]
    for container in (init, test):
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] != 0, container["name"]
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_wait_for_model_keeps_paths_with_spaces_whole(helm, charts_dir, tmp_path):
    """The markers used to be one space-separated env var: `my models` became `my` and `models`,
    and the init container waited forever. Run the rendered script for real."""
    mount = tmp_path / "model store"
    manifests = docs(helm.template(charts_dir / "ktransformers", sets=[
        f"storage.mountPath={mount}", "model.gguf.dir=gguf files", "model.config.dir=config files"]).stdout)
    init = pod_spec(find(manifests, "Deployment"))["initContainers"][0]
    command = init["command"]
    assert command[:2] == ["sh", "-c"]
    markers = command[4:]
    assert markers == [f"{mount}/gguf files/.leviathan-complete.json", f"{mount}/config files/.leviathan-complete.json"]
    for marker in markers:
        (tmp_path / marker).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / marker).write_text("{}")
    done = subprocess.run([shutil.which("sh"), *command[1:]], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0 and "model files complete" in done.stdout, done.stdout + done.stderr
