"""The small contract every e2e cluster backend implements.

A backend owns one cluster for the whole pytest session::

    backend.up()                      # create / start (or just verify, for "existing")
    backend.kubeconfig                # Path to an admin kubeconfig
    backend.load_image(tarball)       # make a docker-archive/OCI tarball available to pods
    backend.collect_logs(dest)        # on failure: component logs + describe of bad pods
    backend.down()                    # stop and clean up; idempotent

Everything else (helm, kubectl, device plugin) talks to the cluster through the
kubeconfig only, so tests are backend-neutral.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

from ..supervisor import cluster_env

__all__ = ["ClusterBackend", "Kubectl", "kubectl_binary", "BackendError"]


class BackendError(RuntimeError):
    """A backend could not do what was asked; the message says why and where the logs are."""


def kubectl_binary() -> str:
    """The kubectl to use: ``$LEVIATHAN_KUBECTL``, else ``<venv>/bin/kubectl`` (the pinned
    1.34 that ``make setup`` installs next to the running interpreter), else ``kubectl`` on
    PATH (/usr/bin/kubectl is 1.32 here: fine for everything the harness does)."""
    env = os.environ.get("LEVIATHAN_KUBECTL")
    if env:
        return env
    # the pinned kubectl that `make setup` puts next to this interpreter (.venv/bin)
    venv = Path(sys.prefix) / "bin" / "kubectl"
    if venv.is_file() and os.access(venv, os.X_OK):
        return str(venv)
    found = shutil.which("kubectl")
    if not found:
        raise BackendError("kubectl not found: set LEVIATHAN_KUBECTL or put kubectl on PATH")
    return found


class Kubectl:
    """``kubectl`` bound to one kubeconfig: ``kubectl("get", "pods", "-n", ns)``.

    Returns the CompletedProcess (text mode). ``check=True`` raises
    ``subprocess.CalledProcessError`` with stderr attached to the message.
    """

    def __init__(self, kubeconfig: Path, binary: str | None = None):
        self.kubeconfig = Path(kubeconfig)
        self.binary = binary or kubectl_binary()

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float | None = 120,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, f"--kubeconfig={self.kubeconfig}", *args]
        # Cluster traffic never goes through a proxy (nor could reach one here). `kubectl logs` of an
        # engine may carry bytes that are not UTF-8 (token pieces): replace them rather than crash.
        proc = subprocess.run(
            cmd, input=input, capture_output=True, text=True, errors="replace", timeout=timeout, check=False,
            env=cluster_env(),
        )
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(
                proc.returncode, cmd, output=proc.stdout, stderr=proc.stderr
            )
        return proc

    def apply(self, manifest: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """``kubectl apply -f -`` with *manifest* (YAML/JSON text) on stdin."""
        return self("apply", "-f", "-", *extra, input=manifest)

    def raw(self, path: str, timeout: float | None = 60) -> str:
        """``kubectl get --raw PATH`` (e.g. an apiserver service-proxy URL)."""
        return self("get", "--raw", path, timeout=timeout).stdout


class ClusterBackend(ABC):
    """Base class of all cluster backends (local, kind, existing)."""

    #: short backend name: "local", "kind", "existing"
    name: str = "base"
    #: False for backends whose pods never really run (e.g. a kwok backend)
    runs_containers: bool = True

    @property
    @abstractmethod
    def kubeconfig(self) -> Path:
        """Admin kubeconfig of the cluster (valid after :meth:`up`)."""

    @property
    def logs_dir(self) -> Path | None:
        """Where the backend's own component logs live, if it has any."""
        return None

    @property
    def kubelet_root(self) -> Path | None:
        """kubelet ``--root-dir`` on this host, if the kubelet runs on this host.

        A host-side device plugin serves on ``<kubelet_root>/device-plugins/``.
        """
        return None

    @abstractmethod
    def up(self) -> None:
        """Create/start the cluster and wait until it can run pods."""

    @abstractmethod
    def down(self) -> None:
        """Stop and remove everything :meth:`up` created. Idempotent; safe after a failed up."""

    @abstractmethod
    def load_image(self, archive: Path) -> None:
        """Import a docker-archive or OCI image tarball so pods can use it without a registry."""

    def collect_logs(self, dest: Path) -> Path:
        """Copy component logs and diagnostics into *dest*; returns *dest*.

        The default writes cluster-level diagnostics via kubectl (works on any backend).
        """
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        write_cluster_diagnostics(self.kubectl(), dest)
        return dest

    # ---------------------------------------------------------------- helpers
    def kubectl(self) -> Kubectl:
        return Kubectl(self.kubeconfig)

    def service_proxy_get(self, namespace: str, service: str, port: int | str, path: str,
                          scheme: str = "http") -> str:
        """GET *path* on a Service through the apiserver service proxy (no port-forward)."""
        path = path if path.startswith("/") else "/" + path
        url = f"/api/v1/namespaces/{namespace}/services/{scheme}:{service}:{port}/proxy{path}"
        return self.kubectl().raw(url)

    def __enter__(self) -> "ClusterBackend":
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.down()


def _run_to_file(kubectl: Kubectl, args: Sequence[str], out: Path) -> None:
    try:
        proc = kubectl(*args, check=False, timeout=60)
        out.write_text(proc.stdout + (("\n--- stderr ---\n" + proc.stderr) if proc.stderr else ""))
    except Exception as exc:  # diagnostics must never raise
        out.write_text(f"failed: {exc!r}\n")


def write_cluster_diagnostics(kubectl: Kubectl, dest: Path) -> None:
    """kubectl-level diagnostics: nodes, all objects, events, describe of non-ready pods."""
    dest.mkdir(parents=True, exist_ok=True)
    _run_to_file(kubectl, ["get", "nodes", "-o", "wide"], dest / "nodes.txt")
    _run_to_file(kubectl, ["describe", "nodes"], dest / "nodes-describe.txt")
    _run_to_file(kubectl, ["get", "all,pvc,pv,events", "-A", "-o", "wide"], dest / "all.txt")
    _run_to_file(kubectl, ["get", "events", "-A", "--sort-by=.lastTimestamp"], dest / "events.txt")
    try:
        proc = kubectl(
            "get", "pods", "-A", "-o",
            "jsonpath={range .items[*]}{.metadata.namespace} {.metadata.name} "
            "{.status.phase} {range .status.conditions[?(@.type==\"Ready\")]}{.status}{end}{\"\\n\"}{end}",
            check=False, timeout=60,
        )
        lines = proc.stdout.splitlines()
    except Exception:
        lines = []
    bad = dest / "pods-not-ready"
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        ns, pod, phase = parts[:3]
        ready = parts[3] if len(parts) > 3 else "False"
        if phase == "Succeeded" or ready == "True":
            continue
        bad.mkdir(exist_ok=True)
        _run_to_file(kubectl, ["describe", "pod", "-n", ns, pod], bad / f"{ns}.{pod}.describe.txt")
        _run_to_file(kubectl, ["logs", "-n", ns, pod, "--all-containers", "--prefix", "--tail=500"],
                     bad / f"{ns}.{pod}.log")
        _run_to_file(kubectl, ["logs", "-n", ns, pod, "--all-containers", "--prefix", "--previous",
                               "--tail=500"], bad / f"{ns}.{pod}.previous.log")
