"""Values the charts accept render what the real API server accepts.

The fast tier's property test (tests/charts/test_values_fuzz.py) checks every accepted draw against
the Kubernetes OpenAPI schema and the API server's format rules, reimplemented in Python. Here a
fixed, derandomized sample of the same draws (values from each chart's values.schema.json, odd
release names) goes to the real apiserver with `kubectl apply --dry-run=server`: its validation,
defaulting and admission run, and nothing is stored. Draws with `platform: openshift` render a Route:
the Route CRD of the pinned openshift/api is installed first, so the apiserver validates it against
its real schema.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from leviathan.tools import helm_binary
from leviathan_e2e.openshift import install_route_crd
from leviathan_e2e.supervisor import cluster_env
from leviathan_e2e.release import REPO
from tests.charts.schema_strategies import draws

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("LEVIATHAN_DRY_RUN_EXAMPLES", "25"))
#: kt-sglang and llamacpp refuse most draws (4 to 7 in 25 are accepted): twice the draws for them.
DRAWS = {"kt-sglang": 2 * EXAMPLES, "llamacpp": 2 * EXAMPLES}
#: (chart, `--set` pairs forced after each draw's own): llamacpp's draws rarely pick
#: `platform: openshift`, so a second sweep forces it and its Route and NetworkPolicies always render.
SWEEPS = [*(pytest.param(chart, (), id=chart) for chart in ("ktransformers", "vllm", "kt-sglang", "llamacpp")),
          pytest.param("llamacpp", ("platform=openshift",), id="llamacpp-openshift")]


def accepted_renders(chart: str, tmp_path, forced: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(context, manifests) for each derandomized draw that `helm template` accepts."""
    chart_dir = REPO / "charts" / chart
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    values = tmp_path / "values.json"
    renders: list[tuple[str, str]] = []

    @settings(max_examples=DRAWS.get(chart, EXAMPLES), derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(draw=draws(schema))
    def sample(draw):
        values.write_text(json.dumps(draw.overrides), encoding="utf-8")
        args = [helm_binary(), "template", draw.release, str(chart_dir), "-f", str(values), "--skip-tests"]
        for pair in (*draw.sets, *forced):
            args += ["--set", pair]
        result = subprocess.run(args, capture_output=True, text=True, env=cluster_env())
        if result.returncode == 0:
            renders.append((f"release={draw.release!r} values={draw.overrides!r} sets={draw.sets!r}",
                            result.stdout))

    sample()
    return renders


@pytest.mark.parametrize("chart,forced", SWEEPS)
def test_accepted_draws_pass_the_api_servers_dry_run(chart, forced, kubectl, namespace, tmp_path):
    if forced:
        install_route_crd(kubectl)
    renders = accepted_renders(chart, tmp_path, forced)
    assert len(renders) >= EXAMPLES // 5, f"too few accepted draws to mean anything: {len(renders)}"
    kinds: dict[str, int] = {}
    for context, manifests in renders:
        objects = [doc for doc in yaml.safe_load_all(manifests) if doc]
        result = kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=manifests, check=False)
        assert result.returncode == 0, f"the API server refuses an accepted render:\n{result.stderr}\n{context}"
        assert result.stdout.count("(server dry run)") == len(objects), result.stdout
        for obj in objects:
            kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
    if forced:  # the sample must reach the OpenShift objects, or the Route CRD proves nothing
        assert kinds.get("Route") and kinds.get("NetworkPolicy"), kinds
    print(f"\n[e2e] {chart} {' '.join(forced)}: {len(renders)} accepted draws passed the API server's dry run "
          f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})", flush=True)
