#!/usr/bin/env python3
"""Build the e2e model-downloader image offline: Debian's Python 3.11 + the pinned wheels. No Docker, no registry.

The real image (``Dockerfile`` here) is ``python:3.12-slim`` plus a venv at ``/opt/venv`` with the
hash-pinned closure of ``requirements.txt``. No image registry is reachable in e2e, so this script
assembles an image with the same contract from package registries only:

1. Debian's ``python3.11-minimal`` and ``libpython3.11-stdlib`` and their dependency closure, computed
   from Debian's metadata (``leviathan_e2e.debian.dependency_closure``), each package fetched with
   ``apt-get download`` and extracted (cached per version in ``~/.cache/leviathan/debs/``);
2. the wheels of ``requirements.txt``, installed with ``pip --require-hashes --only-binary=:all:`` for
   CPython 3.11 on Debian's glibc into ``/opt/venv/lib/python3.11/site-packages`` (cached in
   ``~/.cache/leviathan/model-downloader/``), with a ``pyvenv.cfg`` so ``/opt/venv/bin/python`` is a venv
   exactly as in the real image;
3. the same user (UID 1000, group 0, ``HOME=/home/downloader``), environment, ``/scripts`` mount point
   and ``CMD ["python", "/scripts/hf_download.py"]`` as the Dockerfile. Like the real image it ships no
   script: the chart mounts the payload from its ConfigMap.

Differences from the real image (also in e2e/README.md): CPython 3.11.2 from Debian bookworm instead of
3.12, so pyyaml (the only wheel tied to one CPython version) uses its cp311 wheel, hash-pinned below;
no shell and no pip in the image; no precompiled ``.pyc`` (Debian compiles them in maintainer scripts,
which an extracted image never runs).

Usage::

    python images/model-downloader/build.py [--out DIR]     # prints the tarball path
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for source_root in (REPO / "constructs", REPO / "e2e"):
    if str(source_root) not in sys.path:  # allow running without an editable install
        sys.path.insert(0, str(source_root))

from leviathan.versions import image  # noqa: E402
from leviathan_e2e.debian import CACHE, Closure, dependency_closure, debian_package  # noqa: E402
from leviathan_e2e.images import ImageArchive, assemble_image, build_script_main  # noqa: E402

REQUIREMENTS = HERE / "requirements.txt"
REPOSITORY = "leviathan/model-downloader-e2e"
PYTHON = "3.11"
DEBIAN_ROOTS = (f"python{PYTHON}-minimal", f"libpython{PYTHON}-stdlib")
#: requirements.txt pins CPython 3.12 wheels; pyyaml is the one package whose wheel is per CPython version.
#: Its cp311 manylinux x86_64 wheel, as files.pythonhosted.org serves it (pip checks this hash).
CP311_HASHES = {"pyyaml": "sha256:b8bb0864c5a28024fac8a632c443c87c5aa6f215c0b126c449ae1a150412f31d"}
#: Parts of a Debian package a container never reads.
SKIPPED_PREFIXES = ("usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/lintian/",
                    "usr/share/bug/", "usr/share/doc-base/")
VENV = "/opt/venv"
SITE_PACKAGES = f"{VENV}/lib/python{PYTHON}/site-packages"
HOME = "/home/downloader"
UID = 1000
#: What the Dockerfile sets (ENV, USER, WORKDIR, CMD): the chart relies on `python` being on PATH.
ENV = {
    "PATH": f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": HOME,
    "PYTHONUNBUFFERED": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}
CMD = ["python", "/scripts/hf_download.py"]


def pinned(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)", REQUIREMENTS.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"{package} is not pinned in {REQUIREMENTS}")
    return match[1]


def image_ref() -> str:
    return f"{REPOSITORY}:hfhub{pinned('huggingface-hub')}-debian-py{PYTHON}"


def requirements_for_cp311() -> str:
    """requirements.txt with the cp311 hashes added to their packages' hash lists."""
    text = REQUIREMENTS.read_text()
    for package, digest in CP311_HASHES.items():
        line = f"{package}=={pinned(package)} \\\n"
        if line not in text:
            raise RuntimeError(f"{REQUIREMENTS} lacks the line {line.strip()!r}")
        text = text.replace(line, f"{line}    --hash={digest} \\\n")
    return text


