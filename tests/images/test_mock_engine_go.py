"""The mock engine's own Go tests (flag parsing, lifecycle, OpenAI answers) run in the fast tier.

They used to run only when someone typed `go test` by hand, so a broken mock engine surfaced as a
confusing e2e failure. Stdlib only: no module download, just the Go toolchain.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from leviathan import tools

MOCK_DIR = Path(__file__).resolve().parents[2] / "images" / "mock-engine"
CACHE = tools.CACHE
GO = os.environ.get("LEVIATHAN_GO", shutil.which("go") or "/usr/local/go/bin/go")


def test_mock_engine_go_tests_pass():
    if not Path(GO).exists():
        pytest.fail("go not found: the fast tier runs the mock engine's Go tests (install Go, see README)")
    # The same build cache as images/mock-engine/build.py, so the test compile is shared and warm.
    env = {**os.environ, "GOCACHE": str(CACHE / "go-build"), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    result = subprocess.run([GO, "test", "-count=1", "./..."], cwd=MOCK_DIR, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok  \tleviathan/mock-engine" in result.stdout, result.stdout
