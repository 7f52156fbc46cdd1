"""scripts/images (make images) fails early and clearly, and only then runs buildx bake.

A fake `docker` on PATH stands in for the CLI: this machine has no Docker daemon, so the real
build is not exercised here. The fake records every call, so the tests can prove that nothing was
built when a precondition fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.images.dockerfile import REPO

SCRIPT = REPO / "scripts" / "images"


def _fake_docker(bin_dir: Path, *, daemon: bool, platforms: str = "linux/amd64, linux/arm64") -> Path:
    log = bin_dir / "docker.log"
    print_json = '{"target": {"vllm": {"platforms": ["linux/amd64", "linux/arm64"]}}}'
    (bin_dir / "docker").write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        echo "$* REGISTRY=${{REGISTRY:-}}" >> {log}
        case "$1 $2" in
          "info "*) {'exit 0' if daemon else 'echo "Cannot connect to the Docker daemon" >&2; exit 1'} ;;
          "buildx version") echo "github.com/docker/buildx v0.30.0"; exit 0 ;;
          "buildx inspect") printf 'Name: fake\\nPlatforms: {platforms}\\n'; exit 0 ;;
          "buildx bake")
            if [[ " $* " == *" --print "* ]]; then echo '{print_json}'; exit 0; fi
            for a in "$@"; do [[ "$prev" == --metadata-file ]] && echo '{{"vllm": {{"containerimage.digest": "sha256:feed"}}}}' > "$a"; prev=$a; done
            exit 0 ;;
        esac
        exit 0
        """))
    (bin_dir / "docker").chmod(0o755)
    return log


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "HOME": str(tmp_path), "PYTHON": sys.executable, **env}
    return subprocess.run([str(SCRIPT)], cwd=REPO, env=full, capture_output=True, text=True, timeout=60)


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_without_registry_it_stops_before_touching_docker(tmp_path):
    log = _fake_docker(tmp_path, daemon=True)
    result = _run(tmp_path, REGISTRY="")
    assert result.returncode != 0
    assert "set REGISTRY" in result.stderr and "192.168.3.10:5000" in result.stderr
    assert _calls(log) == []


def test_without_a_daemon_it_fails_early_and_builds_nothing(tmp_path):
    log = _fake_docker(tmp_path, daemon=False)
    result = _run(tmp_path, REGISTRY="registry.example:5000")
    assert result.returncode != 0
    assert "no Docker daemon answers" in result.stderr and "nothing was built" in result.stderr
    assert not [c for c in _calls(log) if c.startswith("buildx")]


def test_a_builder_without_arm64_is_refused_before_building(tmp_path):
    log = _fake_docker(tmp_path, daemon=True, platforms="linux/amd64")
    result = _run(tmp_path, REGISTRY="registry.example:5000", TARGETS="vllm")
    assert result.returncode != 0
    assert "cannot build linux/arm64" in result.stderr and "binfmt" in result.stderr
    assert not [c for c in _calls(log) if c.startswith("buildx bake") and "--print" not in c]


def test_happy_path_bakes_and_pushes_to_the_registry(tmp_path):
    log = _fake_docker(tmp_path, daemon=True)
    result = _run(tmp_path, REGISTRY="registry.example:5000", TARGETS="vllm")
    assert result.returncode == 0, result.stderr
    bakes = [c for c in _calls(log) if c.startswith("buildx bake") and "--print" not in c]
    assert len(bakes) == 1
    assert "-f images/docker-bake.hcl" in bakes[0] and "--push" in bakes[0]
    assert bakes[0].endswith("vllm REGISTRY=registry.example:5000")
    assert "vllm: sha256:feed" in result.stdout


def test_push_can_be_turned_off(tmp_path):
    log = _fake_docker(tmp_path, daemon=True)
    result = _run(tmp_path, REGISTRY="registry.example:5000", TARGETS="vllm", PUSH="0")
    assert result.returncode == 0, result.stderr
    bakes = [c for c in _calls(log) if c.startswith("buildx bake") and "--print" not in c]
    assert bakes and "--push" not in bakes[0]
