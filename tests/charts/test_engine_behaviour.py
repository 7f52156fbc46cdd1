"""Derived values rendered by the real Helm: startup budget, placement rules, GPU pinning, VLLM_PORT."""

from __future__ import annotations

import pytest
import yaml

from .conftest import docs, engine_container, find


def budget(helm, charts_dir, chart: str, **sets) -> tuple[int, int, int]:
    args = [f"{key}={value}" for key, value in sets.items()]
    manifests = docs(helm.template(charts_dir / chart, sets=args).stdout)
    deployment = find(manifests, "Deployment")
    probe = engine_container(manifests)["startupProbe"]
    seconds = int(deployment["metadata"]["annotations"]["leviathan.dev/startup-budget-seconds"])
    return seconds, probe["failureThreshold"], probe["periodSeconds"]


@pytest.mark.parametrize(("size", "read", "expected"), [
    (377, 3000, 600),      # 2 x 129 s on fast NVMe: the 600 s floor applies
    (377, 500, 1544),      # 2 x 377 GiB / 500 MiB/s
    (377, 100, 7200),      # a slow network volume hits the 2 h ceiling
])
def test_startup_budget_follows_size_and_read_throughput(helm, charts_dir, size, read, expected):
    seconds, threshold, period = budget(helm, charts_dir, "ktransformers",
                                        **{"model.sizeGiB": size, "storage.readMiBps": read})
    assert seconds == expected
    assert threshold * period >= seconds > (threshold - 1) * period


def test_vllm_ready_timeout_is_left_at_its_default(helm, charts_dir):
    # In vLLM 0.14.1 VLLM_ENGINE_READY_TIMEOUT_S does not bound the model load (it bounds the engine's
    # first message after the startup handshake), so the chart must not pretend it does.
    manifests = docs(helm.template(charts_dir / "vllm", sets=["model.sizeGiB=400", "storage.readMiBps=200", "storage.pvc.sizeGiB=450"]).stdout)
    env = {e["name"]: e.get("value") for e in engine_container(manifests)["env"]}
    assert "VLLM_ENGINE_READY_TIMEOUT_S" not in env


def rules_for(helm, charts_dir, *sets) -> list[dict]:
    manifests = docs(helm.template(charts_dir / "ktransformers", sets=[
        "gpus.count=2", "engine.backendType=ktransformers", *sets]).stdout)
    return yaml.safe_load(find(manifests, "ConfigMap", "optimize-rules")["data"]["optimize-rules.yaml"])


def placement(rules: list[dict]) -> dict[int, str]:
    """layer -> device of the per-layer 'default' rules."""
    import re
    placed = {}
    for rule in rules:
        match = re.fullmatch(r"\^model\\\.layers\\\.\(([\d|]+)\)\\\.", rule["match"]["name"])
        if match and rule["replace"]["class"] == "default":
            for layer in match.group(1).split("|"):
                assert int(layer) not in placed, f"layer {layer} placed twice"
                placed[int(layer)] = rule["replace"]["kwargs"]["generate_device"]
    return placed


def test_uneven_split_places_every_layer_once_and_transfers_at_the_boundary(helm, charts_dir):
    rules = rules_for(helm, charts_dir, "gpus.layerSplit={46,15}")
    layers = placement(rules)
    assert sorted(layers) == list(range(61))
    assert {layer for layer, device in layers.items() if device == "cuda:1"} == set(range(46, 61))
    model_rule = next(rule for rule in rules if rule["match"]["name"] == "^model$")
    assert model_rule["replace"]["kwargs"]["transfer_map"] == {46: "cuda:1"}
    experts = [rule for rule in rules if rule["match"]["name"].endswith("mlp\\.experts$")]
    assert {rule["replace"]["kwargs"]["generate_device"] for rule in experts} == {"cpu"}


def test_even_split_when_no_split_is_given(helm, charts_dir):
    layers = placement(rules_for(helm, charts_dir))
    assert sum(1 for device in layers.values() if device == "cuda:0") == 31
    assert sum(1 for device in layers.values() if device == "cuda:1") == 30


