"""A minimal dynamic hostPath provisioner for the single-node local cluster.

Runs as a host process (started and stopped by the local backend). Every second it:

* finds Pending PVCs of its StorageClass with no volume yet, creates a directory
  ``<dir>/<namespace>-<pvc>-<uid8>`` (mode 0777) and a hostPath PV pre-bound to the
  claim (``claimRef``); kube-controller-manager's binder completes the binding;
* deletes PVs it provisioned once they are ``Released`` (reclaimPolicy Delete), and
  their directories.

Capacity is not enforced (hostPath cannot); it is recorded as requested.

    python -m leviathan_e2e.backends.hostpath_provisioner --server URL --ca F --cert F \\
        --key F --dir DIR [--storage-class NAME] [--provisioner NAME]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from ._api import ApiClient, ApiError

STORAGE_CLASS = "leviathan-hostpath"
PROVISIONER = "leviathan.e2e/hostpath"
_ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
_ANN_SP = ("volume.kubernetes.io/storage-provisioner", "volume.beta.kubernetes.io/storage-provisioner")


def storage_class_manifest(name: str = STORAGE_CLASS, provisioner: str = PROVISIONER) -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": name,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": provisioner,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": True,
    }


def pv_for_claim(pvc: dict, directory: Path, storage_class: str, provisioner: str) -> dict:
    md, spec = pvc["metadata"], pvc["spec"]
    size = spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{md['uid']}",
            "annotations": {_ANN_PROVISIONED_BY: provisioner},
            "labels": {"leviathan.e2e/provisioner": "hostpath"},
        },
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": storage_class,
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": md["namespace"],
                "name": md["name"],
                "uid": md["uid"],
            },
            "hostPath": {"path": str(directory), "type": "Directory"},
        },
    }


def _wants_us(pvc: dict, storage_class: str, provisioner: str) -> bool:
    if pvc.get("status", {}).get("phase") != "Pending" or pvc["spec"].get("volumeName"):
        return False
    if pvc["spec"].get("volumeMode", "Filesystem") != "Filesystem":
        return False
    anns = pvc["metadata"].get("annotations") or {}
    if any(anns.get(a) == provisioner for a in _ANN_SP):
        return True
    return pvc["spec"].get("storageClassName") == storage_class


def reconcile_once(api: ApiClient, root: Path, storage_class: str, provisioner: str,
                   log=print) -> None:
    pvcs = api.get("/api/v1/persistentvolumeclaims")["items"]
    for pvc in pvcs:
        if not _wants_us(pvc, storage_class, provisioner):
            continue
        md = pvc["metadata"]
        directory = root / f"{md['namespace']}-{md['name']}-{md['uid'][:8]}"
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)
        try:
            api.create("/api/v1/persistentvolumes", pv_for_claim(pvc, directory, storage_class,
                                                                 provisioner), exist_ok=False)
            log(f"provisioned pvc-{md['uid']} for {md['namespace']}/{md['name']} at {directory}")
        except ApiError as exc:
            if exc.status != 409:
                raise
    pvs = api.get("/api/v1/persistentvolumes?labelSelector=leviathan.e2e%2Fprovisioner%3Dhostpath")
    for pv in pvs["items"]:
        if (pv["metadata"].get("annotations") or {}).get(_ANN_PROVISIONED_BY) != provisioner:
            continue
        if pv.get("status", {}).get("phase") not in ("Released", "Failed"):
            continue
        path = Path(pv["spec"]["hostPath"]["path"])
        api.delete(f"/api/v1/persistentvolumes/{pv['metadata']['name']}")
        if path.is_relative_to(root):
            shutil.rmtree(path, ignore_errors=True)
        log(f"deleted {pv['metadata']['name']} ({path})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--ca", required=True, type=Path)
    ap.add_argument("--cert", required=True, type=Path)
    ap.add_argument("--key", required=True, type=Path)
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--storage-class", default=STORAGE_CLASS)
    ap.add_argument("--provisioner", default=PROVISIONER)
    ap.add_argument("--interval", type=float, default=1.0)
    args = ap.parse_args(argv)

    stop = False

    def _term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    args.dir.mkdir(parents=True, exist_ok=True)
    api = ApiClient(args.server, args.ca, args.cert, args.key)

    def log(msg: str) -> None:
        print(time.strftime("%H:%M:%S"), msg, flush=True)

    log(f"hostpath provisioner {args.provisioner} (class {args.storage_class}) in {args.dir}, pid {os.getpid()}")
    while not stop:
        try:
            reconcile_once(api, args.dir, args.storage_class, args.provisioner, log)
        except Exception as exc:  # apiserver restarts etc.: keep going
            log(f"reconcile error: {exc!r}")
        time.sleep(args.interval)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
