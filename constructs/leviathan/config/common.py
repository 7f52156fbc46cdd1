"""Values sections shared by every variant: image, scheduling, resources, storage, service, probes.

Sizes that the chart reasons about (weights, RAM, /dev/shm) are integers in GiB, so cross-field
checks ("memory limit below weights") are plain integer comparisons in the template.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from .. import versions
from . import bounds
from ..helm.kube_types import kubernetes
from .base import ValuesModel, section
from .bounds import CORES_MAX, GIB_MAX, INT32_MAX, OPTIONAL_DNS_SUBDOMAIN, SECONDS_MAX

UUID_PATTERN = r"^(GPU|MIG)-[0-9a-fA-F-]+$"


def extra_args_field(engine: str, also: str = "") -> Any:
    """`engine.extraArgs`: every chart checks it against its engine's flag manifest."""
    return Field([], description=(
        f"Extra command-line arguments, appended after the chart's. Each flag is checked against the "
        f"flags of the pinned {engine}'s own parser (`files/engine-flags.json`): an unknown flag, {also}or "
        f"one the chart already sets (port, host, model paths, ...), fails `helm template` with its name."))


def extra_args_unchecked_field() -> Any:
    """`engine.extraArgsUnchecked`: the named escape hatch next to `engine.extraArgs`."""
    return Field([], description=(
        "Escape hatch: extra arguments appended WITHOUT the check against the pinned parser's flags, "
        "for a flag your own image has. Flags the chart already sets are still refused."))


class Image(ValuesModel):
    @field_validator("tag")
    @classmethod
    def _not_latest(cls, tag: str) -> str:
        if tag == "latest":
            raise ValueError("image.tag must be an immutable tag, not `latest`")
        return tag

    registry: str = Field("", max_length=255, pattern=bounds.IMAGE_REGISTRY)
    """Registry host[:port] the image is pulled from (e.g. your own registry). Empty: use `repository` as written."""
    repository: str = Field(min_length=1, max_length=255, pattern=bounds.IMAGE_REPOSITORY)
    """Image repository. The default is the project's pinned build (images/versions.yaml)."""
    tag: str = Field(min_length=1, pattern=r"^[\w][\w.-]{0,127}$",
                     json_schema_extra={"not": {"const": "latest"}})
    """Immutable image tag (never `latest`). The default is the pinned engine build."""
    digest: str = Field("", pattern=r"^(sha256:[a-f0-9]{64})?$")
    """Optional `sha256:` digest; when set it pins the image and the tag becomes informational."""
    pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    """Engine images are tens of GB: pull once per node, not at every restart."""


def pinned_image(name: str) -> "Image":
    """Default image of a chart: the pin in images/versions.yaml."""
    pin = versions.image(name)
    return Image(repository=pin.repository, tag=pin.tag)


class Service(ValuesModel):
    type: Literal["ClusterIP", "NodePort"] = "ClusterIP"
    """`ClusterIP` (default) or `NodePort` to reach the API from outside the cluster."""
    port: int = Field(8000, ge=1, le=65535)
    """Service port."""
    node_port: int = Field(0, ge=0, le=65535)
    """Fixed node port when `type` is NodePort (usually 30000-32767). 0: Kubernetes picks one."""


class HostPathStorage(ValuesModel):
    path: str = Field("", max_length=4096, pattern=r"^(/[^\n\r\t\x00]*)?$")
    """Directory on the node that holds the models (the mounted NVMe partition, e.g.
    `/var/mnt/data/models`). Mount the partition on the host (Talos machine config, fstab); the chart
    never formats or mounts raw disks and never runs privileged."""
    type: Literal["Directory", "DirectoryOrCreate"] = "Directory"
    """`Directory` fails fast when the disk is not mounted; `DirectoryOrCreate` would silently write
    hundreds of GB to the root filesystem."""


class PvcStorage(ValuesModel):
    existing_claim: str = Field("", max_length=253, pattern=OPTIONAL_DNS_SUBDOMAIN)
    """Use this existing PersistentVolumeClaim."""
    create: bool = False
    """Create a PVC (kept on `helm uninstall` so weights are not downloaded again)."""
    size_gi_b: int = Field(0, ge=0, le=GIB_MAX, alias="sizeGiB")
    """Size of the created PVC in GiB. Must hold the weights plus download scratch space."""
    storage_class_name: str = Field("", max_length=253, pattern=OPTIONAL_DNS_SUBDOMAIN)
    """StorageClass of the created PVC. Empty: the cluster default."""
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"] = "ReadWriteOnce"
    """Access mode of the created PVC."""


