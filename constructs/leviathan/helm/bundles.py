"""Who runs `helm template` for the bundles (`rendered/<chart>/<profile>.yaml`).

Two renderers of the same Helm code, with the same output:

* **helm-batch** (`renderer/main.go`): the official Helm CLI, `helm.sh/helm/v4/pkg/cmd` at the
  version of the pinned `helm` binary, executed once per bundle inside one long-lived process. It is
  built from the Go module proxy with the official binary's Go version and ldflags (its `version`
  equals `helm version`; tests/charts/test_bundles.py checks that, and that both render every
  bundle and error byte for byte alike), and cached in ~/.cache/leviathan/helm-batch, keyed by its
  sources. One process instead of one per bundle: each `helm` process spends about 50 ms of CPU
  starting up (Go runtime, Kubernetes type registration, the CLI tree) before a 15 ms render.
* **the official `helm` binary**, one process per bundle, when helm-batch is not built (no Go on
  the machine: `make setup` builds it when Go is there).

    python -m leviathan.helm.bundles build    # what `make setup` runs
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import tools

SOURCE = Path(__file__).resolve().parent / "renderer"
CACHE = tools.CACHE / "helm-batch"
# What the official helm 4.1.4 binary was built with (its `helm version`): the same Go, so the same
# text/template, and the same version stamps (.Capabilities.HelmVersion).
GO_TOOLCHAIN = "go1.25.9"
HELM_COMMIT = "05fa37973dc9e42b76e1d2883494c87174b6074f"


@dataclass(frozen=True)
class Result:
    stdout: str
    stderr: str
    exit: int


def helm_version() -> str:
    """The helm module version go.mod pins (the version of the pinned helm binary; a test checks)."""
    return re.search(r"^\s*helm\.sh/helm/v4 (v\S+)", (SOURCE / "go.mod").read_text(), re.MULTILINE)[1]


def ldflags() -> str:
    stamp = "helm.sh/helm/v4/internal/version"
    return (f"-w -s -X {stamp}.version={helm_version()} -X {stamp}.metadata= "
            f"-X {stamp}.gitCommit={HELM_COMMIT} -X {stamp}.gitTreeState=clean")


def binary() -> Path:
    """Where helm-batch is cached: keyed by its sources, toolchain and flags."""
    digest = hashlib.sha256(f"{GO_TOOLCHAIN}\n{ldflags()}\n".encode())
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((SOURCE / name).read_bytes())
    return CACHE / digest.hexdigest()[:16] / "helm-batch"


def build(go: str = "go", log=print) -> Path:
    """Build helm-batch into the cache (GOTOOLCHAIN fetches the pinned Go from the module proxy)."""
    target = binary()
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log(f">> helm-batch: building {target} (helm {helm_version()}, {GO_TOOLCHAIN}; a few minutes, once)")
    env = {**os.environ, "GOTOOLCHAIN": GO_TOOLCHAIN, "CGO_ENABLED": "0", "GOFLAGS": "-modcacherw",
           "GOMODCACHE": str(CACHE.parent / "gomod"), "GOCACHE": str(CACHE / "gocache")}
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run([go, "build", "-trimpath", "-ldflags", ldflags(), "-o", f"{tmp}/helm-batch", "."],
                       cwd=SOURCE, env=env, check=True)
        os.replace(f"{tmp}/helm-batch", target)  # never a half-written binary at the cached path
    return target


class HelmBatch:
    """One helm-batch process; `submit` queues a command, answers come back in order."""

    name = "helm-batch (one process)"
    # All bundles allocate a few hundred MiB in all: GOGC=400 keeps collections rare without the page
    # faults of GOGC=off (9 bundles: about 0.15 s CPU and 80 MiB, against 0.2 s and 130 MiB).
    env = {"GOGC": "400"}

    def __init__(self, path: Path):
        # stderr: Helm's own warnings (slog) go to a file, shown if a render fails.
        self._stderr = tempfile.TemporaryFile("w+")
        self._process = subprocess.Popen([str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._stderr, text=True, env={**os.environ, **self.env})
        self._pending: list[Future[Result]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def submit(self, args: list[str]) -> Future[Result]:
        future: Future[Result] = Future()
        with self._lock:
            self._pending.append(future)
            self._process.stdin.write(json.dumps({"args": args}) + "\n")
            self._process.stdin.flush()
        return future

    def _read(self) -> None:
        for line in self._process.stdout:
            with self._lock:
                future = self._pending.pop(0)
            future.set_result(Result(**json.loads(line)))
        self._process.wait()
        self._stderr.seek(0)
        error = RuntimeError(f"helm-batch exited ({self._process.returncode}): {self._stderr.read()}")
        with self._lock:
            for future in self._pending:
                future.set_exception(error)
            self._pending.clear()

    def close(self) -> None:
        self._process.stdin.close()
        self._reader.join()
        self._stderr.close()


class HelmProcesses:
    """The official binary, one process per command, a few at a time."""

    name = "helm binary (one process per bundle)"
    # A short-lived process allocates little (78 MiB peak instead of 72): without the garbage collector
    # it spends about a third less CPU. Same output.
    env = {"GOGC": "off"}

    def __init__(self, path: str):
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=4)

    def _run(self, args: list[str]) -> Result:
        result = subprocess.run([self._path, *args], capture_output=True, text=True, env={**os.environ, **self.env})
        return Result(result.stdout, result.stderr, result.returncode)

    def submit(self, args: list[str]) -> Future[Result]:
        return self._pool.submit(self._run, args)

    def close(self) -> None:
        self._pool.shutdown()


def renderer() -> HelmBatch | HelmProcesses:
    """helm-batch when it is built for these sources, else the helm binary. LEVIATHAN_HELM (a helm
    binary to use) or LEVIATHAN_HELM_BATCH=0 forces the binary."""
    path = binary()
    if path.exists() and not os.environ.get("LEVIATHAN_HELM") and os.environ.get("LEVIATHAN_HELM_BATCH") != "0":
        return HelmBatch(path)
    try:
        return HelmProcesses(tools.helm_binary())
    except tools.ToolNotFound as error:
        raise SystemExit(str(error)) from error


if __name__ == "__main__":
    if sys.argv[1:] != ["build"]:
        raise SystemExit("usage: python -m leviathan.helm.bundles build")
    build()
