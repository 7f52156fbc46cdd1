"""The real llama-server in the e2e cluster (issue 9): chart `llamacpp`, unchanged, with its real
arguments (`--override-tensor` experts to CPU, `--load-mode`, `--jinja`, `--metrics`, ...), serving a
tiny random-weight Qwen3-MoE split in two GGUF shards (images/llama-cpp/tiny_moe_gguf.py, written by
the gguf-py of the pinned sdist).

The image is assembled offline (images/llama-cpp/build_e2e.py): the pinned CPU llama-server from
`scripts/build-llama-server` in /app, on Debian's glibc/libstdc++/libgomp/OpenSSL. Every namespace
here enforces PodSecurity `restricted`. The model is on a PVC whose backing directory the test fills on the
node, which is this host: local backend only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from leviathan import tools
from leviathan.tools import helm_binary
from leviathan_e2e.backends._api import ApiError
from leviathan_e2e.openshift import install_route_crd
from leviathan_e2e.release import REPO, Release, wait_for
from leviathan_e2e.supervisor import cluster_env

# Both tests read the weights from a claim filled from this host: the local backend only.
pytestmark = [pytest.mark.e2e, pytest.mark.local_backend]

CHART = "llamacpp"
PORT = 8080
SERVED = "tiny-moe"
MODEL_DIR = "tiny"
MODEL_STEM = "tiny-moe"
#: An arbitrary UID in the range OpenShift's restricted-v2 SCC assigns (the namespace's
#: openshift.io/sa.scc.uid-range), with GID 0 as OpenShift runs it.
OPENSHIFT_UID = 1000770000


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def llama_image(cluster, tmp_path_factory) -> dict:
    """The e2e llama-server image, built offline and loaded into the cluster."""
    started = time.monotonic()
    archive = _load(REPO / "images" / "llama-cpp" / "build_e2e.py", "llama_build_e2e").build_image(
        tmp_path_factory.mktemp("llama-image"))
    cluster.load_image(archive.path)
    print(f"\n[e2e] llama-server image built and loaded in {time.monotonic() - started:.1f}s", flush=True)
    repository, tag = archive.ref.rsplit(":", 1)
    return {"repository": repository, "tag": tag, "pullPolicy": "Never"}


@pytest.fixture
def restricted_namespace(kubectl, namespace) -> str:
    """The test namespace, enforcing PodSecurity `restricted` (what restricted-v2 demands and more)."""
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/enforce-version=latest")
    return namespace


#: ~1 GB, so that reading it (page cache dropped, loadMode none) lasts seconds: long enough to see
#: /health answer 503 through the apiserver, which learns the pod IP up to a kubelet relist (1 s)
#: after the container started. Experts are 93 % of it, as in Kimi-K2.
E2E_SHAPE = ("--layers", "12", "--embd", "512", "--heads", "8", "--kv-heads", "2", "--head-dim", "64",
             "--experts", "32", "--experts-used", "4", "--expert-ffn", "768", "--vocab", "32000")
CACHE = tools.CACHE / "models"


def cached_model() -> list[Path]:
    """The e2e model's two shards, written once per generator version and shape (seeded: same bytes)."""
    generator = REPO / "images" / "llama-cpp" / "tiny_moe_gguf.py"
    key = hashlib.sha256(generator.read_bytes() + " ".join(E2E_SHAPE).encode()).hexdigest()[:12]
    folder = CACHE / f"tiny-moe-{key}"
    names = [f"{MODEL_STEM}-0000{i}-of-00002.gguf" for i in (1, 2)]
    if not (folder / ".complete").exists():
        sys.path.insert(0, str(generator.parent))
        from tiny_moe_gguf import write_model
        shutil.rmtree(folder, ignore_errors=True)
        files = write_model(folder / f"{MODEL_STEM}.gguf", 2, *E2E_SHAPE)
        assert [f.name for f in files] == names
        (folder / ".complete").write_text("")
    return [folder / name for name in names]


def drop_from_page_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


