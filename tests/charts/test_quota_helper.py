"""The install-time quota check: quantity parsing and the check itself, through the real Helm engine.

`lookup` returns nothing under `helm template`, so the probe chart swaps the one `lookup` call for a
value (`global.fakeQuotas`, shaped like the API server's ResourceQuotaList); everything else is the
chart as shipped. Without the swap the check must stay silent.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

LOOKUP = 'lookup "v1" "ResourceQuota" .Release.Namespace ""'

QUANTITIES = {"500Gi": 512000, "1.5Ti": 1572864, "600G": 572204, "512Mi": 512, "2048Ki": 2,
              "1073741824": 1024, "1Pi": 1073741824, "0": 0,
              # read as 0 before: a 1Ei quota looked full
              "1Ei": 1099511627776, "2E": 1907348632812, "1500000000000m": 1430, "1e9": 953,
              "2E3": 0, "1.5e10": 14305, ".5Gi": 512}


@pytest.fixture(scope="module")
def probe_chart(charts_dir, tmp_path_factory):
    chart = tmp_path_factory.mktemp("probe") / "vllm"
    shutil.copytree(charts_dir / "vllm", chart)
    lines = [f'"{q}": {{{{ include "vllm.quantityMiB" "{q}" | quote }}}}' for q in QUANTITIES]
    (chart / "templates" / "zz-probe.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n"
        + "\n".join(f"  {line}" for line in lines) + "\n")
    helpers = chart / "templates" / "_helpers.tpl"
    text = helpers.read_text()
    assert text.count(LOOKUP) == 1, "the quota check no longer looks ResourceQuotas up the same way"
    helpers.write_text(text.replace(LOOKUP, '(index (.Values.global | default dict) "fakeQuotas")'))
    return chart


def quotas(hard: dict, used: dict | None = None) -> str:
    quota = {"metadata": {"name": "team", "namespace": "ai"}, "spec": {"hard": hard},
             "status": {"hard": hard, "used": used or {}}}
    return "global.fakeQuotas=" + json.dumps({"items": [quota]})


def render(helm, chart, *args):
    return helm.run("template", "t", str(chart), *args)


def test_quantities_convert_to_mib(helm, probe_chart):
    docs = [d for d in yaml.safe_load_all(helm.template(probe_chart).stdout) if d]
    probe = next(d for d in docs if d["metadata"]["name"] == "probe")
    assert {key: int(value) for key, value in probe["data"].items()} == QUANTITIES


def test_a_pod_larger_than_the_memory_quota_fails_with_the_quota_named(helm, probe_chart):
    result = render(helm, probe_chart, "--set", "resources.memory.limitGiB=600",
                    "--set-json", quotas({"limits.memory": "500Gi"}, {"limits.memory": "0"}))
    assert result.returncode != 0
    assert ("namespace quota: ResourceQuota team leaves 500 GiB of limits.memory in namespace ai, but the "
            "engine pod needs 600 GiB") in result.stderr, result.stderr


def test_used_quota_counts_and_a_pod_that_fits_passes(helm, probe_chart):
    fits = render(helm, probe_chart, "--set-json", quotas({"limits.memory": "1Ei"}, {"limits.memory": "2Ti"}))
    assert fits.returncode == 0, fits.stderr
    full = render(helm, probe_chart, "--set-json", quotas({"limits.memory": "100Gi"}, {"limits.memory": "50Gi"}))
    assert "leaves 50 GiB of limits.memory" in full.stderr, full.stderr


def test_a_gpu_quota_is_checked_against_gpus_count(helm, probe_chart):
    hard = {"requests.nvidia.com/gpu": "2"}
    result = render(helm, probe_chart, "--set-json", quotas(hard, {"requests.nvidia.com/gpu": "2"}))
    assert "ResourceQuota team leaves 0 of requests.nvidia.com/gpu, but gpus.count is 1" in result.stderr


def test_quota_check_is_silent_without_a_cluster(helm, charts_dir):
    """Under `helm template` lookup returns nothing: a huge request is not rejected by quota."""
    result = helm.template(charts_dir / "vllm", sets=["resources.memory.limitGiB=2000"], check=False)
    assert result.returncode == 0, result.stderr
