"""The install-time quota check: quantity parsing (through the real Helm engine) and its silence
under `helm template`, where `lookup` sees no cluster."""

from __future__ import annotations

import shutil

import pytest

QUANTITIES = {"500Gi": 512000, "1.5Ti": 1572864, "600G": 572204, "512Mi": 512, "2048Ki": 2,
              "1073741824": 1024, "1Pi": 1073741824, "0": 0}


@pytest.fixture(scope="module")
def probe_chart(charts_dir, tmp_path_factory):
    chart = tmp_path_factory.mktemp("probe") / "vllm"
    shutil.copytree(charts_dir / "vllm", chart)
    lines = [f'{q}: {{{{ include "vllm.quantityMiB" "{q}" }}}}' for q in QUANTITIES]
    (chart / "templates" / "zz-probe.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n"
        + "\n".join(f"  {line}" for line in lines) + "\n")
    return chart


def test_quantities_convert_to_mib(helm, probe_chart):
    import yaml

    docs = [d for d in yaml.safe_load_all(helm.template(probe_chart).stdout) if d]
    probe = next(d for d in docs if d["metadata"]["name"] == "probe")
    assert {str(key): int(value) for key, value in probe["data"].items()} == QUANTITIES


def test_quota_check_is_silent_without_a_cluster(helm, charts_dir):
    """Under `helm template` lookup returns nothing: a huge request is not rejected by quota."""
    result = helm.template(charts_dir / "vllm", sets=["resources.memory.limitGiB=2000"])
    assert "namespace quota" not in result.stderr
