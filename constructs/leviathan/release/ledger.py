"""The release ledger `releases/ledger.yaml` and the per-version snapshots beside it.

For each chart, the ledger lists every released version, oldest first: its appVersion, the day it
was recorded, the digest of the chart's content and of its values schema, and the bump the
policy required. `releases/<chart>/<version>/` keeps that version's values.schema.json and
Chart.yaml, the baseline the next version's schema is compared with.

`make release-record` appends the charts' current versions (after the policy check in policy.py);
`make test` runs `check()`, which fails on a chart whose content changed without a bump.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from ..tools import ROOT

LEDGER_HEADER = """\
# Release ledger of the Leviathan charts. Written by `make release-record`; do not edit by hand.
# For each chart, every released version (oldest first): appVersion, the day it was recorded, the
# digest of the chart's files and of its values.schema.json, and the bump the policy required.
# releases/<chart>/<version>/ holds that version's values.schema.json and Chart.yaml.
"""


@dataclass(frozen=True)
class Layout:
    """Where a checkout keeps its charts, ledger and packages (tests point it at a copy)."""

    root: Path = ROOT

    @property
    def charts(self) -> Path:
        return self.root / "charts"

    @property
    def rendered(self) -> Path:
        return self.root / "rendered"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def ledger(self) -> Path:
        return self.releases / "ledger.yaml"

    @property
    def dist(self) -> Path:
        return self.root / "dist"

    def snapshot(self, chart: str, version: str) -> Path:
        return self.releases / chart / version

    def chart_names(self) -> list[str]:
        return sorted(p.parent.name for p in self.charts.glob("*/Chart.yaml"))


@dataclass(frozen=True)
class Entry:
    version: str
    appVersion: str
    date: str
    digest: str
    schema: str
    bump: str


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def content_digest(chart_dir: Path) -> str:
    """Digest of every file of a chart (path and bytes), independent of mtimes and walk order."""
    lines = []
    for path in sorted(p for p in chart_dir.rglob("*") if p.is_file()):
        lines.append(f"{path.relative_to(chart_dir).as_posix()}\0{sha256(path.read_bytes())}\n")
    return sha256("".join(lines).encode())


@dataclass(frozen=True)
class ChartState:
    """A chart as it is in charts/<name> now."""

    name: str
    version: str
    app_version: str
    digest: str
    schema: dict
    schema_digest: str

    @classmethod
    def read(cls, layout: Layout, name: str) -> "ChartState":
        folder = layout.charts / name
        meta = yaml.safe_load((folder / "Chart.yaml").read_text())
        schema_bytes = (folder / "values.schema.json").read_bytes()
        return cls(name, str(meta["version"]), str(meta["appVersion"]), content_digest(folder),
                   json.loads(schema_bytes), sha256(schema_bytes))


def load(layout: Layout) -> dict[str, list[Entry]]:
    if not layout.ledger.exists():
        return {}
    raw = yaml.safe_load(layout.ledger.read_text()) or {}
    return {chart: [Entry(**{k: str(v) for k, v in item.items()}) for item in items]
            for chart, items in (raw.get("charts") or {}).items()}


def save(layout: Layout, ledger: dict[str, list[Entry]]) -> None:
    doc = {"charts": {chart: [asdict(entry) for entry in ledger[chart]] for chart in sorted(ledger)}}
    layout.ledger.parent.mkdir(parents=True, exist_ok=True)
    layout.ledger.write_text(LEDGER_HEADER + yaml.safe_dump(doc, sort_keys=False, width=120))


def snapshot_schema(layout: Layout, chart: str, version: str) -> dict:
    path = layout.snapshot(chart, version) / "values.schema.json"
    if not path.exists():
        raise FileNotFoundError(f"{path.relative_to(layout.root)} is missing: the ledger records {chart} "
                                f"{version} but not its schema")
    return json.loads(path.read_text())


def write_snapshot(layout: Layout, chart: str, version: str) -> None:
    folder = layout.snapshot(chart, version)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("values.schema.json", "Chart.yaml"):
        (folder / name).write_bytes((layout.charts / chart / name).read_bytes())


def latest(ledger: dict[str, list[Entry]], chart: str) -> Entry | None:
    entries = ledger.get(chart) or []
    return entries[-1] if entries else None
