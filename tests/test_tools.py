"""leviathan.tools: one cache root and one helm locator for synth, releases, tests and e2e."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from leviathan import tools


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_pinned_helm_comes_before_the_one_on_path(tmp_path, monkeypatch):
    pinned = executable(tmp_path / "repo" / ".venv" / "bin" / "helm")
    other = executable(tmp_path / "elsewhere" / "helm")
    monkeypatch.setattr(tools, "ROOT", tmp_path / "repo")
    monkeypatch.setenv("PATH", str(other.parent))
    monkeypatch.delenv("LEVIATHAN_HELM", raising=False)
    assert tools.helm_binary() == str(pinned)
    monkeypatch.setenv("LEVIATHAN_HELM", str(other))
    assert tools.helm_binary() == str(other)


def test_helm_on_path_is_the_fallback_and_none_is_a_clear_error(tmp_path, monkeypatch):
    other = executable(tmp_path / "elsewhere" / "helm")
    monkeypatch.setattr(tools, "ROOT", tmp_path / "repo")
    monkeypatch.delenv("LEVIATHAN_HELM", raising=False)
    monkeypatch.setenv("PATH", str(other.parent))
    assert tools.helm_binary() == str(other)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(tools.ToolNotFound, match="make setup"):
        tools.helm_binary()


def test_leviathan_cache_moves_every_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LEVIATHAN_CACHE", str(tmp_path))
    monkeypatch.delenv("LEVIATHAN_K8S_CACHE", raising=False)
    monkeypatch.delenv("LEVIATHAN_KUBE_ROUTER_CACHE", raising=False)
    try:
        importlib.reload(tools)
        from leviathan_e2e import versions
        assert versions.cache_dir() == tmp_path / "k8s"
        assert versions.kube_router_binary().parent == tmp_path / "kube-router"
    finally:
        monkeypatch.undo()
        importlib.reload(tools)