@pytest.fixture
def model_claim(cluster, kubectl, namespace) -> str:
    """A PVC of the default StorageClass holding `tiny/tiny-moe-0000{1,2}-of-00002.gguf`, world-readable.
    (PodSecurity `restricted` refuses hostPath volumes; a claim is what a user would have.) The local
    backend's provisioner backs it with a directory on this host, which the test fills."""
    if cluster.name != "local":
        pytest.skip("the claim's directory is filled from the node, which is this host only on the local backend")
    claim = "tiny-model"
    kubectl.apply(yaml.safe_dump({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim, "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}))
    volume = wait_for("model claim bound", lambda: json.loads(kubectl(
        "get", "pvc", claim, "-n", namespace, "-o", "json").stdout)["spec"].get("volumeName"), 60)
    root = Path(json.loads(kubectl("get", "pv", volume, "-o", "json").stdout)["spec"]["hostPath"]["path"])
    (root / MODEL_DIR).mkdir(mode=0o755)
    for shard in cached_model():
        target = root / MODEL_DIR / shard.name
        shutil.copyfile(shard, target)
        target.chmod(0o644)
        drop_from_page_cache(target)
    return claim


def chart_values(image: dict, claim: str, platform: str) -> dict:
    """The chart's values for the tiny model on the CPU image: everything else is the chart's own."""
    return {
        "platform": platform,
        "image": image,
        "helperImage": image,  # busybox sh + wget for `helm test`
        "runtimeClassName": "",
        "gpus": {"count": 0},
        "model": {"dir": MODEL_DIR, "file": f"{MODEL_STEM}-00001-of-00002.gguf", "sizeGiB": 1,
                  "hostOverheadGiB": 1, "servedName": SERVED},
        # --verbose: the loader then names every tensor the chart's --override-tensor moves to CPU.
        "engine": {"ctxSize": 1024, "parallel": 1, "extraArgs": ["--verbose"]},
        "resources": {"cpu": {"request": 1}, "memory": {"limitGiB": 3}, "shmGiB": 1},
        "download": {"enabled": False},
        "storage": {"readMiBps": 128, "pvc": {"create": False, "existingClaim": claim}},
        "probes": {"startup": {"floorSeconds": 60, "ceilingSeconds": 120, "periodSeconds": 2},
                   "readiness": {"periodSeconds": 2, "timeoutSeconds": 2, "failureThreshold": 2},
                   "liveness": {"periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 3}},
        "terminationGracePeriodSeconds": 5,
        "tests": {"maxTokens": 8},
    }


def write_values(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def proxy(api, release: Release, pod: dict, path: str, body: dict | None = None) -> tuple[int, dict]:
    """HTTP to llama-server through the apiserver's pod proxy: (status, JSON body or {"text": ...})."""
    url = f"/api/v1/namespaces/{release.namespace}/pods/{pod['metadata']['name']}:{PORT}/proxy{path}"
    try:
        status, raw = 200, api.request("POST" if body is not None else "GET", url, body, timeout=120)
    except ApiError as error:
        status, raw = error.status, error.body
    if isinstance(raw, (dict, list)):
        return status, raw
    try:
        return status, json.loads(raw)
    except (TypeError, ValueError):
        return status, {"text": raw}


def health_until_ready(api, release: Release, timeout: float = 120) -> list[tuple[int, str]]:
    """Poll the new engine pod's /health as fast as the apiserver answers: llama-server's distinct
    answers in order. Until the pod has an IP and the port is open the apiserver answers itself
    (plain text or a `kind: Status` object, not llama-server's JSON): skipped."""
    pod = wait_for("engine pod created", lambda: [p for p in release.engine_pods()
                                                  if not p["metadata"].get("deletionTimestamp")], 60)[0]
    seen: list[tuple[int, str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = proxy(api, release, pod, "/health")
        if "text" not in body and body.get("kind") != "Status":
            message = (body.get("error") or {}).get("message", body.get("status", ""))
            if not seen or seen[-1] != (status, message):
                seen.append((status, message))
                print(f"[e2e]   /health {status} {message!r}", flush=True)
            if status == 200:
                return seen
        time.sleep(0.02)
    raise TimeoutError(f"/health never answered 200; answers so far: {seen}")


def chat(api, release: Release, pod: dict) -> dict:
    status, reply = proxy(api, release, pod, "/v1/chat/completions", {
        "model": SERVED, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8})
    assert status == 200, reply
    return reply


def engine_log(release: Release, pod: dict) -> str:
    """The engine's log. Bytes, decoded leniently: --verbose prints token pieces of the random model,
    which need not be UTF-8 (the text-mode Kubectl helper would fail on them)."""
    result = subprocess.run([release.kubectl.binary, f"--kubeconfig={release.kubectl.kubeconfig}", "logs", "-n",
                             release.namespace, pod["metadata"]["name"], "-c", "engine"],
                            capture_output=True, check=True, timeout=60, env=cluster_env())
    return result.stdout.decode(errors="replace")


def assert_serves_the_split_moe(api, release: Release, pod: dict) -> None:
    """/v1/models lists the alias, a chat completion answers, and the log shows both shards loaded
    with the experts kept in the CPU buffer by the chart's --override-tensor."""
    status, models = proxy(api, release, pod, "/v1/models")
    assert status == 200 and [m["id"] for m in models["data"]] == [SERVED], models
    reply = chat(api, release, pod)
    assert reply["choices"][0]["message"]["role"] == "assistant" and reply["usage"]["completion_tokens"] > 0, reply
    log = engine_log(release, pod)
    assert "additional 1 GGUFs metadata loaded" in log, log[-3000:]
    overridden = set(re.findall(r"tensor (blk\.\d+\.ffn_\w+_exps\.weight) .*buffer type overridden to CPU", log))
    assert overridden == {f"blk.{i}.ffn_{p}_exps.weight" for i in range(12) for p in ("gate", "up", "down")}


def test_chart_serves_the_real_engine_health_api_helm_test_upgrade_rollback(
        cluster, kubectl, restricted_namespace, llama_image, model_claim, tmp_path):
    api = cluster.api()
    release = Release(name="lev", chart=CHART, namespace=restricted_namespace, kubectl=kubectl)
    values = write_values(tmp_path, chart_values(llama_image, model_claim, "kubernetes"))
    release.install([values], wait=False)

    # /health: 503 "Loading model" while the weights load, then 200; the probes wait for it.
    answers = health_until_ready(api, release)
    assert answers[0] == (503, "Loading model") and answers[-1] == (200, "ok"), answers
    pod = wait_for("engine pod Ready", lambda: (p := release.engine_pod()) and release.ready(p) and p, 60)
    assert release.restarts(pod) == 0
    args = pod["spec"]["containers"][0]["args"]
    assert args[args.index("--override-tensor") + 1] == ".ffn_.*_exps.=CPU"
    assert args[args.index("--model") + 1] == f"/models/{MODEL_DIR}/{MODEL_STEM}-00001-of-00002.gguf"
    assert_serves_the_split_moe(api, release, pod)
    assert release.ready_endpoints() == 1

    # helm test: GET /v1/models and a chat completion through the Service, from the test pod.
    result = release.helm("test", release.name, timeout=300)
    assert "Phase:          Succeeded" in result.stdout, result.stdout

    # upgrade a value: a new pod with the new argument serves; rollback restores the first args.
    release.helm("upgrade", release.name, str(REPO / "charts" / CHART), "--reuse-values",
                 "--set", "engine.temperature=0.6", "--wait", "--timeout", "3m")
    upgraded = release.engine_pod()
    new_args = upgraded["spec"]["containers"][0]["args"]
    assert new_args[new_args.index("--temp") + 1] == "0.6" and new_args != args
    chat(api, release, upgraded)
    release.helm("rollback", release.name, "1", "--wait", "--timeout", "3m")
    rolled = wait_for("rollback to the original args", lambda: (p := release.engine_pod())
                      and p["spec"]["containers"][0]["args"] == args and release.ready(p) and p, 120)
    chat(api, release, rolled)


def openshift_bundle(values: Path) -> list[dict]:
    """What `rendered/llamacpp/openshift.yaml` is, for the e2e values: `helm template --skip-tests`."""
    out = subprocess.run([helm_binary(), "template", "lev", str(REPO / "charts" / CHART), "-f", str(values),
                          "--skip-tests"], capture_output=True, text=True, check=True, env=cluster_env())
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def as_restricted_v2_assigns(objects: list[dict]) -> list[dict]:
    """What the restricted-v2 SCC does at admission: a UID from the namespace's range for every pod
    that sets none. No runAsGroup: the runtime gives a UID without a passwd entry GID 0."""
    for obj in objects:
        template = obj.get("spec", {}).get("template", {})
        if "spec" in template:
            security = template["spec"].setdefault("securityContext", {})
            assert "runAsUser" not in security, f"{obj['kind']} fixes a UID: restricted-v2 would refuse it"
            security["runAsUser"] = OPENSHIFT_UID
    return objects


def test_openshift_bundle_applied_with_kubectl_serves_under_an_arbitrary_uid(
        cluster, kubectl, restricted_namespace, llama_image, model_claim, tmp_path):
    api, ns = cluster.api(), restricted_namespace
    # The Route CRD of openshift/api at the pinned revision (scripts/openshift-api, Go module proxy).
    install_route_crd(kubectl)

    # The shipped bundle, unchanged, passes the apiserver's validation, the Route against its CRD.
    shipped = (REPO / "rendered" / CHART / "openshift.yaml").read_text()
    kubectl("apply", "-n", ns, "--dry-run=server", "-f", "-", input=shipped)

    # The same bundle for the tiny model, with the UID the SCC would assign, applied for real.
    values = write_values(tmp_path, chart_values(llama_image, model_claim, "openshift"))
    objects = as_restricted_v2_assigns(openshift_bundle(values))
    kinds = [o["kind"] for o in objects]
    assert "Route" in kinds and kinds.count("NetworkPolicy") >= 3, kinds
    kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(objects))
    release = Release(name="lev", chart=CHART, namespace=ns, kubectl=kubectl)
    pod = wait_for("engine pod Ready", lambda: (p := release.engine_pods()) and release.ready(p[0]) and p[0], 180)
    ids = kubectl("exec", "-n", ns, pod["metadata"]["name"], "-c", "engine", "--", "id").stdout
    assert ids.startswith(f"uid={OPENSHIFT_UID} gid=0"), ids
    assert_serves_the_split_moe(api, release, pod)
    route = release.get("routes.route.openshift.io", "lev-llamacpp")
    assert route["spec"]["tls"]["termination"] == "edge"
    assert route["metadata"]["annotations"]["haproxy.router.openshift.io/timeout"] == "5m"