def glibc_version(libc6_version: str) -> tuple[int, int]:
    """Debian's libc6 version (e.g. '2.36-9+deb12u13') -> (2, 36)."""
    match = re.match(r"(\d+)\.(\d+)", libc6_version)
    if not match:
        raise ValueError(f"unexpected libc6 version {libc6_version!r}")
    return int(match[1]), int(match[2])


def manylinux_platforms(glibc: tuple[int, int], arch: str = "x86_64") -> list[str]:
    """Every manylinux tag a glibc of that version runs (pip 23 does not expand them itself)."""
    major, minor = glibc
    tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 4, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    return tags + [f"{name}_{arch}" for m, name in legacy.items() if m <= minor]


def site_packages(glibc: tuple[int, int]) -> Path:
    """The wheels of requirements.txt installed for CPython 3.11 on this glibc (cached by input)."""
    requirements = requirements_for_cp311()
    platforms = manylinux_platforms(glibc)
    key = hashlib.sha256((requirements + " ".join(platforms)).encode()).hexdigest()[:16]
    target = CACHE / "model-downloader" / f"site-packages-{key}"
    done = target.with_name(target.name + ".complete")
    if done.exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(requirements)
        staging = Path(tmp) / "site-packages"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--require-hashes", "--only-binary=:all:", "--no-deps", "--no-compile",
             "--python-version", PYTHON, "--implementation", "cp", "--abi", f"cp{PYTHON.replace('.', '')}",
             *[arg for platform in platforms for arg in ("--platform", platform)],
             "--target", str(staging), "-r", str(req)],
            check=True,
        )
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts with the build host's shebang
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(staging, target, symlinks=True)
        done.write_text(requirements)
    return target


def debian_files(packages: dict[str, str]) -> dict[str, Path]:
    """In-image path -> extracted file (or symlink) of every package, without docs and man pages."""
    files: dict[str, Path] = {}
    for package, version in packages.items():
        root, _ = debian_package(package, version)
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if rel == ".complete" or rel.startswith(SKIPPED_PREFIXES) or (path.is_dir() and not path.is_symlink()):
                continue
            files["/" + rel] = path
    return files


def image_files(packages: dict[str, str], site: Path) -> dict:
    files: dict = dict(debian_files(packages))
    files[SITE_PACKAGES] = site
    files[f"{VENV}/pyvenv.cfg"] = (
        f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {PYTHON}\n".encode())
    files["/etc/passwd"] = (f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                            f"downloader:x:{UID}:0::{HOME}:/usr/sbin/nologin\n").encode()
    files["/etc/group"] = b"root:x:0:\n"
    return files


@functools.lru_cache(maxsize=1)
def debian_closure() -> Closure:
    return dependency_closure(DEBIAN_ROOTS)


def build_image(out_dir: Path) -> ImageArchive:
    """Build the e2e model-downloader docker-archive into *out_dir*; returns what was written."""
    closure = debian_closure()
    site = site_packages(glibc_version(closure.packages["libc6"]))
    ref = image_ref()
    return assemble_image(
        ref,
        image_files(closure.packages, site),
        symlinks={f"{VENV}/bin/python": f"/usr/bin/python{PYTHON}",
                  f"{VENV}/bin/python3": f"/usr/bin/python{PYTHON}"},
        dirs={"/tmp": 0o1777, HOME: 0o775, "/scripts": 0o755},
        env=ENV,
        cmd=CMD,
        user=f"{UID}:0",
        workdir=HOME,
        out_tar=out_dir / f"{ref.split('/')[-1].replace(':', '-')}.tar",
        labels={
            "org.opencontainers.image.title": "leviathan model-downloader (e2e, Debian python)",
            "org.opencontainers.image.version": pinned("huggingface-hub"),
            "io.leviathan.debian-packages": " ".join(f"{p}={v}" for p, v in closure.packages.items()),
        },
    )


def main() -> None:
    build_script_main(build_image, __doc__, CACHE / "images")


if __name__ == "__main__":
    main()
