"""``existing`` backend: use whatever cluster ``$KUBECONFIG`` (or a given path) points at.

Nothing is created or destroyed. ``load_image`` cannot know how to reach the nodes'
container runtime, so it only works if ``LEVIATHAN_E2E_LOAD_IMAGE_CMD`` is set to a
command template containing ``{archive}`` (e.g. ``kind load image-archive {archive}``
or ``ctr -n k8s.io images import {archive}``); otherwise images must already be
pullable by the cluster.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from .base import BackendError, ClusterBackend

__all__ = ["ExistingBackend"]


class ExistingBackend(ClusterBackend):
    name = "existing"

    def __init__(self, kubeconfig: Path | str | None = None, load_image_cmd: str | None = None):
        path = kubeconfig or os.environ.get("KUBECONFIG")
        if not path:
            default = Path.home() / ".kube" / "config"
            if not default.exists():
                raise BackendError("existing backend: set KUBECONFIG (or ~/.kube/config)")
            path = default
        # KUBECONFIG may be a list; the first entry is used
        self._kubeconfig = Path(str(path).split(os.pathsep)[0]).expanduser()
        self._load_cmd = load_image_cmd or os.environ.get("LEVIATHAN_E2E_LOAD_IMAGE_CMD")

    @property
    def kubeconfig(self) -> Path:
        return self._kubeconfig

    def up(self) -> None:
        if not self._kubeconfig.exists():
            raise BackendError(f"kubeconfig {self._kubeconfig} does not exist")
        proc = self.kubectl()("get", "--raw", "/readyz", check=False, timeout=30)
        if proc.returncode != 0 or proc.stdout.strip() != "ok":
            raise BackendError(f"cluster at {self._kubeconfig} is not ready: "
                               f"{(proc.stdout + proc.stderr).strip()}")

    def down(self) -> None:
        """Never touches a cluster it did not create."""

    def load_image(self, archive: Path) -> None:
        if not self._load_cmd:
            raise BackendError("existing backend cannot load images: set "
                               "LEVIATHAN_E2E_LOAD_IMAGE_CMD (e.g. 'kind load image-archive {archive}')")
        cmd = [part.replace("{archive}", str(archive)) for part in shlex.split(self._load_cmd)]
        subprocess.run(cmd, check=True)
