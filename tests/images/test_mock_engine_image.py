"""The mock-engine image used by e2e really builds here without Docker or any
registry (issue 4): go build + Debian busybox-static + a Python-written
docker-archive. Checks the archive's structure, the multi-call symlinks, the
non-root user, busybox wget for the `helm test` hook, and byte-reproducibility.
With a containerd on this host, it is also imported and run for real.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from leviathan.versions import image

from .image_scripts import load_image_script, read_image_archive

REPO = Path(__file__).resolve().parents[2]
MOCK_DIR = REPO / "images" / "mock-engine"
VERSIONS = REPO / "images" / "versions.yaml"
ENGINE_NAMES = ("ktransformers", "vllm", "llama-server", "python3", "python")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return load_image_script("mock-engine/build.py").build_image(tmp_path_factory.mktemp("mock-image"))


@pytest.fixture(scope="module")
def unpacked(archive):
    image = read_image_archive(archive.path)
    return (image.manifest, image.config, image.layer_bytes, {m.name: m for m in image.layer.getmembers()},
            image.layer)


def test_go_module_needs_nothing_but_the_stdlib():
    assert "require" not in (MOCK_DIR / "go.mod").read_text()


def test_manifest_and_config(archive, unpacked):
    manifest, config, layer_bytes, _, _ = unpacked
    # The pin, read straight from images/versions.yaml (not through the code under test): the archive
    # is tagged with exactly that immutable version, never `latest`.
    pin = yaml.safe_load(VERSIONS.read_text())["images"]["mock-engine"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(pin["tag"])), pin["tag"]
    ref = f"{pin['repository']}:{pin['tag']}"
    assert image("mock-engine").ref == ref
    assert manifest[0]["RepoTags"] == [ref] and archive.ref == ref
    assert len(manifest[0]["Layers"]) == 1
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()]
    assert config["os"] == "linux" and config["architecture"] == "amd64"
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/mock-engine"]
    assert config["config"]["User"] == "65532:65532"
    assert "HOME=/tmp" in config["config"]["Env"]


def test_layer_has_the_multi_call_binary_and_engine_symlinks(unpacked):
    _, _, _, entries, layer = unpacked
    binary = entries["usr/local/bin/mock-engine"]
    assert binary.isfile() and binary.mode & 0o111
    data = layer.extractfile(binary).read()
    assert data[:4] == b"\x7fELF"
    assert b"/lib64/ld-linux" not in data  # static: no dynamic loader requested
    for name in ENGINE_NAMES:
        link = entries[f"usr/local/bin/{name}"]
        assert link.issym() and link.linkname == "mock-engine", name
    passwd = layer.extractfile(entries["etc/passwd"]).read().decode()
    assert "nonroot:x:65532:65532:" in passwd


def test_layer_has_debians_real_numactl_and_what_it_loads(unpacked, tmp_path):
    """Not the mock: Debian's dynamically linked numactl, libnuma and the glibc loader + libc. Run
    from the extracted layer with its own loader and libraries, it answers like numactl."""
    _, config, _, entries, layer = unpacked
    assert "usr/local/bin/numactl" not in entries
    numactl = entries["usr/bin/numactl"]
    assert numactl.isfile() and numactl.mode & 0o111
    assert b"/lib64/ld-linux-x86-64.so.2" in layer.extractfile(numactl).read()  # dynamic
    root = tmp_path / "root"
    for name in ("usr/bin/numactl", "usr/lib/x86_64-linux-gnu/libnuma.so.1",
                 "lib/x86_64-linux-gnu/libc.so.6", "lib64/ld-linux-x86-64.so.2"):
        assert name in entries, name
    layer.extractall(root, members=[m for m in layer.getmembers()
                                    if m.name.startswith(("usr/bin/numactl", "usr/lib/", "lib/", "lib64/"))],
                     filter="tar")
    loader = root / "lib" / "x86_64-linux-gnu" / "ld-linux-x86-64.so.2"
    libs = f"{root}/usr/lib/x86_64-linux-gnu:{root}/lib/x86_64-linux-gnu"
    shown = subprocess.run([str(loader), "--library-path", libs, str(root / "usr/bin/numactl"), "--show"],
                           capture_output=True, text=True)
    assert shown.returncode == 0 and "policy:" in shown.stdout, shown.stderr
    labels = config["config"]["Labels"]
    assert {"io.leviathan.numactl.debian-version", "io.leviathan.libnuma1.debian-version",
            "io.leviathan.libc6.debian-version"} <= set(labels)


def test_layer_has_busybox_sh_and_wget_for_the_helm_test_hook(unpacked, tmp_path):
    _, _, _, entries, layer = unpacked
    for applet in ("bin/sh", "usr/bin/wget"):
        assert entries[applet].issym() and entries[applet].linkname == "/bin/busybox", applet
    busybox = tmp_path / "busybox"
    busybox.write_bytes(layer.extractfile(entries["bin/busybox"]).read())
    busybox.chmod(0o755)
    help_text = subprocess.run([str(busybox), "wget", "--help"], capture_output=True, text=True).stderr
    assert "--header" in help_text and "--post-data" in help_text


def test_layer_is_sorted_with_fixed_mtimes(unpacked):
    _, _, _, entries, layer = unpacked
    names = [m.name for m in layer.getmembers()]
    assert names == sorted(names)
    assert {m.mtime for m in entries.values()} == {1}


def test_build_is_reproducible(archive, tmp_path):
    again = load_image_script("mock-engine/build.py").build_image(tmp_path)
    assert again.image_id == archive.image_id
    assert again.path.read_bytes() == archive.path.read_bytes()


def _have_containerd() -> bool:
    return os.geteuid() == 0 and all(shutil.which(b) for b in ("containerd", "ctr", "runc"))


@pytest.mark.skipif(not _have_containerd(), reason="needs root, containerd, ctr and runc on this host")
def test_containerd_imports_and_runs_it(archive, tmp_path):
    """A private containerd (own root/state/socket, CRI off) imports the archive and
    runs the helm-test style `sh -c 'wget --header --post-data'` against llama-server."""
    base = Path(f"/tmp/lvt-ctr-{os.getpid()}")  # short path: unix socket names are limited
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    sock = base / "sock"
    (base / "config.toml").write_text(
        f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
        f'[grpc]\n  address = "{sock}"\n[plugins."io.containerd.grpc.v1.cri"]\n  disable = true\n')
    log = open(tmp_path / "containerd.log", "w")
    daemon = subprocess.Popen(["containerd", "--config", str(base / "config.toml")], stdout=log, stderr=log)
    ctr = ["ctr", "--address", str(sock), "-n", "leviathan-test"]
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        subprocess.run([*ctr, "images", "import", str(archive.path)], check=True, capture_output=True, timeout=60)
        script = (
            "(llama-server --host 127.0.0.1 --port 18591 -m /m --alias kimi >/tmp/log 2>&1 &); "
            "i=0; until wget -qO- http://127.0.0.1:18591/health >/dev/null 2>&1; do i=$((i+1)); "
            "[ $i -gt 50 ] && exit 9; sleep 0.1; done; "
            "numactl --interleave=all sh -c 'echo numactl-ran' || exit 8; "
            "wget -qO- --header 'Content-Type: application/json' "
            "--post-data '{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}' "
            "http://127.0.0.1:18591/v1/chat/completions; echo; id -u")
        run = subprocess.run(
            [*ctr, "run", "--rm", "--net-host", "--env", "MOCK_LOAD_SECONDS=0.2", "--env", "MOCK_WARMUP_SECONDS=0",
             f"docker.io/{archive.ref}", f"t{os.getpid()}", "sh", "-c", script],
            capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        ran, reply, uid = [line for line in run.stdout.splitlines() if line.strip()]
        assert ran == "numactl-ran"
        assert json.loads(reply)["choices"][0]["message"]["content"].endswith("You said: hi")
        assert uid == "65532"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        log.close()
        shutil.rmtree(base, ignore_errors=True)