class Storage(ValuesModel):
    mount_path: str = Field("/models", max_length=4096, pattern=bounds.ABSOLUTE_PATH)
    """Where the model volume is mounted in the engine container."""
    read_mi_bps: int = Field(1500, ge=1, le=GIB_MAX, alias="readMiBps")
    """Sustained read throughput of the model volume in MiB/s (NVMe ~1500-3000, network PV 200-500).
    With the weights' size it sets the startup probe budget."""
    host_path: HostPathStorage = section(HostPathStorage)
    """Node-local model directory. Set exactly one of `hostPath.path` or a PVC."""
    pvc: PvcStorage = section(PvcStorage)
    """PersistentVolumeClaim for the models. Set exactly one of `hostPath.path` or a PVC."""


class StartupProbe(ValuesModel):
    floor_seconds: int = Field(600, ge=1, le=SECONDS_MAX)
    """Minimum startup budget, whatever the weights' size."""
    ceiling_seconds: int = Field(7200, ge=1, le=SECONDS_MAX)
    """Maximum startup budget; beyond it a stuck load is restarted."""
    period_seconds: int = Field(30, ge=1, le=SECONDS_MAX)
    """Seconds between startup checks."""


class PeriodicProbe(ValuesModel):
    period_seconds: int = Field(10, ge=1, le=SECONDS_MAX)
    """Seconds between checks."""
    timeout_seconds: int = Field(5, ge=1, le=SECONDS_MAX)
    """Seconds before one check times out."""
    failure_threshold: int = Field(3, ge=1, le=INT32_MAX)
    """Consecutive failures before the pod is marked unready (readiness) or restarted (liveness)."""


class Probes(ValuesModel):
    startup: StartupProbe = section(StartupProbe)
    """Startup budget = clamp(2 x weights size / storage.readMiBps, floor, ceiling): 2x because the
    weights are read and then repacked for the GPU kernels. Liveness only starts after it."""
    readiness: PeriodicProbe = section(PeriodicProbe)
    """Readiness gates the Service endpoints."""
    liveness: PeriodicProbe = section(lambda: PeriodicProbe(period_seconds=30, timeout_seconds=10, failure_threshold=5))
    """Liveness restarts a hung engine. Generous, because a busy CPU-offloaded engine answers slowly."""


class Cpu(ValuesModel):
    request: int = Field(8, ge=1, le=CORES_MAX)
    """CPU cores requested."""
    limit: int = Field(0, ge=0, le=CORES_MAX)
    """CPU cores limit. 0: no limit (the engine pins its own threads)."""


class Memory(ValuesModel):
    request_gi_b: int = Field(0, ge=0, le=GIB_MAX, alias="requestGiB")
    """RAM requested in GiB. 0: same as the limit (Guaranteed QoS, no eviction under pressure)."""
    limit_gi_b: int = Field(64, ge=1, le=GIB_MAX, alias="limitGiB")
    """RAM limit in GiB. Must cover the weights held in host RAM plus `model.hostOverheadGiB`."""


class Resources(ValuesModel):
    cpu: Cpu = section(Cpu)
    """CPU cores."""
    memory: Memory = section(Memory)
    """Host RAM."""
    shm_gi_b: int = Field(16, ge=1, le=GIB_MAX, alias="shmGiB")
    """Size of the in-memory /dev/shm (NCCL and tensor exchange between processes)."""


class Gpus(ValuesModel):
    count: int = Field(1, ge=0, le=16)
    """GPUs requested through the device plugin resource."""
    resource_name: str = Field("nvidia.com/gpu", max_length=317, pattern=bounds.EXTENDED_RESOURCE)
    """Extended resource name of the GPUs (`<domain>/<name>`, e.g. `amd.com/gpu`)."""


class SecretRef(ValuesModel):
    # Both formats are checked by a chart rule (k8s/secrets.py), not by schema patterns: Helm's schema
    # errors quote the value, and a token pasted here must never be printed.
    name: str = ""
    """Secret name (not the token itself). Empty: no token (public repositories)."""
    key: str = "HF_TOKEN"
    """Key inside the Secret."""


class ImagePullSecret(ValuesModel):
    name: str = Field(max_length=253, pattern=bounds.DNS_SUBDOMAIN)
    """Name of a `kubernetes.io/dockerconfigjson` Secret in the release namespace."""


class TestHook(ValuesModel):
    enabled: bool = True
    """Create the `helm test` pod (GET /v1/models, then one chat completion)."""
    max_tokens: int = Field(8, ge=1, le=INT32_MAX)
    """max_tokens of the test chat completion."""


