"""The synth pipeline: typed values -> cdk8s constructs -> Helm chart directories -> plain bundles.

One Python process builds every chart (cdk8s/jsii start-up is the fixed cost). Bundles
`rendered/<chart>/<profile>.yaml` are rendered by the official `helm` binary from the chart just
written (`helm template --skip-tests`), so they carry exactly Helm's semantics; `default` uses
values.yaml alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cdk8s
import yaml

from .helm.chart import HelmChart
from .helm.chart_dir import write_chart
from .variants import REGISTRY, Variant

ROOT = Path(__file__).resolve().parents[2]
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
    override = yaml.safe_load(path.read_text()) or {}
    try:
        type(chart.defaults).model_validate(deep_merge(defaults, override))
    except ValueError as error:
        raise ProfileError(f"{path}: {error}") from error


def helm_binary() -> str:
    venv_helm = ROOT / ".venv" / "bin" / "helm"
    found = os.environ.get("LEVIATHAN_HELM") or shutil.which("helm") or (venv_helm.exists() and str(venv_helm))
    if not found:
        raise SystemExit("helm not found: run `make setup` (installs the pinned official binary into .venv/bin)")
    return found


def render_bundle(bundle: Bundle, charts_dir: Path) -> str:
    # --skip-tests: `kubectl/oc apply` would start the `helm test` pod at once, before the engine loads.
    command = [helm_binary(), "template", bundle.release, str(charts_dir / bundle.chart), "--skip-tests"]
    if bundle.values_file:
        command += ["-f", str(bundle.values_file)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
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
    bundles: list[Bundle] = []
    for variant, chart in build_charts():
        profiles = profile_files(variant.name)
        for path in profiles:
            check_profile(chart, path)
        dest = charts_dir / variant.name
        write_chart(chart, dest, profiles, variant.readme_notes)
        written.append(dest)
        bundles.append(Bundle(variant.name, "default", variant.name, None))
        bundles += [Bundle(variant.name, p.stem, p.stem, dest / "profiles" / p.name) for p in profiles]
        log(f">> synth: charts/{variant.name} ({len(profiles)} profiles)")
    # helm processes are independent: render the bundles concurrently, write them in a fixed order.
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(pool.map(lambda bundle: render_bundle(bundle, charts_dir), bundles))
    for bundle, text in zip(bundles, texts):
        out = rendered_dir / bundle.chart / f"{bundle.profile}.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        written.append(out)
        log(f">> synth: rendered/{bundle.chart}/{bundle.profile}.yaml")
    return written
