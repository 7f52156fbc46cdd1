"""Model storage: a node-local hostPath (the mounted NVMe partition) or a PersistentVolumeClaim.

Never a privileged pod that formats or mounts a raw disk: the seeds did that, mounted the disk
instead of its partition, and risked wiping the OS disk. The host mounts the partition; the chart
only points at the directory. A created PVC is kept on `helm uninstall`, so 400 GB of weights are not
downloaded again.
"""

from __future__ import annotations

from ..helm.chart import HelmChart
from ..helm.holes import Cond, Expr, If, Tpl, gib
from .placement import add_host_path_pinning_rule

MODEL_VOLUME = "models"


def _claim_name(chart: HelmChart) -> Expr:
    pvc = chart.v.storage.pvc
    return Tpl(f'{pvc.existing_claim.go} | default ({chart.name("models").go})')


def model_volume(chart: HelmChart) -> If:
    storage = chart.v.storage
    return If(
        storage.host_path.path.truthy(),
        [{"name": MODEL_VOLUME, "hostPath": {"path": storage.host_path.path, "type": storage.host_path.type}}],
        [{"name": MODEL_VOLUME, "persistentVolumeClaim": {"claimName": _claim_name(chart)}}],
    )


def model_mount(chart: HelmChart, read_only: bool) -> dict:
    return {"name": MODEL_VOLUME, "mountPath": chart.v.storage.mount_path, "readOnly": read_only}


def add_model_storage(chart: HelmChart) -> None:
    """The optional PVC object and the storage rules."""
    storage = chart.v.storage
    pvc = storage.pvc
    chart.add_object(
        "pvc.yaml", "v1", "PersistentVolumeClaim", chart.name("models"), "model-storage",
        {"spec": {
            "accessModes": [pvc.access_mode],
            "resources": {"requests": {"storage": gib(chart.pvc_size_gib())}},
            "_class": If(pvc.storage_class_name.truthy(), {"storageClassName": pvc.storage_class_name}),
        }},
        when=pvc.create.truthy(),
        # Keep the weights when the release is uninstalled.
        annotations={"helm.sh/resource-policy": "keep"},
    )
    has_host = storage.host_path.path.truthy()
    has_pvc = pvc.existing_claim.truthy()
    creates = pvc.create.truthy()
    chart.rule(
        "storage.exclusive", has_host & (has_pvc | creates),
        '"storage: both storage.hostPath.path and a PVC are set. Choose one: a node-local directory '
        '(--set storage.pvc.create=false,storage.pvc.existingClaim=) or a PVC (--set storage.hostPath.path=)."')
    chart.rule(
        "storage.missing", ~has_host & ~has_pvc & ~creates,
        '"storage: no model storage. Set storage.hostPath.path to the mounted NVMe directory, '
        'storage.pvc.existingClaim, or storage.pvc.create=true with storage.pvc.sizeGiB."')
    chart.rule(
        "storage.pvcBoth", has_pvc & creates,
        '"storage.pvc: existingClaim and create=true are both set. Use the existing claim or create one, not both."')
    chart.rule(
        "storage.hostPath.backsteps",
        Cond(f'regexMatch "(^|/)\\\\.\\\\.(/|$)" {storage.host_path.path.go}'),
        '"storage.hostPath.path must not contain a .. element (Kubernetes refuses it). Give the '
        'directory\'s real absolute path."')
    add_host_path_pinning_rule(chart)
    weights, size = chart.weights_gib(), chart.pvc_size_gib()
    chart.rule(
        "storage.pvcSize", creates & size.lt(weights),
        f'printf "storage.pvc.sizeGiB: %d GiB cannot hold the %d GiB of weights. Raise it, e.g. '
        f'--set storage.pvc.sizeGiB=%d" ({size.go} | int64) ({weights.go} | int64) '
        f'(add ({weights.go} | int64) (div ({weights.go} | int64) 10) 10)')
