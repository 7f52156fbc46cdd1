"""The chart's model-download Job, for real: its payload downloads from a Hub inside the cluster's network.

The KTransformers chart is installed with `download.enabled: true` (the other flows disable it), its
downloader image built offline from Debian's Python and the pinned wheels (images/model-downloader/build.py),
and `download.endpoint` pointing at the unit tests' fake Hub running as a pod behind two Services
(e2e/leviathan_e2e/fake_hub.py). The hub requires a token, kept in a Secret. The flow shows, in order:

1. without `download.hfTokenSecret` the Job fails with the Hub's 401, and the engine pod waits in its
   `wait-for-model` init container (not Ready, engine never started);
2. `helm upgrade` naming the Secret gives a new Job, which downloads the wanted files only (token sent to
   the hub, never to its "CDN"), writes the markers, and the *same* engine pod then leaves
   `wait-for-model`, starts on the downloaded paths (the mock engine checks they exist) and becomes Ready;
3. a third revision's Job finds everything complete and finishes without downloading.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import secrets
import time

import pytest

from leviathan_e2e.fake_hub import InClusterHub, fake_hub_module
from leviathan_e2e.release import REPO, Release, wait_for

pytestmark = pytest.mark.e2e

CHART = "ktransformers"
MOUNT = "/models"
GGUF_DIR, CONFIG_DIR, QUANT = "deepseek-v3-gguf", "deepseek-v3-config", "DeepSeek-V3-Q4_K_M"
MARKER = ".leviathan-complete.json"
CONFIG_PATTERNS = (".json", ".py", ".model", ".tiktoken")  # the chart's allowPatterns for the config repo


@pytest.fixture(scope="session")
def model_downloader_image(cluster, tmp_path_factory) -> str:
    """The e2e model-downloader image, built offline and loaded into the cluster."""
    out = tmp_path_factory.mktemp("model-downloader-image")
    started = time.monotonic()
    spec = importlib.util.spec_from_file_location("model_downloader_build",
                                                  REPO / "images" / "model-downloader" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    archive = build.build_image(out)
    cluster.load_image(archive.path)
    print(f"\n[e2e] model-downloader image built and loaded in {time.monotonic() - started:.1f}s", flush=True)
    return archive.ref


def download_values(image_ref: str, endpoint: str) -> dict:
    repository, tag = image_ref.rsplit(":", 1)
    return {
        "download.enabled": True,
        "download.image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "download.endpoint": endpoint,
        "download.freeSpaceMarginGiB": 0,
        "download.backoffLimit": 0,  # the 401 is final: one failed pod, no retries to wait for
        "download.progressSeconds": 1,
        "download.resources": {"cpu": 1, "memoryGiB": 1},
        "extraEnv": [{"name": "MOCK_LOAD_SECONDS", "value": "5"},
                     {"name": "MOCK_REQUIRE_PATHS", "value": "1"}],
    }


def jobs(release: Release) -> dict[str, dict]:
    items = release.get("jobs", "-l", f"app.kubernetes.io/instance={release.name}")["items"]
    return {j["metadata"]["name"].rsplit("-", 1)[-1]: j for j in items}  # "r1", "r2", ...


def job_state(job: dict) -> str | None:
    for condition in job.get("status", {}).get("conditions") or []:
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return condition["type"]
    return None


def finished_job(release: Release, revision: str, timeout: float = 180) -> tuple[str, str]:
    job = wait_for(f"download Job {revision} finished",
                   lambda: (j := jobs(release).get(revision)) and job_state(j) and j, timeout=timeout)
    logs = release.kubectl("logs", f"job/{job['metadata']['name']}", "-n", release.namespace).stdout
    return job_state(job), logs


def engine_exec(release: Release, pod: str, *command: str) -> str:
    return release.kubectl("exec", "-n", release.namespace, pod, "-c", "engine", "--", *command).stdout


def expected_files(hub_module) -> dict[str, bytes]:
    gguf = {f"{GGUF_DIR}/{path}": data for path, data in hub_module.deepseek_files().items()
            if path.startswith(f"{QUANT}/")}
    config = {f"{CONFIG_DIR}/{path}": data for path, data in hub_module.deepseek_config_files().items()
              if path.endswith(CONFIG_PATTERNS)}
    return {**gguf, **config}


def test_download_job_fills_the_volume_from_an_in_cluster_hub_and_unblocks_the_engine(
        cluster, kubectl, namespace, mock_engine_image, model_downloader_image, fake_gpus):
    token = f"hf_e2e{secrets.token_hex(16)}"
    kubectl("create", "secret", "generic", "hf-token", "-n", namespace, f"--from-literal=HF_TOKEN={token}")
    hub = InClusterHub(cluster, kubectl, namespace).deploy(model_downloader_image, token_secret="hf-token")
    release = Release(name="lev", chart=CHART, namespace=namespace, kubectl=kubectl)
    hub_module = fake_hub_module()

    # 1. No token: the Hub answers 401, the Job fails, the engine waits in wait-for-model.
    release.install([REPO / "e2e" / "values" / f"{CHART}.yaml"], wait=False,
                    json_sets=download_values(model_downloader_image, hub.endpoint))
    state, logs = finished_job(release, "r1")
    assert state == "Failed", logs
    assert "hf-download: ERROR:" in logs and "HTTP 401" in logs, logs
    seen = hub.requests()
    assert seen and all(r["authorization"] == "none" and r["status"] == 401 for r in seen), seen
    pod = wait_for("engine pod held in wait-for-model", lambda: (p := release.engine_pod()) and any(
        s["name"] == "wait-for-model" and "running" in s["state"]
        for s in p["status"].get("initContainerStatuses") or []) and p, timeout=60)
    engine_state = (pod["status"].get("containerStatuses") or [{"state": {}}])[0]["state"]
    assert not release.ready(pod) and "running" not in engine_state, engine_state
    waiting = kubectl("logs", "-n", namespace, pod["metadata"]["name"], "-c", "wait-for-model").stdout
    assert f"waiting for the model-download Job to complete {MOUNT}/{GGUF_DIR}/{MARKER}" in waiting, waiting

    # 2. The token Secret named: revision 2's Job downloads; the same engine pod starts and becomes Ready.
    release.helm("upgrade", release.name, str(REPO / "charts" / CHART), "--reuse-values",
                 "--set", "download.hfTokenSecret.name=hf-token")
    state, logs = finished_job(release, "r2")
    assert state == "Complete", logs
    want = expected_files(hub_module)
    assert f"download complete: {len(want)} file(s)" in logs, logs
    assert "progress: " in logs and token not in logs
    ready = wait_for("the waiting engine pod Ready", lambda: (p := release.engine_pod()) and release.ready(p) and p,
                     timeout=180)
    assert ready["metadata"]["name"] == pod["metadata"]["name"] and release.restarts(ready) == 0
    name = pod["metadata"]["name"]

    # What landed on the volume: exactly the wanted files, byte for byte, and one marker per source.
    listed = engine_exec(release, name, "find", MOUNT, "-type", "f", "!", "-path", "*/.cache/*").split()
    assert sorted(listed) == sorted([f"{MOUNT}/{p}" for p in want]
                                    + [f"{MOUNT}/{GGUF_DIR}/{MARKER}", f"{MOUNT}/{CONFIG_DIR}/{MARKER}"])
    sums = engine_exec(release, name, "sha256sum", *[f"{MOUNT}/{p}" for p in sorted(want)])
    assert sums.split()[0::2] == [hashlib.sha256(want[p]).hexdigest() for p in sorted(want)], sums
    marker = json.loads(engine_exec(release, name, "cat", f"{MOUNT}/{GGUF_DIR}/{MARKER}"))
    assert marker["repo"] == hub_module.DEEPSEEK_REPO and marker["commit"] == hub_module.DEEPSEEK_COMMIT
    assert {f["path"]: f["size"] for f in marker["files"]} == {
        p.removeprefix(f"{GGUF_DIR}/"): len(d) for p, d in want.items() if p.startswith(GGUF_DIR)}
    args = ready["spec"]["containers"][0]["args"]
    assert f"{MOUNT}/{GGUF_DIR}/{QUANT}" in args and f"{MOUNT}/{CONFIG_DIR}" in args, args

    # The token went to the hub on every request of revision 2, and never to the CDN host.
    after = hub.requests()[len(seen):]
    cdn = [r for r in after if r["path"].startswith("/cdn/")]
    assert cdn and all(r["authorization"] == "none" and r["status"] == 200 for r in cdn), cdn
    assert all(r["authorization"] == "token" for r in after if not r["path"].startswith("/cdn/")), after

    # 3. Another revision: its Job sees the complete model and downloads nothing; the engine is untouched.
    before = len(hub.requests())
    release.helm("upgrade", release.name, str(REPO / "charts" / CHART), "--reuse-values",
                 "--set", "download.progressSeconds=2")
    state, logs = finished_job(release, "r3")
    assert state == "Complete" and "nothing to download" in logs, logs
    assert not [r for r in hub.requests()[before:] if r["method"] == "GET" and "/api/" not in r["path"]]
    assert release.engine_pod()["metadata"]["name"] == name and release.restarts(release.engine_pod()) == 0
