"""kt-sglang's `cpu.isa` against the real scheduler: two kwok H100 boxes that differ only in the
Node Feature Discovery labels of their CPU. The AMD EPYC node has AVX512 and no AMX, the Intel
Sapphire Rapids node has both. Each `cpu.isa` value selects exactly one of them: an amx release
lands only on the Intel node, an avx512 release only on the AMD node (AVX512 code would run on
Sapphire Rapids too, but an AMX box should run the AMX flavour, so avx512 requires AMX absent).
Pinned to the other node, each stays Pending, and the scheduler names the affinity.

The weights are on a PersistentVolume without node affinity (hostPath, storage class `manual`), so
storage does not decide where the pod lands: only the ISA labels and the GPUs do.
"""

from __future__ import annotations

import json
import time

import pytest

from leviathan_e2e.kwok import FAKE_NODE_TAINT, KwokGpuNodes
from leviathan_e2e.release import REPO, Release, wait_for

pytestmark = pytest.mark.e2e

NFD = "feature.node.kubernetes.io/cpu-cpuid."
AMD_EPYC = {NFD + "AVX512F": "true", NFD + "AVX512BW": "true",
            "feature.node.kubernetes.io/cpu-model.vendor_id": "AMD"}
INTEL_SPR = {**AMD_EPYC, NFD + "AMXTILE": "true", NFD + "AMXINT8": "true", NFD + "AMXBF16": "true",
             "feature.node.kubernetes.io/cpu-model.vendor_id": "Intel"}
ICE = REPO / "charts" / "kt-sglang" / "profiles" / "ice.yaml"
CLAIM = "kimi-weights"


@pytest.fixture(scope="module")
def isa_nodes(cluster, kubectl, tmp_path_factory):
    started = time.monotonic()
    nodes = KwokGpuNodes(cluster.kubeconfig, tmp_path_factory.mktemp("kwok-isa"), count=2,
                         supervisor=getattr(cluster, "supervisor", None))
    amd, intel = nodes.start()
    for name, labels in ((amd, AMD_EPYC), (intel, INTEL_SPR)):
        # the ice profile's nodeSelector: both boxes are H100 nodes
        kubectl("label", "node", name, "--overwrite", "accelerator=nvidia-h100",
                *[f"{key}={value}" for key, value in labels.items()])
    print(f"\n[e2e] kwok AMD + Intel H100 nodes Ready in {time.monotonic() - started:.1f}s", flush=True)
    yield amd, intel
    nodes.stop()


@pytest.fixture
def weights_claim(kubectl, namespace):
    """A bound claim whose volume any node can mount (no node affinity)."""
    objects = [
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"{namespace}-kimi"},
         "spec": {"capacity": {"storage": "700Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                  "persistentVolumeReclaimPolicy": "Delete",
                  "claimRef": {"namespace": namespace, "name": CLAIM},
                  "hostPath": {"path": "/tmp/leviathan-e2e-kimi", "type": "DirectoryOrCreate"}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": CLAIM, "namespace": namespace},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual", "volumeName": f"{namespace}-kimi",
                  "resources": {"requests": {"storage": "700Gi"}}}},
    ]
    kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))
    # Until the PV controller binds the claim, the scheduler's first verdict is "unbound immediate
    # PersistentVolumeClaims", not the affinity these tests are about.
    wait_for("weights claim Bound", lambda: kubectl(
        "get", "pvc", CLAIM, "-n", namespace, "-o", "jsonpath={.status.phase}").stdout == "Bound", 60)
    yield CLAIM
    kubectl("delete", "pv", f"{namespace}-kimi", "--ignore-not-found", "--wait=false", check=False)


def on_kwok(**extra) -> dict:
    return {
        "nodeSelector": {"type": "kwok", **extra.pop("nodeSelector", {})},
        "tolerations": [{"key": FAKE_NODE_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}],
        "storage": {"pvc": {"create": False, "existingClaim": CLAIM}},
        "download": {"enabled": False},
        **extra,
    }


def install(kubectl, namespace, name: str, json_sets: dict) -> Release:
    release = Release(name, "kt-sglang", namespace, kubectl)
    release.install([ICE], wait=False, json_sets=json_sets)
    return release


def bound_node(release: Release) -> str:
    pods = wait_for("engine pod bound to a node",
                    lambda: [p for p in release.engine_pods() if p["spec"].get("nodeName")], 60)
    return pods[0]["spec"]["nodeName"]


def test_amx_release_lands_only_on_the_amx_node(kubectl, namespace, isa_nodes, weights_claim):
    amd, intel = isa_nodes
    release = install(kubectl, namespace, "kimi-amx", on_kwok(cpu={"isa": "amx"}))
    assert bound_node(release) == intel
    pod = release.engine_pod()
    assert pod["spec"]["containers"][0]["image"].endswith(":0.7.2-cu128-amx")
    assert "AMXINT4" in pod["spec"]["containers"][0]["args"]
    release.helm("uninstall", release.name, "--wait", "--timeout", "2m")


def assert_stays_pending_on_node_affinity(release: Release) -> None:
    # The scheduler's verdict is on the pod itself (PodScheduled=False, Unschedulable, with the reasons).
    def unschedulable():
        return [c for p in release.engine_pods() for c in p["status"].get("conditions", [])
                if c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"]

    condition = wait_for("engine pod Unschedulable", unschedulable, 60)[0]
    assert "didn't match Pod's node affinity/selector" in condition["message"], condition["message"]
    assert all(p["spec"].get("nodeName") is None for p in release.engine_pods())
    release.helm("uninstall", release.name, "--wait", "--timeout", "2m")


def test_amx_release_pinned_to_the_amd_node_stays_pending(kubectl, namespace, isa_nodes, weights_claim):
    amd, _ = isa_nodes
    pinned = on_kwok(cpu={"isa": "amx"}, nodeSelector={"kubernetes.io/hostname": amd})
    assert_stays_pending_on_node_affinity(install(kubectl, namespace, "kimi-amx-on-amd", pinned))


def test_avx512_release_pinned_to_the_amx_node_stays_pending(kubectl, namespace, isa_nodes, weights_claim):
    _, intel = isa_nodes
    pinned = on_kwok(nodeSelector={"kubernetes.io/hostname": intel})
    assert_stays_pending_on_node_affinity(install(kubectl, namespace, "kimi-avx512-on-intel", pinned))


def test_avx512_release_lands_only_on_the_amd_node(kubectl, namespace, isa_nodes, weights_claim):
    amd, _ = isa_nodes
    release = install(kubectl, namespace, "kimi-avx512", on_kwok())  # not pinned: both nodes are H100 kwok nodes
    assert bound_node(release) == amd
    container = release.engine_pod()["spec"]["containers"][0]
    assert container["image"].endswith(":0.7.2-cu128-avx512") and "RAWINT4" in container["args"]
    limits = container["resources"]["limits"]
    assert (limits["memory"], limits["cpu"], limits["nvidia.com/gpu"]) == ("650Gi", "128", "2")
    release.helm("uninstall", release.name, "--wait", "--timeout", "2m")
