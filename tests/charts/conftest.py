"""Fixtures for chart tests: the official helm binaries and a fresh synth in a temp dir."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from leviathan.synth import ROOT, synth
from leviathan.variants import REGISTRY


CHART_NAMES = [variant.name for variant in REGISTRY]
E2E_VALUES = ROOT / "e2e" / "values"


def tool(name: str) -> str:
    path = shutil.which(name) or str(ROOT / ".venv" / "bin" / name)
    if not Path(path).exists():
        pytest.fail(f"{name} not found: run `make setup`")
    return path


@dataclass
class Helm:
    binary: str

    def run(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        result = subprocess.run([self.binary, *args], capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
        return result

    def template(self, chart_dir: Path, release: str = "t", values: list[Path] = (), sets: list[str] = (),
                 check: bool = True) -> subprocess.CompletedProcess:
        args = ["template", release, str(chart_dir)]
        for path in values:
            args += ["-f", str(path)]
        for item in sets:
            args += ["--set", item]
        return self.run(*args, check=check)


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(tool("helm"))


@pytest.fixture(scope="session")
def helm3() -> Helm:
    helm3 = Helm(tool("helm3"))
    assert "v3." in helm3.run("version", "--short", check=True).stdout
    return helm3


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A fresh synth of every chart and bundle, written to a temp dir (the repo is not touched)."""
    root = tmp_path_factory.mktemp("synth")
    synth(root, log=lambda *_: None)
    return root


@pytest.fixture(scope="session")
def charts_dir(synth_root) -> Path:
    return synth_root / "charts"


def profiles(chart: str) -> list[Path]:
    return sorted((ROOT / "charts" / chart / "profiles").glob("*.yaml"))


def docs(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(manifests: list[dict], kind: str, suffix: str = "") -> dict:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"].endswith(suffix)]
    assert len(matches) == 1, f"expected one {kind} *{suffix}, got {[m['metadata']['name'] for m in matches]}"
    return matches[0]


def engine_container(manifests: list[dict]) -> dict:
    deployment = find(manifests, "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]
