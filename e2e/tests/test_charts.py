"""Every chart, installed for real: health flows, GPUs, Helm lifecycle.

A chart joins by adding `e2e/values/<chart>.yaml` (mock-engine image, small sizes). The mock engines
reproduce the real engines' observable start-up (KTransformers: port closed while loading; vLLM:
refused until ready; see images/mock-engine), so the chart's probes are exercised as they would be
against the real thing.
"""

from __future__ import annotations

import json

import pytest

from leviathan_e2e.release import REPO, Release, wait_for

pytestmark = pytest.mark.e2e

VALUES = sorted((REPO / "e2e" / "values").glob("*.yaml"))
CHARTS = [path.stem for path in VALUES]
ENGINE_PORT = {"ktransformers": 10002, "vllm": 8000, "llamacpp": 8080, "kt-sglang": 30000}
# A value each chart's upgrade moves (it must change the engine's args).
UPGRADE = {"vllm": "engine.maxModelLen=16384", "llamacpp": "engine.ctxSize=8192",
           "kt-sglang": "engine.maxTotalTokens=32768"}
# like it gets fake GPUs: the mock engine executes no AVX512 code.
NFD_LABELS = {"kt-sglang": ["feature.node.kubernetes.io/cpu-cpuid.AVX512F=true",
                            "feature.node.kubernetes.io/cpu-cpuid.AVX512BW=true"]}
# The e2e values give a 20 s startup budget (floor), probed every 2 s.
LOAD_WITHIN_BUDGET = "8"
LOAD_BEYOND_BUDGET = "300"
# Over-asking for GPUs: a valid release that cannot fit the node's 4 fake GPUs. A hostPath volume
# instead of the PVC keeps "unbound PVC" out of the scheduler's reasons.
NO_PVC = ["storage.pvc.create=false", "storage.hostPath.path=/tmp/leviathan-e2e-unused",
          "storage.hostPath.type=DirectoryOrCreate"]
TOO_MANY_GPUS = {"ktransformers": ["gpus.count=8", "engine.backendType=ktransformers", *NO_PVC],
                 "vllm": ["gpus.count=8", *NO_PVC], "llamacpp": ["gpus.count=8", *NO_PVC],
                 "kt-sglang": ["gpus.count=8", *NO_PVC]}


@pytest.fixture
def release(request, kubectl, namespace, mock_engine_image, fake_gpus) -> Release:
    chart = request.param
    if chart in NFD_LABELS:
        for node in json.loads(kubectl("get", "nodes", "-l", "!type", "-o", "json").stdout)["items"]:
            kubectl("label", "node", node["metadata"]["name"], "--overwrite", *NFD_LABELS[chart])
    return Release(name="lev", chart=chart, namespace=namespace, kubectl=kubectl)


def values(chart: str) -> list:
    return [REPO / "e2e" / "values" / f"{chart}.yaml"]


def load_seconds(seconds: str) -> dict:
    """The mock engine's load time (env values must stay strings, hence --set-json)."""
    return {"extraEnv": [{"name": "MOCK_LOAD_SECONDS", "value": seconds}]}


@pytest.mark.parametrize("release", CHARTS, indirect=True)
def test_lifecycle_install_probe_gpu_test_upgrade_rollback_uninstall(release):
    chart = release.chart
    # A load shorter than the startup budget is tolerated: --wait returns once Ready, no restart.
    release.install(values(chart), json_sets=load_seconds(LOAD_WITHIN_BUDGET))
    pod = release.engine_pod()
    assert release.ready(pod) and release.restarts(pod) == 0

    # The RuntimeClass is used, and the pod got its fake GPU from the device plugin.
    assert pod["spec"]["runtimeClassName"] == "nvidia"
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert release.exec_env(pod, "NVIDIA_VISIBLE_DEVICES").startswith("GPU-")

    # Readiness gates the Service: the ready pod is its one endpoint.
    assert release.ready_endpoints() == 1

    # helm test: GET /v1/models and one chat completion through the Service.
    result = release.helm("test", release.name, timeout=300)
    assert "Phase:          Succeeded" in result.stdout, result.stdout

    # Liveness restarts a hung engine (the mock stops answering after POST /mock/hang).
    release.pod_http(pod, ENGINE_PORT[chart], "/mock/hang", post=True)
    wait_for("liveness restart of the hung engine",
             lambda: release.restarts(release.engine_pod()) >= 1, timeout=120)
    # ... and it was the liveness probe that restarted it: the kubelet says so for this pod's engine
    # container. (The mock exits 0 on the kubelet's SIGTERM, like an engine that shuts down cleanly,
    # so the exit code cannot tell a liveness kill from a crash; the event can.)
    killed = wait_for("kubelet event: failed liveness probe, will be restarted", lambda: [
        e for e in release.events("Killing") if "failed liveness probe" in e.get("message", "")], timeout=30)
    assert killed[0]["involvedObject"]["name"] == pod["metadata"]["name"]
    assert killed[0]["message"].startswith("Container engine failed liveness probe, will be restarted")
    assert any("Liveness probe failed" in e.get("message", "") for e in release.events("Unhealthy"))
    # The kubelet bumps restartCount and fills lastState in separate status syncs (seen once in CI:
    # restartCount 1 with an empty lastState), so wait for the record of the killed container.
    wait_for("the killed container's termination record", lambda: release.engine_pod()["status"]
             ["containerStatuses"][0].get("lastState", {}).get("terminated"), timeout=30)
    wait_for("engine ready again", lambda: release.ready(release.engine_pod()), timeout=120)

    # helm upgrade of a value rolls out a new pod; helm rollback restores the old one.
    served = lambda: release.engine_pod()["spec"]["containers"][0]["args"]  # noqa: E731
    original = served()
    release.helm("upgrade", release.name, str(REPO / "charts" / chart), "--reuse-values",
                 "--set", UPGRADE.get(chart, "engine.maxNewTokens=512"),
                 "--wait", "--timeout", "4m")
    upgraded = served()
    assert upgraded != original
    release.helm("rollback", release.name, "1", "--wait", "--timeout", "4m")
    wait_for("rollback to the original args", lambda: served() == original, timeout=120)

    # helm uninstall removes everything but the model volume (resource-policy: keep).
    release.helm("uninstall", release.name, "--wait", "--timeout", "2m")

    def leftovers():
        items = release.get("deployments,services,pods,configmaps,jobs")["items"]
        return [o["metadata"]["name"] for o in items if o["metadata"]["name"] != "kube-root-ca.crt"]

    wait_for("all release objects gone", lambda: not leftovers(), timeout=90)
    claims = release.get("persistentvolumeclaims")["items"]
    assert [c["metadata"]["name"] for c in claims] == [f"lev-{chart}-models"]


