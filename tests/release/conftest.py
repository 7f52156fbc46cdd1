"""A copy of the checkout's charts/, rendered/ and releases/ that a test may change: the release
tooling takes a Layout, so the real ledger is never touched."""

from __future__ import annotations

import json

import pytest
import yaml

from leviathan.release.ledger import Layout
from leviathan_e2e.publishing import copy_checkout as copy_layout

__all__ = ["copy_layout", "layout", "set_version", "add_changelog", "edit_schema"]


@pytest.fixture
def layout(tmp_path) -> Layout:
    return copy_layout(tmp_path / "checkout")


def set_version(layout: Layout, chart: str, version: str, app_version: str | None = None) -> None:
    path = layout.charts / chart / "Chart.yaml"
    meta = yaml.safe_load(path.read_text())
    meta["version"] = version
    if app_version:
        meta["appVersion"] = app_version
    path.write_text(yaml.safe_dump(meta, sort_keys=False))


def add_changelog(layout: Layout, chart: str, version: str, entry: str = "- changed: a test change") -> None:
    path = layout.releases / chart / "CHANGELOG.md"
    text = path.read_text()
    first = text.index("\n## ")
    path.write_text(f"{text[:first]}\n## {version}\n\n{entry}\n{text[first:]}")


def edit_schema(layout: Layout, chart: str, change) -> None:
    path = layout.charts / chart / "values.schema.json"
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=2))
