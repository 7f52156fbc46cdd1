"""Pinned image versions, read from images/versions.yaml (the single source of truth)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

VERSIONS_FILE = Path(__file__).resolve().parents[2] / "images" / "versions.yaml"


@dataclass(frozen=True)
class ImagePin:
    name: str
    repository: str
    tag: str
    app_version: str

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


@cache
def _load(path: Path = VERSIONS_FILE) -> dict:
    return yaml.safe_load(path.read_text())["images"]


def image(name: str) -> ImagePin:
    """The pin of one image, e.g. image("ktransformers").tag."""
    entry = _load()[name]
    return ImagePin(name, entry["repository"], str(entry["tag"]), str(entry["appVersion"]))