class EngineValues(ValuesModel):
    """Values every engine chart shares. Variants give `model` and `engine` their own types; declaring
    them here keeps them at the top of values.yaml, where a reader looks first."""

    model: ValuesModel
    """Which weights to serve."""
    engine: ValuesModel
    """Engine flags."""
    image: Image
    """Engine image."""
    image_pull_secrets: list[ImagePullSecret] = []
    """Pull secrets for private registries, e.g. `[{name: regcred}]`."""
    helper_image: Image = section(lambda: pinned_image("test-client"))
    """Small image with `sh` and `wget` (busybox) for the wait-for-model init container and `helm test`."""
    node_name: str = Field("", max_length=253, pattern=OPTIONAL_DNS_SUBDOMAIN)
    """Pin the pod to this node by name (bypasses the scheduler). It must be the real node name
    (`kubectl get nodes`): the seeds lost a deploy to `talos-node-0` vs `talos-u8k-rze`."""
    # patternProperties, not propertyNames: Helm 4 reports a bad property name without its path.
    node_selector: dict[str, str] = Field({}, json_schema_extra={
        "patternProperties": {bounds.LABEL_KEY: {"type": "string", "maxLength": 63, "pattern": bounds.LABEL_VALUE}},
        "additionalProperties": False})
    """Node labels the pod requires, e.g. `nvidia.com/gpu.product: NVIDIA-H100-NVL`."""
    tolerations: list[dict[str, Any]] = Field([], json_schema_extra=kubernetes("io.k8s.api.core.v1.Toleration"))
    """Tolerations, e.g. for GPU taints or a single-node control plane."""
    affinity: dict[str, Any] = Field({}, json_schema_extra=kubernetes("io.k8s.api.core.v1.Affinity"))
    """Affinity block, rendered as given."""
    runtime_class_name: str = Field("nvidia", max_length=253, pattern=OPTIONAL_DNS_SUBDOMAIN)
    """RuntimeClass of the NVIDIA container runtime. Empty: the cluster default."""
    priority_class_name: str = Field("", max_length=253, pattern=OPTIONAL_DNS_SUBDOMAIN)
    """PriorityClass, so a pod that took an hour to load is not preempted by small pods. Empty: none."""
    termination_grace_period_seconds: int = Field(60, ge=0, le=SECONDS_MAX)
    """Seconds a stopping engine gets before SIGKILL. An engine that is still loading often ignores
    SIGTERM (Python as PID 1), so every restart during a load waits this long."""
    pod_annotations: dict[str, str] = Field({}, json_schema_extra={
        "patternProperties": {bounds.LABEL_KEY: {"type": "string"}}, "additionalProperties": False})
    """Extra annotations on the engine pod."""
    extra_env: list[dict[str, Any]] = Field([], json_schema_extra=kubernetes(
        "io.k8s.api.core.v1.EnvVar", name={"pattern": bounds.ENV_NAME}))
    """Extra environment variables of the engine container (Kubernetes EnvVar objects)."""
    gpus: Gpus = section(Gpus)
    """GPUs of the engine pod."""
    resources: Resources = section(Resources)
    """CPU, RAM and /dev/shm of the engine pod."""
    storage: Storage = section(Storage)
    """Where the weights live."""
    service: Service = section(Service)
    """How the OpenAI-compatible API is exposed."""
    probes: Probes = section(Probes)
    """Startup, readiness and liveness checks."""
    tests: TestHook = section(TestHook)
    """`helm test` hook."""


class DownloadResources(ValuesModel):
    cpu: int = Field(2, ge=1, le=CORES_MAX)
    """CPU cores of the download Job (hashing and decompression are CPU-bound)."""
    memory_gi_b: int = Field(4, ge=1, le=GIB_MAX, alias="memoryGiB")
    """RAM limit of the download Job in GiB."""


class Download(ValuesModel):
    enabled: bool = True
    """Run the model-download Job, and hold the engine in an init container until the files are
    complete. Disable when the weights are already on the volume."""
    image: Image
    """Downloader image (Python + huggingface_hub, pinned)."""
    hf_token_secret: SecretRef = section(SecretRef)
    """Secret holding the Hugging Face token. The token is only ever read from this Secret."""
    endpoint: str = Field("", max_length=2048, pattern=bounds.HUB_ENDPOINT)
    """Hugging Face Hub URL (`HF_ENDPOINT`), for a mirror or an in-house Hub proxy, e.g.
    `https://hf.example.com` or `https://artifacts.example.com/api/huggingfaceml/hf`.
    Empty: https://huggingface.co."""
    max_workers: int = Field(8, ge=1, le=64)
    """Parallel file downloads."""
    progress_seconds: int = Field(30, ge=1, le=SECONDS_MAX)
    """Seconds between progress lines in the Job log."""
    free_space_margin_gi_b: int = Field(10, ge=0, le=GIB_MAX, alias="freeSpaceMarginGiB")
    """Free space to keep on the volume beyond the missing bytes; the Job refuses to start without it."""
    backoff_limit: int = Field(6, ge=0, le=INT32_MAX)
    """Retries of the Job; each retry resumes partial files."""
    run_as_user: int = Field(1000, ge=0, le=INT32_MAX)
    """UID (and GID, fsGroup) of the Job. It must be able to write the model directory: a PVC gets
    fsGroup, but a hostPath directory keeps its host owner, so use 0 for a root-owned host directory
    (no privileges or capabilities are granted either way)."""
    resources: DownloadResources = section(DownloadResources)
    """Resources of the download Job."""
