"""Values the charts accept render what the real API server accepts.

The fast tier's property test (tests/charts/test_values_fuzz.py) checks every accepted draw against
the Kubernetes OpenAPI schema and the API server's format rules, reimplemented in Python. Here a
fixed, derandomized sample of the same draws (values from each chart's values.schema.json, odd
release names) goes to the real apiserver with `kubectl apply --dry-run=server`: its validation,
defaulting and admission run, and nothing is stored.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from leviathan_e2e.supervisor import cluster_env
from leviathan_e2e.release import REPO, helm_binary
from tests.charts.schema_strategies import draws

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("LEVIATHAN_DRY_RUN_EXAMPLES", "25"))
CHARTS = ["ktransformers", "vllm"]


def accepted_renders(chart: str, tmp_path) -> list[tuple[str, str]]:
    """(context, manifests) for each derandomized draw that `helm template` accepts."""
    chart_dir = REPO / "charts" / chart
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    values = tmp_path / "values.json"
    renders: list[tuple[str, str]] = []

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(draw=draws(schema))
    def sample(draw):
        values.write_text(json.dumps(draw.overrides), encoding="utf-8")
        args = [helm_binary(), "template", draw.release, str(chart_dir), "-f", str(values), "--skip-tests"]
        for pair in draw.sets:
            args += ["--set", pair]
        result = subprocess.run(args, capture_output=True, text=True, env=cluster_env())
        if result.returncode == 0:
            renders.append((f"release={draw.release!r} values={draw.overrides!r} sets={draw.sets!r}",
                            result.stdout))

    sample()
    return renders


@pytest.mark.parametrize("chart", CHARTS)
def test_accepted_draws_pass_the_api_servers_dry_run(chart, kubectl, namespace, tmp_path):
    renders = accepted_renders(chart, tmp_path)
    assert len(renders) >= EXAMPLES // 5, f"too few accepted draws to mean anything: {len(renders)}"
    for context, manifests in renders:
        objects = [doc for doc in yaml.safe_load_all(manifests) if doc]
        result = kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=manifests, check=False)
        assert result.returncode == 0, f"the API server refuses an accepted render:\n{result.stderr}\n{context}"
        assert result.stdout.count("(server dry run)") == len(objects), result.stdout
    print(f"\n[e2e] {chart}: {len(renders)} accepted draws passed the API server's dry run", flush=True)
