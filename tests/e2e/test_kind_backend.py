"""The kind backend, without Docker: its generated config and the exact commands
it would run, captured by an injected fake command runner."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from leviathan_e2e.backends import get_backend
from leviathan_e2e.backends.base import BackendError
from leviathan_e2e.backends.kind import (KIND_NODE_IMAGE, KIND_VERSION, NVIDIA_RUNTIME_PATCH, KindBackend,
                                         render_kind_config, runtime_class_manifest)


REPO = Path(__file__).resolve().parents[2]


class FakeRunner:
    """Records argv (+stdin) and answers like docker/kind/kubectl would on a healthy CI runner."""

    def __init__(self, gpus_per_poll=("", "4")):
        self.calls: list[tuple[list[str], str | None]] = []
        self.gpu_answers = list(gpus_per_poll)
        self.kind_version = f"kind {KIND_VERSION} go1.25.5 linux/amd64"
        self.docker_ok = True

    def __call__(self, argv, *, input=None, check=True, timeout=None):
        argv = list(argv)
        self.calls.append((argv, input))
        out, code = "", 0
        if argv[:2] == ["docker", "info"]:
            code = 0 if self.docker_ok else 1
        elif argv[:2] == ["kind", "version"]:
            out = self.kind_version + "\n"
        elif "jsonpath" in " ".join(argv):
            out = self.gpu_answers.pop(0) if len(self.gpu_answers) > 1 else self.gpu_answers[0]
        return subprocess.CompletedProcess(argv, code, out, "")

    def commands(self) -> list[str]:
        return [" ".join(argv) for argv, _ in self.calls]


@pytest.fixture
def backend(tmp_path):
    runner = FakeRunner()
    kind = KindBackend(workdir=tmp_path, runner=runner, kubectl="kubectl", sleep=lambda s: None)
    return kind, runner


def test_node_image_is_a_pinned_v1_34_digest():
    name, digest = KIND_NODE_IMAGE.split("@")
    assert name.startswith("kindest/node:v1.34.")
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64


def test_kind_config_structure():
    config = render_kind_config("leviathan-e2e")
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["nodes"] == [{"role": "control-plane", "image": KIND_NODE_IMAGE}]
    assert config["containerdConfigPatches"] == [NVIDIA_RUNTIME_PATCH]
    # survives a YAML round trip (what kind reads)
    assert yaml.safe_load(yaml.safe_dump(config)) == config


def test_containerd_patch_adds_nvidia_handler_as_plain_runc():
    patch = tomllib.loads(NVIDIA_RUNTIME_PATCH)
    runtimes = patch["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
    assert list(runtimes) == ["nvidia"]
    assert runtimes["nvidia"]["runtime_type"] == "io.containerd.runc.v2"
    assert "BinaryName" not in runtimes["nvidia"].get("options", {})  # no nvidia-container-runtime


def test_runtime_class_uses_the_nvidia_handler():
    assert runtime_class_manifest() == {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                                        "metadata": {"name": "nvidia"}, "handler": "nvidia"}


def test_up_runs_kind_create_runtimeclass_and_fake_gpu_plugin_in_order(backend, tmp_path):
    kind, runner = backend
    kind.up()
    cmds = runner.commands()
    kubeconfig = f"--kubeconfig={tmp_path / 'kubeconfig'}"
    expected_in_order = [
        "docker info --format {{.ServerVersion}}",
        "kind version",
        f"kind create cluster --name leviathan-e2e --config {tmp_path / 'kind-config.yaml'} "
        f"--kubeconfig {tmp_path / 'kubeconfig'} --wait 180s",
        f"kubectl {kubeconfig} apply -f -",
        "docker build -f",
        f"kind load docker-image {kind.plugin_image} --name leviathan-e2e",
        f"kubectl {kubeconfig} apply -f -",
        f"kubectl {kubeconfig} -n kube-system rollout status daemonset/leviathan-fake-gpu-plugin --timeout=300s",
        f"kubectl {kubeconfig} get nodes -o jsonpath=",
    ]
    position = 0
    for want in expected_in_order:
        position = next(i for i in range(position, len(cmds)) if cmds[i].startswith(want)) + 1
    assert yaml.safe_load((tmp_path / "kind-config.yaml").read_text()) == render_kind_config("leviathan-e2e")
    stdin = [inp for argv, inp in runner.calls if inp]
    assert '"handler": "nvidia"' in stdin[0]
    daemonset = [d for d in yaml.safe_load_all(stdin[1]) if d["kind"] == "DaemonSet"][0]
    container = daemonset["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == kind.plugin_image
    assert container["args"][:4] == ["--count", "4", "--product", "NVIDIA-RTX-PRO-6000"]
    build = next(argv for argv, _ in runner.calls if argv[:2] == ["docker", "build"])
    assert build[3] == str(REPO / "images" / "fake-gpu-plugin" / "Dockerfile")
    assert build[-1] == str(REPO)  # build context: the repository root


def test_up_waits_until_every_node_advertises_the_gpus(tmp_path):
    runner = FakeRunner(gpus_per_poll=("", "0", "4"))
    KindBackend(workdir=tmp_path, runner=runner, kubectl="kubectl", sleep=lambda s: None).up()
    assert sum("jsonpath" in c for c in runner.commands()) == 3


def test_up_gives_up_if_gpus_never_appear(tmp_path):
    runner = FakeRunner(gpus_per_poll=("0",))
    backend = KindBackend(workdir=tmp_path, runner=runner, kubectl="kubectl", wait_seconds=0, sleep=lambda s: None)
    with pytest.raises(BackendError, match="never advertised 4 nvidia.com/gpu"):
        backend.up()


def test_preflight_refuses_without_docker_or_with_another_kind(tmp_path):
    runner = FakeRunner()
    runner.docker_ok = False
    with pytest.raises(BackendError, match="Docker"):
        KindBackend(workdir=tmp_path, runner=runner).up()
    runner = FakeRunner()
    runner.kind_version = "kind v0.26.0 go1.23 linux/amd64"
    with pytest.raises(BackendError, match=f"needs kind {KIND_VERSION}"):
        KindBackend(workdir=tmp_path, runner=runner).up()
    assert not any(c.startswith("kind create") for c in runner.commands())


def test_load_image_down_and_logs(backend, tmp_path):
    kind, runner = backend
    kind.load_image(tmp_path / "mock-engine-0.1.0.tar")
    kind.down()
    kind.collect_logs(tmp_path / "logs")
    assert runner.commands() == [
        f"kind load image-archive {tmp_path / 'mock-engine-0.1.0.tar'} --name leviathan-e2e",
        "kind delete cluster --name leviathan-e2e",
        f"kind export logs {tmp_path / 'logs' / 'kind-export'} --name leviathan-e2e",
    ]


def test_registry_of_backends_builds_kind(tmp_path):
    assert get_backend("kind", workdir=tmp_path, runner=FakeRunner()).name == "kind"


def test_down_stops_host_processes_a_killed_run_recorded(tmp_path):
    """kwok (fat-node tests) runs on the host next to a kind cluster too; down() from a fresh backend
    object (the run that started it is gone) stops it before deleting the cluster."""
    from leviathan_e2e.supervisor import alive

    first = KindBackend(workdir=tmp_path, runner=FakeRunner(), kubectl="kubectl", sleep=lambda s: None)
    first.supervisor.spawn("kwok", ["sleep", "60"])
    pid, start = first.supervisor.pids["kwok"]
    runner = FakeRunner()
    KindBackend(workdir=tmp_path, runner=runner, kubectl="kubectl", sleep=lambda s: None).down()
    first.supervisor._reap("kwok")
    assert not alive(pid, start)
    assert runner.commands()[-1].startswith("kind delete cluster")