@pytest.mark.parametrize("release", CHARTS, indirect=True)
def test_load_longer_than_the_startup_budget_is_restarted(release):
    release.install(values(release.chart), wait=False, json_sets=load_seconds(LOAD_BEYOND_BUDGET))
    pod = wait_for("engine pod running", lambda: [p for p in release.engine_pods()
                                                  if p["status"].get("phase") == "Running"], timeout=120)[0]
    # While it loads, readiness keeps it out of the Service.
    assert not release.ready(pod)
    assert release.ready_endpoints() == 0
    wait_for("restart after the startup budget", lambda: release.restarts(release.engine_pod()) >= 1,
             timeout=120)
    assert release.ready_endpoints() == 0
    messages = " ".join(e.get("message", "") for e in release.events("Unhealthy"))
    # Only the startup probe ends a slow load: no engine bounds its own load (vLLM 0.14.1 waits
    # for the engine core without a deadline).
    assert "Startup probe failed" in messages, messages


@pytest.mark.parametrize("release", CHARTS, indirect=True)
def test_more_gpus_than_the_node_has_stays_pending(release, fake_gpus, kubectl):
    # A hostPath store must be pinned to one node (the chart refuses it otherwise): the GPU node.
    nodes = json.loads(kubectl("get", "nodes", "-l", "!type", "-o", "json").stdout)["items"]
    node = nodes[0]["metadata"]["labels"]["kubernetes.io/hostname"]
    release.install(values(release.chart), TOO_MANY_GPUS[release.chart], wait=False,
                    json_sets={"nodeSelector": {"kubernetes.io/hostname": node}})

    def failed_scheduling():
        return [e for e in release.events("FailedScheduling") if "nvidia.com/gpu" in e.get("message", "")]

    events = wait_for("FailedScheduling for nvidia.com/gpu", failed_scheduling, timeout=60)
    assert "Insufficient nvidia.com/gpu" in events[0]["message"]
    assert release.engine_pod()["status"]["phase"] == "Pending"


@pytest.mark.parametrize("release", CHARTS, indirect=True)
def test_bad_values_are_rejected_before_anything_is_created(release):
    result = release.install(values(release.chart), ["gpus.count=-1"], wait=False, check=False)
    assert result.returncode != 0 and "gpus/count" in result.stderr
    cross = release.install(values(release.chart), ["service.nodePort=30007"], wait=False, check=False)
    assert cross.returncode != 0 and "service.nodePort=30007 only applies" in cross.stderr
    objects = release.get("all,pvc,configmaps")["items"]
    assert [o["metadata"]["name"] for o in objects if o["metadata"]["name"] != "kube-root-ca.crt"] == []
    releases = json.loads(release.helm("list", "-o", "json").stdout)
    assert releases == []


@pytest.mark.parametrize("release", CHARTS, indirect=True)
def test_install_under_a_too_small_namespace_quota_is_refused_with_the_reason(release, kubectl):
    """The Kimi seed's failure: a 500Gi memory quota under a model that needs ~600 GiB. Without the
    check the Deployment is created and its pod is silently never made; with it, `helm install`
    says why and creates nothing."""
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "aic-memory"},
             "spec": {"hard": {"limits.memory": "500Gi", "requests.memory": "500Gi"}}}
    kubectl("apply", "-n", release.namespace, "-f", "-", input=json.dumps(quota))
    result = release.install(values(release.chart), ["resources.memory.limitGiB=600", "model.sizeGiB=1"],
                             wait=False, check=False)
    assert result.returncode != 0
    assert "ResourceQuota aic-memory leaves 500 GiB of limits.memory" in result.stderr, result.stderr
    assert "needs 600 GiB" in result.stderr
    assert release.get("deployments")["items"] == []
    # The same values fit once the quota is raised.
    kubectl("patch", "resourcequota", "aic-memory", "-n", release.namespace, "--type=merge",
            "-p", json.dumps({"spec": {"hard": {"limits.memory": "700Gi", "requests.memory": "700Gi"}}}))
    wait_for("quota raised", lambda: release.get("resourcequota", "aic-memory")["status"]
             .get("hard", {}).get("limits.memory") == "700Gi", timeout=30)
    fits = release.install(values(release.chart), ["resources.memory.limitGiB=600"], wait=False, check=False)
    assert fits.returncode == 0, fits.stderr
