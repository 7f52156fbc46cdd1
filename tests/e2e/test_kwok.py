"""kwok fat GPU nodes: the Node shape, our Stage set, and the kwok command line
(which must never let kwok manage the real kubelet node)."""

from __future__ import annotations

from pathlib import Path

import yaml

from leviathan_e2e.kwok import FAKE_NODE_TAINT, KWOK_VERSION, fat_gpu_node, kwok_command, kwok_stages


def test_fat_node_matches_the_seed_h100_boxes():
    node = fat_gpu_node("kwok-gpu-0")
    status = node["status"]
    assert status["capacity"] == status["allocatable"]
    assert status["capacity"]["nvidia.com/gpu"] == "8"
    assert status["capacity"]["cpu"] == "384"
    assert status["capacity"]["memory"] == "1536Gi"  # 1.5 TiB
    labels = node["metadata"]["labels"]
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3" and labels["nvidia.com/gpu.count"] == "8"
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert node["spec"]["taints"] == [FAKE_NODE_TAINT] and FAKE_NODE_TAINT["effect"] == "NoSchedule"


def test_kwok_only_manages_annotated_nodes():
    cmd = kwok_command(Path("/bin/kwok"), Path("/k/kubeconfig"), Path("/k/stages.yaml"))
    assert "--manage-all-nodes=false" in cmd
    assert "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake" in cmd
    assert "--kubeconfig=/k/kubeconfig" in cmd and "--config=/k/stages.yaml" in cmd


def test_stage_set_covers_node_and_pod_lifecycles():
    stages = {s["metadata"]["name"]: s["spec"] for s in kwok_stages()}
    assert {s["resourceRef"]["kind"] for s in stages.values()} == {"Node", "Pod"}
    assert stages["leviathan-pod-delete"]["next"] == {"delete": True}
    complete = stages["leviathan-pod-complete"]["selector"]["matchExpressions"]
    assert {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]} in complete
    heartbeat = stages["leviathan-node-heartbeat"]["delay"]
    assert heartbeat["jitterDurationMilliseconds"] >= heartbeat["durationMilliseconds"] > 0
    for spec in stages.values():  # every template must be a string kwok renders, and the docs must round-trip
        template = spec["next"].get("statusTemplate")
        assert template is None or "{{" in template
    assert list(yaml.safe_load_all(yaml.safe_dump_all(kwok_stages()))) == kwok_stages()


def test_version_is_pinned():
    assert KWOK_VERSION.startswith("v") and KWOK_VERSION.count(".") == 2
