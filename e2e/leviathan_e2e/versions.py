"""Pinned versions of the e2e cluster binaries, read from ``e2e/versions.env``.

``scripts/build-k8s`` sources the same file, so the pin lives in one place.
"""

from __future__ import annotations

import os
from pathlib import Path

from leviathan import tools

VERSIONS_ENV = Path(__file__).resolve().parent.parent / "versions.env"


def read_versions(path: Path = VERSIONS_ENV) -> dict[str, str]:
    """Parse a shell-sourceable KEY=VALUE file (comments and blank lines ignored)."""
    out: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"{path}: bad line {raw!r}")
        out[key] = value.strip().strip('"').strip("'")
    return out


def cache_dir() -> Path:
    """Root of the binary/Go caches (``$LEVIATHAN_K8S_CACHE`` or ``$LEVIATHAN_CACHE/k8s``)."""
    env = os.environ.get("LEVIATHAN_K8S_CACHE")
    return Path(env) if env else tools.CACHE / "k8s"


def bin_dir(versions: dict[str, str] | None = None) -> Path:
    """Directory holding the pinned binaries; must match ``scripts/build-k8s --print-dir``."""
    v = versions or read_versions()
    return (
        cache_dir()
        / "bin"
        / f"v{v['K8S_VERSION']}-etcd{v['ETCD_VERSION']}-coredns{v['COREDNS_VERSION']}"
    )


def kube_router_binary(versions: dict[str, str] | None = None) -> Path:
    """The pinned kube-router; must match ``scripts/build-kube-router --print-path``."""
    v = versions or read_versions()
    env = os.environ.get("LEVIATHAN_KUBE_ROUTER_CACHE")
    root = Path(env) if env else tools.CACHE / "kube-router"
    return root / f"kube-router-v{v['KUBE_ROUTER_VERSION']}"
