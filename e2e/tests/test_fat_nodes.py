"""Seed-scale values against seed-scale nodes: kwok fakes H100 boxes (8 GPUs, 384 CPUs, 1.5 TiB) on
the real control plane, so the scheduler decides with the real numbers. Pods there never run (kwok
only marks them Running); health flows are proven on the real node in test_charts.py."""

from __future__ import annotations

import time

import pytest

from leviathan_e2e.kwok import FAKE_NODE_TAINT, KWOK_VERSION, KwokGpuNodes, kwok_binary
from leviathan_e2e.release import REPO, Release, wait_for

pytestmark = pytest.mark.e2e

def on_fat_node(name: str) -> dict:
    return {
        "nodeName": "",
        # hostPath storage is node-local, so the chart requires a pin to one node by hostname
        "nodeSelector": {"type": "kwok", "kubernetes.io/hostname": name},
        "tolerations": [{"key": FAKE_NODE_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}],
        # the profile's NodePort 30000 is cluster-wide: two releases in a row would collide
        "service": {"type": "ClusterIP", "nodePort": 0},
    }


@pytest.fixture(scope="module")
def h100_node(cluster, tmp_path_factory) -> str:
    started = time.monotonic()
    if not kwok_binary().exists():
        print(f"\n[e2e] building kwok {KWOK_VERSION} from the Go module proxy (once, ~4 min) ...", flush=True)
    nodes = KwokGpuNodes(cluster.kubeconfig, tmp_path_factory.mktemp("kwok"), count=1,
                         supervisor=getattr(cluster, "supervisor", None))
    names = nodes.start()
    print(f"\n[e2e] kwok H100 node {names[0]} Ready in {time.monotonic() - started:.1f}s", flush=True)
    yield names[0]
    nodes.stop()


def test_leviathan_profile_schedules_on_an_h100_box_with_its_real_sizes(kubectl, namespace, h100_node):
    """416 GiB of RAM, 96 CPUs and 2 GPUs: fits a 1.5 TiB / 384-CPU / 8-GPU node; the download Job
    lands on the same node (hostPath storage is node-local)."""
    release = Release("leviathan", "ktransformers", namespace, kubectl)
    release.install([REPO / "charts" / "ktransformers" / "profiles" / "leviathan.yaml"], wait=False,
                    json_sets=on_fat_node(h100_node))
    pod = wait_for("engine pod bound to the H100 node",
                   lambda: [p for p in release.engine_pods() if p["spec"].get("nodeName") == h100_node], 60)[0]
    limits = pod["spec"]["containers"][0]["resources"]["limits"]
    assert (limits["memory"], limits["cpu"], limits["nvidia.com/gpu"]) == ("416Gi", "96", "2")
    # The Job controller creates its pod asynchronously, and the scheduler binds it later still.
    job_pods = wait_for("download Job pod bound to a node", lambda: [
        p for p in release.get("pods", "-l", "app.kubernetes.io/component=model-download")["items"]
        if p["spec"].get("nodeName")], 60)
    assert {p["spec"]["nodeName"] for p in job_pods} == {h100_node}


def test_a_pod_bigger_than_the_biggest_node_stays_pending(kubectl, namespace, h100_node):
    release = Release("huge", "ktransformers", namespace, kubectl)
    release.install([REPO / "charts" / "ktransformers" / "profiles" / "leviathan.yaml"], wait=False,
                    json_sets={**on_fat_node(h100_node), "gpus": {"count": 8, "layerSplit": [8, 8, 8, 8, 8, 7, 7, 7]},
                               "resources": {"memory": {"limitGiB": 2048}}})
    events = wait_for("FailedScheduling on memory", lambda: [
        e for e in release.events("FailedScheduling") if "Insufficient memory" in e.get("message", "")], 60)
    assert events
    assert all(p["spec"].get("nodeName") is None for p in release.engine_pods())
