"""The fake-gpu-plugin image assembled offline (images/fake-gpu-plugin/build.py, the kind backend's
DaemonSet image): its entrypoint really imports the plugin and its gRPC stack (Debian's python 3.11
in the image, the .venv's pinned wheels, the generated stubs) and answers --help."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _build_module():
    spec = importlib.util.spec_from_file_location("fake_gpu_plugin_build", REPO / "images" / "fake-gpu-plugin" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_requirements_follow_the_installed_metadata():
    build = _build_module()
    names = build.with_requirements(("grpcio",))
    assert names[0] == "grpcio" and "typing-extensions" in names  # grpc.aio imports typing_extensions


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    archive = _build_module().build_image(tmp_path_factory.mktemp("plugin-image"))
    with tarfile.open(archive.path) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        config = json.load(outer.extractfile(manifest["Config"]))["config"]
        root = tmp_path_factory.mktemp("rootfs")
        with tarfile.open(fileobj=outer.extractfile(manifest["Layers"][0])) as layer:
            layer.extractall(root)
    root.chmod(0o755)
    return archive, config, root


def test_image_carries_what_the_plugin_imports(image):
    archive, config, root = image
    assert archive.ref == "leviathan/fake-gpu-plugin:0.1.0"
    assert config["Entrypoint"][1:] == ["-m", "leviathan_e2e.deviceplugin"]
    for rel in ("app/leviathan_e2e/supervisor.py", "app/leviathan_e2e/deviceplugin/plugin.py",
                "usr/local/lib/python3.11/dist-packages/typing_extensions.py"):
        assert (root / rel).is_file(), rel
    assert list((root / "opt" / "leviathan-cache" / "deviceplugin-stubs").glob("*/*_pb2_grpc.py"))


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/sbin/chroot").exists(), reason="chroot needs root")
def test_entrypoint_imports_the_plugin_and_answers_help(image):
    _, config, root = image
    env = dict(e.split("=", 1) for e in config["Env"])
    probe = ("import grpc, yaml, leviathan_e2e.deviceplugin.plugin; "
             "from leviathan_e2e.deviceplugin import _stubs; print(_stubs.stub_dir())")
    result = subprocess.run(["/usr/sbin/chroot", str(root), config["Entrypoint"][0], "-c", probe], env=env,
                            capture_output=True, text=True, timeout=120, cwd="/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("/opt/leviathan-cache/deviceplugin-stubs/")
    helped = subprocess.run(["/usr/sbin/chroot", str(root), *config["Entrypoint"], "--help"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "--count" in helped.stdout, helped.stderr
