"""What the image tests share: loading a build script from images/ as a module, and opening the
single-layer docker-archive tarballs those scripts write."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .dockerfile import IMAGES


def load_image_script(relative: str) -> ModuleType:
    """images/<relative> (e.g. "mock-engine/build.py") as a module; the scripts are not a package."""
    path = IMAGES / relative
    spec = importlib.util.spec_from_file_location(path.parent.name.replace("-", "_") + "_" + path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class ImageArchive:
    manifest: list[dict]
    config: dict
    layer_bytes: bytes
    layer: tarfile.TarFile


def read_image_archive(path: Path) -> ImageArchive:
    """A docker-archive (`docker save` layout) with one layer, as the offline builders write it."""
    with tarfile.open(path) as outer:
        members = {m.name: outer.extractfile(m).read() for m in outer.getmembers() if m.isfile()}
    manifest = json.loads(members["manifest.json"])
    layer_bytes = members[manifest[0]["Layers"][0]]
    return ImageArchive(manifest, json.loads(members[manifest[0]["Config"]]), layer_bytes,
                        tarfile.open(fileobj=io.BytesIO(layer_bytes)))
