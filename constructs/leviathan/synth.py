"""The synth pipeline: typed values -> cdk8s constructs -> Helm chart directories -> plain bundles.

One Python process builds every chart (cdk8s/jsii start-up is the fixed cost). Bundles
`rendered/<chart>/<profile>.yaml` are `helm template --skip-tests` of the chart just written, run by
Helm's own CLI code (helm/bundles.py: one helm-batch process, or the official binary per bundle), so
they carry exactly Helm's semantics; `default` uses values.yaml alone.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path


def _prepare_values_models() -> None:
    """Build the pydantic values models and load Kubernetes' schema definitions (values.schema.json
    inlines some); then import the variants, whose values models are a tenth of a second more. No
    jsii call: the variants only subclass cdk8s.Chart, and their import waits (module lock) until
    the main thread has imported cdk8s; cdk8s-plus, which the main thread imports next, they import
    only when a chart is built."""
    importlib.import_module("leviathan.config.common")
    importlib.import_module("leviathan.helm.kube_types")._definitions()
    importlib.import_module("leviathan.variants")


# Importing cdk8s is mostly waiting, GIL released, for the jsii node process to load its assemblies;
# _prepare_values_models (about 0.4 s of CPU) fits in that wait.
_values_models = threading.Thread(target=_prepare_values_models)
_values_models.start()

import cdk8s  # noqa: E402
import cdk8s_plus_30  # noqa: E402, F401  (loads its jsii assembly during the same wait)

_values_models.join()

from . import cyaml  # noqa: E402
from .helm import bundles  # noqa: E402
from .helm.chart import HelmChart  # noqa: E402
from .helm.chart_dir import write_chart  # noqa: E402
from .tools import ROOT  # noqa: E402
from .variants import REGISTRY, Variant  # noqa: E402

PROFILES = Path(__file__).resolve().parent / "variants" / "profiles"


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Bundle:
    chart: str
    profile: str
    release: str
    values_file: Path | None


def deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def profile_files(chart: str) -> list[Path]:
    folder = PROFILES / chart
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def check_profile(chart: HelmChart, path: Path) -> None:
    """Validate a profile against the values model, so a typo fails synth, not a user's install."""
    defaults = chart.defaults.model_dump(mode="json", by_alias=True)
    override = cyaml.safe_load(path.read_text()) or {}
    try:
        type(chart.defaults).model_validate(deep_merge(defaults, override))
    except ValueError as error:
        raise ProfileError(f"{path}: {error}") from error


def bundle_args(bundle: Bundle, charts_dir: Path) -> list[str]:
    # --skip-tests: `kubectl/oc apply` would start the `helm test` pod at once, before the engine loads.
    args = ["template", bundle.release, str(charts_dir / bundle.chart), "--skip-tests"]
    return args + (["-f", str(bundle.values_file)] if bundle.values_file else [])


def bundle_text(bundle: Bundle, rendering: Future[bundles.Result]) -> str:
    result = rendering.result()
    if result.exit != 0:
        raise SystemExit(f"helm template {bundle.chart} ({bundle.profile}) failed:\n{result.stderr}")
    return result.stdout


def build_charts(variants: list[Variant] | None = None) -> list[tuple[Variant, HelmChart]]:
    app = cdk8s.App()
    return [(variant, variant.chart(app)) for variant in (variants or REGISTRY)]


def synth(root: Path = ROOT, log=print) -> list[Path]:
    """Write charts/ and rendered/ under `root`, all or nothing.

    Everything is written into a temp dir beside them first; only when every chart and bundle is done
    are the old trees swapped out, so a failure halfway (a bad profile, a helm error) leaves the
    committed output as it was.
    """
    started = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".synth-", dir=root))
    try:
        written = _write_all(staging, log)
        for part in ("charts", "rendered"):
            _swap(staging / part, root / part)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f">> synth: done in {time.perf_counter() - started:.2f} s")
    return [root / path.relative_to(staging) for path in written]


def _swap(fresh: Path, target: Path) -> None:
    """Replace `target` by `fresh` with renames (same filesystem), so it is never half written."""
    retired = fresh.with_name(fresh.name + ".old")
    if target.exists():
        target.rename(retired)
    fresh.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def _write_all(root: Path, log) -> list[Path]:
    charts_dir, rendered_dir = root / "charts", root / "rendered"
    written: list[Path] = []
    renders: list[tuple[Bundle, Future[bundles.Result]]] = []
    # Each chart's bundles start rendering as soon as its directory is written, so Helm works on the
    # other core while Python builds the next chart. Results are collected and written in a fixed
    # order; the first failing bundle, in that order, is reported.
    renderer = bundles.renderer()
    try:
        for variant, chart in build_charts():
            profiles = profile_files(variant.name)
            for path in profiles:
                check_profile(chart, path)
            dest = charts_dir / variant.name
            write_chart(chart, dest, profiles, variant.readme_notes)
            written.append(dest)
            chart_bundles = [Bundle(variant.name, "default", variant.name, None)]
            chart_bundles += [Bundle(variant.name, p.stem, p.stem, dest / "profiles" / p.name) for p in profiles]
            renders += [(bundle, renderer.submit(bundle_args(bundle, charts_dir))) for bundle in chart_bundles]
            log(f">> synth: charts/{variant.name} ({len(profiles)} profiles)")
        for bundle, rendering in renders:
            out = rendered_dir / bundle.chart / f"{bundle.profile}.yaml"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(bundle_text(bundle, rendering))
            written.append(out)
            log(f">> synth: rendered/{bundle.chart}/{bundle.profile}.yaml by {renderer.name}")
    finally:
        renderer.close()
    return written
