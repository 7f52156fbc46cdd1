"""The kind backend's private Docker engine: its command line keeps every path of its own, and (where
Debian's dockerd is installed) it really runs a container and leaves nothing behind, even when its
dockerd was SIGKILLed."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from leviathan_e2e.backends.local.host import mountpoints
from leviathan_e2e.images import BUSYBOX_STATIC, busybox_image
from leviathan_e2e.docker_engine import DockerEngine, cgroup_parent, dockerd_argv


def test_dockerd_argv_uses_only_paths_under_its_root(tmp_path):
    argv = dockerd_argv(tmp_path)
    paths = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in argv[1:] if "=" in a}
    assert paths["--host"] == f"unix://{tmp_path}/docker.sock"
    for flag in ("--data-root", "--exec-root", "--pidfile"):
        assert paths[flag].startswith(f"{tmp_path}/"), flag
    assert not any("/var/run/docker.sock" in a or "/var/lib/docker" in a for a in argv)
    assert paths["--cgroup-parent"] == f"/{cgroup_parent(tmp_path)}"
    # one cgroup tree per engine: stop() kills what is in it, so engines must not share one
    assert cgroup_parent(tmp_path) != cgroup_parent(tmp_path / "other")
    assert paths["--containerd-namespace"] != "moby"


def test_engine_env_points_docker_at_its_own_socket(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONTEXT", "somewhere-else")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    env = DockerEngine(tmp_path / "engine").env
    assert env["DOCKER_HOST"] == f"unix://{tmp_path}/engine/docker.sock"
    assert "DOCKER_CONTEXT" not in env and "HTTPS_PROXY" not in env


def test_the_containerd_socket_path_fits_a_unix_socket():
    engine = DockerEngine()
    assert len(str(engine.containerd_socket)) < 100


@pytest.mark.skipif(shutil.which("dockerd") is None or os.geteuid() != 0 or not BUSYBOX_STATIC.exists(),
                    reason="needs root and Debian's docker.io (scripts/setup-e2e-host --kind)")
def test_engine_runs_a_container_and_a_killed_engine_leaves_nothing(tmp_path):
    root = Path(f"/tmp/leviathan-docker-test-{os.getpid()}")  # short: sockets live under it
    engine = DockerEngine(root)
    try:
        engine.start()
        archive = busybox_image("leviathan/busybox:test", tmp_path / "busybox.tar")
        engine.docker("load", "-i", str(archive.path))
        out = engine.docker("run", "--rm", "leviathan/busybox:test", "cat", "/proc/self/cgroup").stdout
        # privileged: every capability Docker knows, less what this host withholds (docker_runc)
        engine.docker("run", "--rm", "--privileged", "leviathan/busybox:test", "true")
        assert f"/{cgroup_parent(root)}/" in out
        engine.docker("run", "-d", "--name", "sleeper", "leviathan/busybox:test", "sleep", "600")
        assert engine.leftovers(), "a running engine has processes, mounts and a root"
        # a killed run: dockerd dies without stopping its container
        os.kill(engine.supervisor.pids["dockerd"][0], signal.SIGKILL)
    finally:
        DockerEngine(root).stop()  # a fresh object: only the records on disk
    assert DockerEngine(root).leftovers() == []
    assert not [m for m in mountpoints() if m.startswith(f"{root}/")]


def test_runc_wrapper_drops_capabilities_the_host_withholds():
    from leviathan_e2e.docker_runc import bounding_set, bundle_of, restrict_spec

    status = "Name:\tx\nCapBnd:\t000001fffeffffff\n"  # this sandbox: all but bit 24
    allowed = bounding_set(status)
    assert "CAP_SYS_RESOURCE" not in allowed and {"CAP_SYS_ADMIN", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"} <= allowed
    spec = {"process": {"oomScoreAdj": -999, "capabilities": {
        "bounding": ["CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"], "effective": ["CAP_SYS_RESOURCE"]}}}
    out = restrict_spec(spec, allowed)["process"]
    assert out["capabilities"] == {"bounding": ["CAP_SYS_ADMIN"], "effective": []}
    assert out["oomScoreAdj"] == 0
    # with the capability, nothing changes
    full = bounding_set("CapBnd:\t000001ffffffffff\n")
    kept = restrict_spec({"process": {"oomScoreAdj": -999, "capabilities": {"bounding": ["CAP_SYS_RESOURCE"]}}}, full)
    assert kept["process"] == {"oomScoreAdj": -999, "capabilities": {"bounding": ["CAP_SYS_RESOURCE"]}}
    assert bundle_of(["--root", "/r", "create", "--bundle", "/b", "id"]) == Path("/b")
    assert bundle_of(["--root", "/r", "start", "id"]) is None


def test_dockerd_runs_containers_through_the_wrapper(tmp_path):
    argv = dockerd_argv(tmp_path)
    assert f"--add-runtime=leviathan-runc={tmp_path}/leviathan-runc" in argv
    assert "--default-runtime=leviathan-runc" in argv


def test_runc_wrapper_finds_the_exec_process_file():
    from leviathan_e2e.docker_runc import exec_process_of, restrict_process

    argv = ["--root", "/r", "exec", "--process", "/tmp/runc-process1", "--detach", "id"]
    assert exec_process_of(argv) == Path("/tmp/runc-process1")
    assert exec_process_of(["exec", "--process=/p", "id"]) == Path("/p")
    assert exec_process_of(["create", "--bundle", "/b", "id"]) is None
    assert restrict_process({"capabilities": {"bounding": ["CAP_SYS_RESOURCE", "CAP_KILL"]}},
                            {"CAP_KILL"}) == {"capabilities": {"bounding": ["CAP_KILL"]}}
