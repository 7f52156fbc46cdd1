"""Pinned image versions, read from images/versions.yaml (the single source of truth).

    image("vllm").tag                       -> "0.14.1-cu128"
    image("vllm").app_version               -> "0.14.1"  (the chart's appVersion)
    flavours("kt-sglang")["avx512"].ref     -> "leviathan/kt-sglang:0.7.2-cu128-avx512"
    images()                                -> every entry, by name
    built_images()                          -> the entries images/<context>/Dockerfile builds
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from . import cyaml as _cyaml

__all__ = ["VERSIONS_FILE", "ImagePin", "image", "images", "built_images", "flavours"]

VERSIONS_FILE = Path(__file__).resolve().parents[2] / "images" / "versions.yaml"


@dataclass(frozen=True)
class ImagePin:
    """One entry of images/versions.yaml."""

    name: str
    repository: str
    tag: str
    app_version: str
    args: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Build-arg pins; each equals the ARG default in the Dockerfile."""
    context: str | None = None
    """Folder under images/ with the Dockerfile; None for images pulled as they are (busybox)."""
    platforms: tuple[str, ...] = ()
    flavour: str | None = None
    """Variant of a shared Dockerfile: the kt-sglang CPU ISA (avx512|amx), llama.cpp (cuda|cpu)."""
    target: str | None = None
    """Dockerfile stage to build, when not the last one."""

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


def _pin(name: str, entry: dict) -> ImagePin:
    return ImagePin(
        name=name,
        repository=entry["repository"],
        tag=str(entry["tag"]),
        app_version=str(entry["appVersion"]),
        args=MappingProxyType({k: str(v) for k, v in (entry.get("args") or {}).items()}),
        context=entry.get("context"),
        platforms=tuple(entry.get("platforms") or ()),
        flavour=entry.get("flavour"),
        target=entry.get("target"),
    )


@cache
def _load(path: Path = VERSIONS_FILE) -> dict[str, ImagePin]:
    raw = _cyaml.safe_load(path.read_text())["images"]
    return {name: _pin(name, entry) for name, entry in raw.items()}


def images(path: Path = VERSIONS_FILE) -> dict[str, ImagePin]:
    """Every pinned image, by entry name."""
    return dict(_load(path))


def image(name: str, path: Path = VERSIONS_FILE) -> ImagePin:
    """The pin of one image, e.g. image("ktransformers").tag."""
    pins = _load(path)
    if name not in pins:
        raise KeyError(f"no image {name!r} in {path}; known: {', '.join(sorted(pins))}")
    return pins[name]


def built_images(path: Path = VERSIONS_FILE) -> dict[str, ImagePin]:
    """The images this repo builds (entries with a `context` folder)."""
    return {name: pin for name, pin in _load(path).items() if pin.context}


def flavours(context: str, path: Path = VERSIONS_FILE) -> dict[str, ImagePin]:
    """The flavours one Dockerfile builds, e.g. flavours("kt-sglang") -> {"avx512": ..., "amx": ...}."""
    found = {pin.flavour: pin for pin in _load(path).values() if pin.context == context and pin.flavour}
    if not found:
        raise KeyError(f"images/{context} builds no flavours (see {path})")
    return found
