#!/usr/bin/env python3
"""Build the fake-gpu-plugin image offline (the kind backend's DaemonSet image): no Docker, no registry.

Same contract as ``images/fake-gpu-plugin/Dockerfile`` (``python:3.11-slim`` + pip), from local inputs:

1. Debian's CPython 3.11 (``python3.11-minimal`` + ``libpython3.11-stdlib``) and ``libstdc++6`` with
   their dependency closure, taken as the model-downloader e2e image takes it
   (``images/model-downloader/build.py``);
2. grpcio, protobuf and pyyaml copied from this checkout's ``.venv``, which ``make setup`` installed
   from ``requirements.lock`` (hash-pinned cp311 manylinux wheels: they run on Debian's glibc 2.36);
   the same versions the Dockerfile pins (a test checks those against requirements.lock);
3. ``leviathan_e2e`` (``__init__``, ``supervisor`` + ``deviceplugin``) in ``/app`` and its generated v1beta1 stubs in
   ``/opt/leviathan-cache`` (what the Dockerfile's build-time ``_stubs.stub_dir()`` call produces).

Differences from the Dockerfile's image: CPython 3.11.2 (Debian) instead of 3.11.14; no pip, no
grpcio-tools (only needed to generate the stubs, done here at build time).

    python images/fake-gpu-plugin/build.py [--out DIR]     # prints the tarball path
"""

from __future__ import annotations

import importlib.util
import sys
import re
from importlib.metadata import distribution, requires
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for source_root in (REPO / "constructs", REPO / "e2e"):
    if str(source_root) not in sys.path:  # allow running without an editable install
        sys.path.insert(0, str(source_root))

from leviathan_e2e.backends.kind import _plugin_image_ref  # noqa: E402
from leviathan_e2e.debian import CACHE, dependency_closure  # noqa: E402
from leviathan_e2e.deviceplugin import _stubs  # noqa: E402
from leviathan_e2e.images import ImageArchive, assemble_image, build_script_main  # noqa: E402

_spec = importlib.util.spec_from_file_location("model_downloader_build", REPO / "images" / "model-downloader" / "build.py")
model_downloader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_downloader)

PYTHON = model_downloader.PYTHON
#: grpcio's and protobuf's extension modules link libstdc++ (manylinux wheels do not bundle it).
DEBIAN_ROOTS = (*model_downloader.DEBIAN_ROOTS, "libstdc++6")
SITE = f"/usr/local/lib/python{PYTHON}/dist-packages"  # on Debian's default sys.path
#: Distributions the plugin imports (requirements.lock pins them and what they require), copied with
#: their RECORDed files.
DISTRIBUTIONS = ("grpcio", "protobuf", "pyyaml")
ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": "/app",
       "LEVIATHAN_CACHE": "/opt/leviathan-cache"}


def with_requirements(names: tuple[str, ...]) -> list[str]:
    """*names* and what they require (no extras), as installed in this environment."""
    todo, seen = list(names), []
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.append(name)
        for req in requires(name) or ():
            if "extra ==" not in req:
                todo.append(re.split(r"[ ;<>=~!\[]", req, maxsplit=1)[0])
    return seen


def distribution_files(name: str) -> dict[str, Path]:
    """In-image path -> installed file of one distribution (from its RECORD), without scripts."""
    dist = distribution(name)
    files = {}
    for f in dist.files or ():
        path = Path(dist.locate_file(f)).resolve()
        if f.parts[0] == ".." or "__pycache__" in f.parts or not path.is_file():
            continue  # console scripts outside site-packages; bytecode the image does not need
        files[f"{SITE}/{f.as_posix()}"] = path
    return files


def build_image(out_dir: Path) -> ImageArchive:
    closure = dependency_closure(DEBIAN_ROOTS)
    files: dict = dict(model_downloader.debian_files(closure.packages))
    for name in with_requirements(DISTRIBUTIONS):  # grpcio needs typing-extensions
        files.update(distribution_files(name))
    pkg = REPO / "e2e" / "leviathan_e2e"
    files["/app/leviathan_e2e/__init__.py"] = pkg / "__init__.py"
    files["/app/leviathan_e2e/supervisor.py"] = pkg / "supervisor.py"  # deviceplugin.host imports it
    for src in sorted((pkg / "deviceplugin").iterdir()):
        if src.is_file():
            files[f"/app/leviathan_e2e/deviceplugin/{src.name}"] = src
    # python:slim has these; Path.home() (the stubs' cache default) needs root's entry without $HOME
    files["/etc/passwd"] = b"root:x:0:0:root:/root:/usr/sbin/nologin\n"
    files["/etc/group"] = b"root:x:0:\n"
    stubs = _stubs.stub_dir()
    files[f"/opt/leviathan-cache/deviceplugin-stubs/{stubs.name}"] = stubs
    ref = _plugin_image_ref()
    return assemble_image(
        ref, files, entrypoint=[f"/usr/bin/python{PYTHON}", "-m", "leviathan_e2e.deviceplugin"], env=ENV,
        symlinks={"/usr/bin/python": f"python{PYTHON}", "/usr/bin/python3": f"python{PYTHON}"},
        dirs={"/tmp": 0o1777, "/root": 0o700}, workdir="/app", user="0",
        out_tar=out_dir / f"{ref.split('/')[-1].replace(':', '-')}.tar",
        labels={"org.opencontainers.image.title": "leviathan fake-gpu-plugin (e2e, Debian python)",
                "io.leviathan.debian-packages": " ".join(f"{p}={v}" for p, v in closure.packages.items())},
    )


def main() -> None:
    build_script_main(build_image, __doc__, CACHE / "images")


if __name__ == "__main__":
    main()
