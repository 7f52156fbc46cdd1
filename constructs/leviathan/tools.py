"""Where leviathan keeps its caches and finds its pinned tools: one place, so that synth, the release
commands, the tests and the e2e harness agree.

    LEVIATHAN_CACHE   cache root (default ~/.cache/leviathan): wheels, Go builds, Debian packages
    LEVIATHAN_HELM    the helm binary to run (default: the pinned official binary in .venv/bin)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("LEVIATHAN_CACHE") or Path.home() / ".cache" / "leviathan")


class ToolNotFound(RuntimeError):
    pass


def helm_binary() -> str:
    """LEVIATHAN_HELM, else the pinned helm 4 that `make setup` installs into .venv/bin, else `helm`
    on PATH. The pinned binary comes before PATH: bundles and packages must not depend on whichever
    helm a user happens to have installed."""
    pinned = ROOT / ".venv" / "bin" / "helm"
    found = os.environ.get("LEVIATHAN_HELM") or (pinned.exists() and str(pinned)) or shutil.which("helm")
    if not found:
        raise ToolNotFound("helm not found: run `make setup` (installs the pinned official binary into .venv/bin)")
    return found