def test_generated_rules_are_mounted_and_passed_only_for_multi_gpu(helm, charts_dir):
    single = engine_container(docs(helm.template(charts_dir / "ktransformers").stdout))
    assert "--optimize_config_path" not in single["args"]
    multi = engine_container(docs(helm.template(charts_dir / "ktransformers", sets=[
        "gpus.count=2", "engine.backendType=ktransformers"]).stdout))
    index = multi["args"].index("--optimize_config_path")
    assert multi["args"][index + 1] == "/etc/leviathan/optimize-rules.yaml"
    assert {"name": "optimize-rules", "mountPath": "/etc/leviathan", "readOnly": True} in multi["volumeMounts"]


def test_seed_flags_that_do_not_exist_are_never_emitted(charts_dir):
    text = (charts_dir / "ktransformers" / "templates" / "deployment.yaml").read_text()
    assert "--cpu_offload_max_threads" not in text and "--gpu_split" not in text


def test_vllm_pinned_by_uuid_requests_no_device_plugin_gpu(helm, charts_dir):
    manifests = docs(helm.template(charts_dir / "vllm", sets=[
        "gpus.count=0", "gpus.visibleDevices={GPU-f4f210c1-5a52-7267-979e-fe922961190a}"]).stdout)
    container = engine_container(manifests)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["NVIDIA_VISIBLE_DEVICES"] == "GPU-f4f210c1-5a52-7267-979e-fe922961190a"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]


def test_vllm_pod_never_sees_service_links_and_has_no_port_named_vllm(helm, charts_dir):
    manifests = docs(helm.template(charts_dir / "vllm", "vllm").stdout)
    pod = find(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False
    service = find(manifests, "Service")
    assert service["metadata"]["name"] == "vllm-api", "a Service named vllm injects VLLM_PORT"
    assert service["spec"]["ports"][0]["name"] == "http"
    assert "--quantization" not in engine_container(manifests)["args"]


def test_uninstall_keeps_the_model_volume(helm, charts_dir):
    for chart in ("ktransformers", "vllm"):
        pvc = find(docs(helm.template(charts_dir / chart).stdout), "PersistentVolumeClaim")
        assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_only_numa_interleave_keeps_sys_nice(helm, charts_dir):
    """numactl --interleave needs set_mempolicy, which the RuntimeDefault seccomp profile allows only
    with CAP_SYS_NICE; without numactl the engine keeps no capability at all."""
    plain = engine_container(docs(helm.template(charts_dir / "ktransformers").stdout))
    assert plain["command"][0] != "numactl"
    assert plain["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    numa = engine_container(docs(helm.template(charts_dir / "ktransformers",
                                               sets=["engine.numaInterleave=true"]).stdout))
    assert numa["command"][:2] == ["numactl", "--interleave=all"]
    assert numa["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["SYS_NICE"]}
    assert numa["securityContext"]["allowPrivilegeEscalation"] is False
    for chart in ("vllm",):
        other = engine_container(docs(helm.template(charts_dir / chart).stdout))
        assert other["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_download_job_runs_where_the_engine_runs(helm, charts_dir):
    """hostPath storage is node-local: the Job must get the engine's node placement, all of it."""
    placement = ["nodeName=node-a", "nodeSelector.gpu=h100", "tolerations[0].key=gpu",
                 "tolerations[0].operator=Exists", "affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution"
                 "[0].weight=1", "affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
                 ".preference.matchExpressions[0].key=zone", "affinity.nodeAffinity.preferredDuringScheduling"
                 "IgnoredDuringExecution[0].preference.matchExpressions[0].operator=Exists"]
    manifests = docs(helm.template(charts_dir / "ktransformers", sets=[
        "storage.hostPath.path=/var/mnt/data/models", "storage.pvc.create=false", *placement]).stdout)
    engine = find(manifests, "Deployment")["spec"]["template"]["spec"]
    job = find(manifests, "Job")["spec"]["template"]["spec"]
    for key in ("nodeName", "nodeSelector", "tolerations", "affinity"):
        assert key in engine and job.get(key) == engine[key], key
