"""The kind backend as it runs here, offline: ``get_backend("kind")`` builds it unless
``LEVIATHAN_KIND_NODE_IMAGE`` names a node image to use with the ambient Docker (users' CI).

- Docker: a private engine (:mod:`leviathan_e2e.docker_engine`) in its own network namespace,
  started by ``up()`` and stopped, with everything it made, by ``down()``;
- kind: the pinned release built from the Go module proxy (``~/.cache/leviathan/kind``);
- node image: built here from Debian packages and the local backend's Kubernetes pins
  (:mod:`leviathan_e2e.kind_node`), cached as an archive and loaded into the fresh engine;
- the kind config pins the apiserver's published port, relayed to the host's loopback, and tells
  kubeadm the etcd/CoreDNS tags the node image preloads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ..docker_engine import DockerEngine
from .kind import REPO, KindBackend

#: ``LEVIATHAN_KIND_NODE_IMAGE``: unset or ``local`` = this offline mode; ``upstream`` = kind's
#: pinned kindest/node (needs a registry); anything else = that node image, ambient Docker.
NODE_IMAGE_ENV = "LEVIATHAN_KIND_NODE_IMAGE"


def no_cpu_request_patches() -> dict[str, str]:
    """kubeadm patch files that drop the CPU requests of the control plane and CoreDNS.

    On the local backend the control plane runs as host processes, outside the node's allocatable;
    on kind it runs as pods on the one node, and kubeadm's requests (apiserver 250m, controller-
    manager 200m, scheduler 100m, etcd 100m, CoreDNS 2 x 100m) take 850m of this 2-core node, which
    leaves the suite's pods unschedulable ("Insufficient cpu"). Requests only: nothing is limited."""
    def static(name: str) -> str:
        return f"spec:\n  containers:\n  - name: {name}\n    resources:\n      requests:\n        cpu: null\n"
    files = {f"{c}+strategic.yaml": static(c)
             for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")}
    files["corednsdeployment+strategic.yaml"] = ("spec:\n  template:\n    spec:\n      containers:\n"
                                                 "      - name: coredns\n        resources:\n"
                                                 "          requests:\n            cpu: null\n")
    return files


class OfflineKindBackend(KindBackend):
    """:class:`KindBackend` with its own engine, kind binary and node image (see module doc)."""

    def __init__(self, engine: DockerEngine | None = None, **kwargs):
        from ..kind_node import kubeadm_image_patch

        kwargs.setdefault("kubeadm_patches", [kubeadm_image_patch()])
        kwargs.setdefault("kubeadm_patch_files", no_cpu_request_patches())
        super().__init__(engine=engine or DockerEngine(), node_image="", **kwargs)

    def up(self) -> None:
        from ..kind_node import ensure_node_image, kind_binary

        if self.kind == "kind":
            self.kind = str(kind_binary())
        self.start_engine()
        self.node_image = ensure_node_image(self.engine)
        super().up()

    def plugin_manifest(self) -> str:
        """The DaemonSet without its 10m CPU request: the suite sizes its flows to exactly this 2-core
        node (engine 1 CPU + download Job 1 CPU), as on the local backend, where the plugin is a host
        process outside the node's allocatable; 10m more left the Job "Insufficient cpu"."""
        from ..deviceplugin.manifests import daemonset_objects

        objects = daemonset_objects(self.plugin_image, self.gpu_count, self.gpu_product)
        for obj in objects:
            if obj["kind"] == "DaemonSet":
                for container in obj["spec"]["template"]["spec"]["containers"]:
                    container["resources"]["requests"].pop("cpu", None)
        return yaml.safe_dump_all(objects, sort_keys=False)

    def down(self) -> None:
        super().down()
        # kubeconfig, certificates, image archives: nothing in it outlives the cluster
        shutil.rmtree(self.workdir, ignore_errors=True)

    def load_plugin_image(self) -> None:
        """The plugin image assembled offline (images/fake-gpu-plugin/build.py), ``kind load``ed.
        Built once per session: ``up()`` and the suite's ``fake_gpus`` fixture both install the GPUs."""
        archive = self.workdir / "images" / (self.plugin_image.split("/")[-1].replace(":", "-") + ".tar")
        if archive.is_file():  # the name build.py gives it
            self.load_image(archive)
            return
        archive = subprocess.run([sys.executable, str(REPO / "images" / "fake-gpu-plugin" / "build.py"),
                                  "--out", str(self.workdir / "images")],
                                 check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        self.load_image(Path(archive))


def kind_backend(**kwargs) -> KindBackend:
    choice = os.environ.get(NODE_IMAGE_ENV, "local")
    if choice == "local" and "runner" not in kwargs:
        return OfflineKindBackend(**kwargs)
    if choice not in ("local", "upstream"):
        kwargs.setdefault("node_image", choice)
    return KindBackend(**kwargs)


__all__ = ["OfflineKindBackend", "kind_backend", "NODE_IMAGE_ENV"]
