"""The model-download Job, and the init container that holds the engine until the files are complete.

The Job runs `payloads/hf_download.py` (mounted from a ConfigMap) in the pinned downloader image: it
checks free space first, resumes partial files, logs progress, and is a no-op when the files are
already complete. It replaces the seeds' privileged "sysadmin" pod. The Job name carries the release
revision because a Job's pod template is immutable: every `helm upgrade` gets a fresh Job, which
finishes at once when nothing is missing.
"""

from __future__ import annotations

from pathlib import Path

from ..config.shape import block
from ..helm.chart import HelmChart
from ..helm.holes import Expr, If, Kind, Tpl, gib
from . import storage
from .placement import node_placement
from .secrets import secret_env
from .platform import arbitrary_uid
from .security import fixed_uid, helper_security_context

SCRIPT = Path(__file__).resolve().parent.parent / "payloads" / "hf_download.py"
MARKER = ".leviathan-complete.json"
COMPONENT = "model-download"

# The markers are the script's arguments ("$@"), so a path with spaces stays one path.
WAIT_SCRIPT = """\
for marker in "$@"; do
  until [ -f "$marker" ]; do
    echo "waiting for the model-download Job to complete $marker"
    sleep 15
  done
done
echo "model files complete"
"""


def add_model_download(chart: HelmChart, sources_json: Expr, subdirs: list[Expr],
                       placement: dict | None = None) -> dict:
    """Add the ConfigMap + Job; return the wait-for-model init container for the engine pod.
    `placement` replaces the engine's node placement for the Job (a network PVC may be filled
    from another node)."""
    v = chart.v
    download = v.download
    chart.add_config_map("download-job.yaml", chart.name("download-script"), COMPONENT,
                         {"hf_download.py": SCRIPT.read_text()}, when=download.enabled.truthy())
    env = [
        {"name": "DOWNLOAD_ROOT", "value": v.storage.mount_path},
        {"name": "DOWNLOAD_SOURCES", "value": sources_json},
        {"name": "DOWNLOAD_MAX_WORKERS", "value": download.max_workers.as_str()},
        {"name": "DOWNLOAD_PROGRESS_SECONDS", "value": download.progress_seconds.as_str()},
        {"name": "DOWNLOAD_FREE_SPACE_MARGIN_GIB", "value": download.free_space_margin_gi_b.as_str()},
        {"name": "HF_HOME", "value": "/tmp/hf-home"},
        {"name": "HF_HUB_DISABLE_PROGRESS_BARS", "value": "1"},
        secret_env(chart, download.hf_token_secret, "HF_TOKEN"),
        If(download.endpoint.truthy(), [{"name": "HF_ENDPOINT", "value": download.endpoint}]),
    ]
    resources = download.resources
    arbitrary = arbitrary_uid(chart)
    chart.add_object(
        "download-job.yaml", "batch/v1", "Job",
        chart.suffixed_name('(printf "-download-r%d" (.Release.Revision | int))'),
        COMPONENT,
        {"spec": {
            "backoffLimit": download.backoff_limit,
            "template": {
                "metadata": {"labels": chart.selector_labels(COMPONENT)},
                "spec": {
                    "restartPolicy": "Never",
                    # hostPath storage is node-local: download on the node the engine will run on.
                    **(placement or node_placement(chart)),
                    "imagePullSecrets": block(v.image_pull_secrets),
                    "securityContext": {
                        "runAsNonRoot": Expr(f"ne ({download.run_as_user.go} | int64) 0", Kind.BOOL),
                        **fixed_uid(download.run_as_user, arbitrary, ("runAsUser", "runAsGroup", "fsGroup")),
                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "download",
                        "image": Tpl(f'include "{chart.info.name}.image" {download.image.go}'),
                        "imagePullPolicy": download.image.pull_policy,
                        "command": ["python", "/scripts/hf_download.py"],
                        "env": env,
                        "resources": {
                            "requests": {"cpu": resources.cpu.as_str(),
                                         "memory": gib(resources.memory_gi_b)},
                            "limits": {"memory": gib(resources.memory_gi_b)},
                        },
                        "volumeMounts": [
                            storage.model_mount(chart, read_only=False),
                            {"name": "script", "mountPath": "/scripts", "readOnly": True},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                        "securityContext": {"allowPrivilegeEscalation": False,
                                            "capabilities": {"drop": ["ALL"]}},
                    }],
                    "volumes": [
                        storage.model_volume(chart),
                        {"name": "script", "configMap": {"name": chart.name("download-script")}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        }},
        when=download.enabled.truthy(),
    )
    markers = [Tpl(f'printf "%s/%s/{MARKER}" {v.storage.mount_path.go} {subdir.go}') for subdir in subdirs]
    return {
        "name": "wait-for-model",
        "image": Tpl(f'include "{chart.info.name}.image" {v.helper_image.go}'),
        "imagePullPolicy": v.helper_image.pull_policy,
        "command": ["sh", "-c", WAIT_SCRIPT, "wait-for-model", *markers],
        "volumeMounts": [storage.model_mount(chart, read_only=True)],
        "securityContext": helper_security_context(arbitrary),
    }


def sources_json(*sources: tuple[Expr, Expr, str, Expr]) -> Expr:
    """DOWNLOAD_SOURCES as JSON: each source is (repo, revision, Go list of allow patterns, subdir)."""
    items = " ".join(
        f'(dict "repo" {repo.go} "revision" {revision.go} "allowPatterns" {patterns} "subdir" {subdir.go})'
        for repo, revision, patterns, subdir in sources
    )
    return Expr(f"list {items} | toJson", Kind.STR)
