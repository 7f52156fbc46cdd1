"""Property: for every value and release name Helm accepts, either `helm template` fails with a sentence
naming a values field, or every rendered manifest is accepted by the API server (strict OpenAPI
schema + its format checks) and the engine's parser accepts the command line.

Values are drawn from each chart's own values.schema.json (schema_strategies.py). `make test` runs a
fixed, derandomized sweep within a ~60 s budget; `make fuzz` runs a longer random one
(LEVIATHAN_FUZZ_EXAMPLES, LEVIATHAN_FUZZ_RANDOM=1).
"""

from __future__ import annotations

import json
import os
import re
import time

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from . import api_server_rules
from .conftest import CHART_NAMES, docs, engine_container
from .engine_flags import ENGINE_OF_CHART, engine_flag_errors
from .kube_schema import validate_strict
from .schema_strategies import Draw, draws, schema_paths
from .test_engine_parsers import parse_with_engine, vllm_python  # noqa: F401 - the pinned vLLM environment (fixture)
from .test_sglang_parser import sglang_python  # noqa: F401 - sglang-kt's environment (fixture)

EXAMPLES = int(os.environ.get("LEVIATHAN_FUZZ_EXAMPLES", "90"))
RANDOM = os.environ.get("LEVIATHAN_FUZZ_RANDOM") == "1"
# Charts whose sweep is also parsed by the engine's real parser: (engine environment, engine name).
REAL_PARSER = {"vllm": ("vllm", "vLLM"), "kt-sglang": ("sglang", "sglang-kt")}
# What Helm's own errors say when it refuses input before any template runs.
REFUSALS = ("values don't meet the specifications of the schema", "VALUES VALIDATION:")
# A Go printf error in the output ("%!d(string=x)", "%!s(MISSING)"), not a user's literal "%!".
PRINTF_BUG = re.compile(r"%!\w*\(")
STATS: dict[str, dict[str, float]] = {}


def values_file_text(overrides: dict) -> str:
    """JSON is YAML, so no YAML-level surprise (`on`, `1.0`) sits between the draw and Helm. Characters
    YAML forbids raw (DEL, C1 controls) are escaped, as a user's values file would have to."""
    text = json.dumps(overrides, ensure_ascii=False)
    return re.sub(r"[\x7f-\x9f\u2028\u2029\ufeff]", lambda m: f"\\u{ord(m.group()):04x}", text)


class Sweep:
    def __init__(self, helm, chart_dir, tmp_path):
        self.helm, self.chart_dir, self.values = helm, chart_dir, tmp_path / "values.json"
        self.schema = json.loads((chart_dir / "values.schema.json").read_text())
        self.paths = schema_paths(self.schema)
        self.engine = ENGINE_OF_CHART.get(chart_dir.name, chart_dir.name)
        self.stats = {"draws": 0, "rendered": 0, "refused": 0}
        # rendered command lines, with the draw that made them, for the batch run of vLLM's parser
        self.argvs: list[tuple[list[str], str]] = []

    def check(self, draw: Draw) -> None:
        self.stats["draws"] += 1
        self.values.write_text(values_file_text(draw.overrides), encoding="utf-8")
        args = ["template", draw.release, str(self.chart_dir), "-f", str(self.values)]
        for pair in draw.sets:
            args += ["--set", pair]
        result = self.helm.run(*args)
        context = f"release={draw.release!r} values={draw.overrides!r} sets={draw.sets!r}"
        if result.returncode != 0:
            self.stats["refused"] += 1
            error = result.stderr
            assert any(marker in error for marker in REFUSALS), f"not a values error:\n{error}\n{context}"
            assert not PRINTF_BUG.search(error) and "<no value>" not in error, f"template bug:\n{error}\n{context}"
            assert any(path in error for path in self.paths), f"no field named:\n{error}\n{context}"
            return
        self.stats["rendered"] += 1
        assert not PRINTF_BUG.search(result.stdout) and "<no value>" not in result.stdout, context
        manifests = docs(result.stdout)
        for manifest in manifests:
            try:
                validate_strict(manifest)
            except kubernetes_validate.ValidationError as error:
                raise AssertionError(f"{manifest['kind']} fails the Kubernetes schema: {error}\n{context}") from None
            problems = api_server_rules.errors(manifest)
            assert not problems, f"{manifest['kind']} would be refused: {problems}\n{context}"
        args = engine_container(manifests)["args"]
        # engine.extraArgsUnchecked is the named escape hatch, appended last without the manifest
        # check (for an image with extra patches): what the user vouches for is not checked here.
        unchecked = (draw.overrides.get("engine") or {}).get("extraArgsUnchecked") or []
        args = args[:len(args) - len(unchecked)] if isinstance(unchecked, list) and unchecked else args
        problems = engine_flag_errors(self.engine, args)
        assert not problems, f"the engine would refuse its command line: {problems}\n{args}\n{context}"
        self.argvs.append((args, context))


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_accepted_values_render_valid_manifests(request, helm, charts_dir, tmp_path, chart):
    sweep = Sweep(helm, charts_dir / chart, tmp_path)
    started = time.perf_counter()

    @settings(max_examples=EXAMPLES, derandomize=not RANDOM, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(draw=draws(sweep.schema))
    def property_holds(draw):
        sweep.check(draw)

    property_holds()
    STATS[chart] = {**sweep.stats, "seconds": round(time.perf_counter() - started, 1)}
    print(f"\n{chart}: {STATS[chart]}")
    assert sweep.stats["rendered"] >= sweep.stats["draws"] // 5, f"too few draws render: {sweep.stats}"
    if chart in REAL_PARSER:
        engine, name = REAL_PARSER[chart]
        verdicts = parse_with_engine(request.getfixturevalue(f"{engine}_python"), engine,
                                     [argv for argv, _ in sweep.argvs], tmp_path)
        for verdict, (_, context) in zip(verdicts, sweep.argvs):
            assert verdict["accepted"], f"{name}'s own parser refuses: {verdict}\n{context}"
