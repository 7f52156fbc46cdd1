#!/usr/bin/env python3
"""Build the mock-engine image offline: no Docker engine, no registry pulls.

Same content as ``images/mock-engine/Dockerfile`` (which users' CI builds with
Docker), assembled here from three local ingredients:

1. ``go build`` of this folder (static, ``CGO_ENABLED=0``, stdlib only; the Go
   build cache lives in ``~/.cache/leviathan/go-build``);
2. Debian packages (``leviathan_e2e.debian``: ``apt-get download`` + ``dpkg-deb -x``,
   cached per package version in ``~/.cache/leviathan/debs/``): ``busybox-static`` for ``sh`` and
   ``wget`` -- the charts' ``helm test`` hook runs ``sh -c 'wget --header ...
   --post-data ...'`` -- and the real ``numactl`` with ``libnuma1`` and the
   glibc loader and libc it links against (``libc6``), so ``numactl
   --interleave=all ktransformers ...`` really calls set_mempolicy in e2e;
3. ``leviathan_e2e.images.busybox_image`` which writes a deterministic
   docker-archive tarball that ``ctr -n k8s.io images import`` and
   ``kind load image-archive`` accept.

The image ref comes from ``images/versions.yaml`` (entry ``mock-engine``).

Usage::

    python images/mock-engine/build.py [--out DIR]     # prints the tarball path
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for source_root in (REPO / "constructs", REPO / "e2e"):
    if str(source_root) not in sys.path:  # allow running without an editable install
        sys.path.insert(0, str(source_root))

from leviathan.versions import image  # noqa: E402
from leviathan_e2e.debian import CACHE, debian_package  # noqa: E402
from leviathan_e2e.images import ImageArchive, build_script_main, busybox_image  # noqa: E402

GO = os.environ.get("LEVIATHAN_GO", shutil.which("go") or "/usr/local/go/bin/go")

#: Names the binary answers to (busybox-style multi-call), installed as symlinks. numactl is not one:
#: the image carries Debian's real numactl in /usr/bin.
ENGINE_NAMES = ("ktransformers", "vllm", "llama-server", "python3", "python")
#: Debian's numactl (dynamically linked) and exactly what it loads: per package, the in-image paths
#: taken from its .deb (symlinks stay symlinks).
NUMACTL_FILES = {
    "numactl": ("/usr/bin/numactl",),
    "libnuma1": ("/usr/lib/x86_64-linux-gnu/libnuma.so.1", "/usr/lib/x86_64-linux-gnu/libnuma.so.1.0.0"),
    "libc6": ("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
              "/lib/x86_64-linux-gnu/libc.so.6"),
}
#: distroless "nonroot": the engines do not need root, and charts can set runAsNonRoot.
NONROOT_UID = 65532


def build_binary(out_dir: Path) -> Path:
    """Compile the static multi-call binary into *out_dir*; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / "mock-engine"
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOOS": "linux",
        "GOARCH": os.environ.get("GOARCH", "amd64"),
        "GOCACHE": str(CACHE / "go-build"),
        "GOFLAGS": "-mod=mod",
    }
    # -trimpath + -buildvcs=false: the binary does not depend on where the repo is checked out.
    subprocess.run(
        [GO, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", str(binary), "."],
        cwd=HERE, env=env, check=True,
    )
    return binary


def debian_busybox() -> tuple[Path, str]:
    """Debian's statically linked busybox: (path to the binary, package version)."""
    root, version = debian_package("busybox-static")
    binary = root / "bin" / "busybox"
    if not binary.exists():
        raise RuntimeError(f"busybox-static {version} did not contain /bin/busybox")
    return binary, version


def debian_numactl() -> tuple[dict[str, Path], dict[str, str]]:
    """In-image path -> extracted file for numactl, libnuma and glibc; and package -> version."""
    files, versions = {}, {}
    for package, paths in NUMACTL_FILES.items():
        root, versions[package] = debian_package(package)
        for path in paths:
            src = root / path.lstrip("/")
            if not src.is_symlink() and not src.exists():
                raise RuntimeError(f"{package} {versions[package]} did not contain {path}")
            files[path] = src
    return files, versions


def build_image(out_dir: Path) -> ImageArchive:
    """Build the mock-engine docker-archive into *out_dir*; returns what was written."""
    pin = image("mock-engine")
    binary = build_binary(out_dir / "bin")
    busybox, busybox_version = debian_busybox()
    numactl_files, numactl_versions = debian_numactl()
    return busybox_image(
        pin.ref,
        out_tar=out_dir / f"mock-engine-{pin.tag}.tar",
        busybox=busybox,
        files={
            "/usr/local/bin/mock-engine": binary,
            "/etc/passwd": (
                b"root:x:0:0:root:/root:/bin/sh\n"
                b"nobody:x:65534:65534:nobody:/:/bin/false\n"
                b"nonroot:x:65532:65532:nonroot:/tmp:/bin/sh\n"
            ),
            "/etc/group": b"root:x:0:\nnogroup:x:65534:\nnonroot:x:65532:\n",
            **numactl_files,
        },
        symlinks={f"/usr/local/bin/{name}": "mock-engine" for name in ENGINE_NAMES},
        entrypoint=["/usr/local/bin/mock-engine"],
        env={"HOME": "/tmp"},
        user=f"{NONROOT_UID}:{NONROOT_UID}",
        labels={
            "org.opencontainers.image.title": "leviathan mock-engine",
            "org.opencontainers.image.version": pin.app_version,
            "io.leviathan.busybox-static.debian-version": busybox_version,
            **{f"io.leviathan.{package}.debian-version": version
               for package, version in numactl_versions.items()},
        },
    )


def main() -> None:
    build_script_main(build_image, __doc__, CACHE / "images")


if __name__ == "__main__":
    main()
