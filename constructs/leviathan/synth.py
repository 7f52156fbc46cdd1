"""The synth pipeline: typed values -> cdk8s constructs -> Helm chart directories -> plain bundles.

Two processes share the work when main.py runs it (`fork_values`): a forked one imports the pydantic
models, sends each chart's values shape and makes every chart's values files (values_process.py),
while this one starts jsii, builds the constructs from the shapes and writes the templates; it never
imports pydantic. Bundles
`rendered/<chart>/<profile>.yaml` are `helm template --skip-tests` of the chart just written, run by
Helm's own CLI code (helm/bundles.py: one helm-batch process, or the official binary per bundle), so
they carry exactly Helm's semantics; `default` uses values.yaml alone.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .helm import bundles
from .tools import ROOT
from .values_process import InProcessValues, ValuesProcess

if TYPE_CHECKING:
    from .helm.chart import HelmChart
    from .config.shape import ValuesShape
    from .helm.values_files import ValuesFiles
    from .variants import Variant

__all__ = ["ROOT", "synth"]


@dataclass(frozen=True)
class Bundle:
    chart: str
    profile: str
    release: str
    values_file: Path | None


def bundle_args(bundle: Bundle, charts_dir: Path) -> list[str]:
    # --skip-tests: `kubectl/oc apply` would start the `helm test` pod at once, before the engine loads.
    args = ["template", bundle.release, str(charts_dir / bundle.chart), "--skip-tests"]
    return args + (["-f", str(bundle.values_file)] if bundle.values_file else [])


def bundle_text(bundle: Bundle, rendering: Future[bundles.Result]) -> str:
    result = rendering.result()
    if result.exit != 0:
        raise SystemExit(f"helm template {bundle.chart} ({bundle.profile}) failed:\n{result.stderr}")
    return result.stdout


def build_charts(variants: list[Variant] | None = None,
                 shapes: dict[str, ValuesShape] | None = None) -> Iterator[tuple[Variant, HelmChart]]:
    """The charts, built one at a time: synth writes each before the next is built, so Helm renders
    its bundles on the other core while jsii builds the next one. `shapes`: the charts' values
    shapes, if already made (else each chart makes its own from its model)."""
    import cdk8s

    from .variants import REGISTRY

    app = cdk8s.App()
    for variant in variants or REGISTRY:
        yield variant, variant.chart(app, (shapes or {}).get(variant.name))


def synth(root: Path = ROOT, log=print, *, fork_values: bool = False) -> list[Path]:
    """Write charts/ and rendered/ under `root`, all or nothing.

    Everything is written into a temp dir beside them first; only when every chart and bundle is done
    are the old trees swapped out, so a failure halfway (a bad profile, a helm error) leaves the
    committed output as it was.

    `fork_values`: make the values files (helm/values_files.py) in a forked process, on the other
    core, while this one starts jsii and builds the constructs. main.py asks for it; it needs a
    process with no other thread yet, so where one runs (jsii's, a test runner's) they are made here.
    """
    started = time.perf_counter()
    values = ValuesProcess() if fork_values and threading.active_count() == 1 else None
    if values:
        log(">> synth: values.yaml, values.schema.json and profile checks in a second process")
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".synth-", dir=root))
        try:
            written = _write_all(staging, log, values or InProcessValues())
            for part in ("charts", "rendered"):
                _swap(staging / part, root / part)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        if values:
            values.close()
    log(f">> synth: done in {time.perf_counter() - started:.2f} s")
    return [root / path.relative_to(staging) for path in written]


def _swap(fresh: Path, target: Path) -> None:
    """Replace `target` by `fresh` with renames (same filesystem), so it is never half written."""
    retired = fresh.with_name(fresh.name + ".old")
    if target.exists():
        target.rename(retired)
    fresh.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def _write_all(root: Path, log, values: ValuesProcess | InProcessValues) -> list[Path]:
    from .helm.chart_dir import write_chart
    from .helm.values_files import profile_files

    charts_dir, rendered_dir = root / "charts", root / "rendered"
    written: list[Path] = []
    renders: list[tuple[Bundle, Future[bundles.Result]]] = []
    # Each chart's bundles start rendering as soon as its directory is written, so Helm works on the
    # other core while Python builds the next chart. Results are collected and written in a fixed
    # order; the first failing bundle, in that order, is reported.
    renderer = bundles.renderer()
    try:
        files: dict[str, ValuesFiles] | None = None
        for variant, chart in build_charts(shapes=values.shapes()):
            files = files or values.result()  # the first chart is built before this waits
            profiles = profile_files(variant.name)
            dest = charts_dir / variant.name
            write_chart(chart, dest, profiles, variant.readme_notes, files[variant.name])
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
