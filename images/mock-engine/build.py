#!/usr/bin/env python3
"""Build the mock-engine image offline: no Docker engine, no registry pulls.

Same content as ``images/mock-engine/Dockerfile`` (which users' CI builds with
Docker), assembled here from three local ingredients:

1. ``go build`` of this folder (static, ``CGO_ENABLED=0``, stdlib only; the Go
   build cache lives in ``~/.cache/leviathan/go-build``);
2. Debian's ``busybox-static`` binary (``apt-get download`` + ``dpkg-deb -x``,
   cached per package version in ``~/.cache/leviathan/debs/``) for ``sh`` and
   ``wget`` -- the charts' ``helm test`` hook runs ``sh -c 'wget --header ...
   --post-data ...'``;
3. ``leviathan_e2e.images.busybox_image`` which writes a deterministic
   docker-archive tarball that ``ctr -n k8s.io images import`` and
   ``kind load image-archive`` accept.

The image ref comes from ``images/versions.yaml`` (entry ``mock-engine``).

Usage::

    python images/mock-engine/build.py [--out DIR]     # prints the tarball path
"""

from __future__ import annotations

import argparse
import os
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
from leviathan_e2e.images import ImageArchive, busybox_image  # noqa: E402

CACHE = Path(os.environ.get("LEVIATHAN_CACHE", Path.home() / ".cache" / "leviathan"))
GO = os.environ.get("LEVIATHAN_GO", shutil.which("go") or "/usr/local/go/bin/go")

#: Names the binary answers to (busybox-style multi-call), installed as symlinks.
ENGINE_NAMES = ("ktransformers", "vllm", "llama-server", "python3", "python", "numactl")
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


def _candidate_version(package: str) -> str:
    out = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.strip().startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            if version and version != "(none)":
                return version
    raise RuntimeError(f"apt has no candidate for {package}; run apt-get update")


def debian_busybox() -> tuple[Path, str]:
    """Debian's statically linked busybox, extracted from its .deb into the cache.

    Returns (path to the binary, package version). The version keys the cache,
    so a Debian security update gives a new directory instead of a silent swap.
    """
    version = _candidate_version("busybox-static")
    root = CACHE / "debs" / f"busybox-static_{version.replace(':', '%3a')}"
    binary = root / "bin" / "busybox"
    if binary.exists():
        return binary, version
    with tempfile.TemporaryDirectory() as tmp:
        # apt warns (harmlessly) that root downloads unsandboxed; keep output for failures only.
        fetched = subprocess.run(["apt-get", "download", f"busybox-static={version}"], cwd=tmp,
                                 capture_output=True, text=True)
        if fetched.returncode != 0:
            raise RuntimeError(f"apt-get download busybox-static={version} failed:\n{fetched.stderr}")
        (deb,) = Path(tmp).glob("busybox-static_*.deb")
        staging = Path(tmp) / "x"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(staging, root, symlinks=True)
    if not binary.exists():
        raise RuntimeError(f"busybox-static {version} did not contain /bin/busybox")
    return binary, version


def build_image(out_dir: Path) -> ImageArchive:
    """Build the mock-engine docker-archive into *out_dir*; returns what was written."""
    pin = image("mock-engine")
    binary = build_binary(out_dir / "bin")
    busybox, busybox_version = debian_busybox()
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
        },
        symlinks={f"/usr/local/bin/{name}": "mock-engine" for name in ENGINE_NAMES},
        entrypoint=["/usr/local/bin/mock-engine"],
        env={"HOME": "/tmp"},
        user=f"{NONROOT_UID}:{NONROOT_UID}",
        labels={
            "org.opencontainers.image.title": "leviathan mock-engine",
            "org.opencontainers.image.version": pin.app_version,
            "io.leviathan.busybox-static.debian-version": busybox_version,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CACHE / "images", help="output directory")
    args = parser.parse_args()
    archive = build_image(args.out)
    print(archive.path)


if __name__ == "__main__":
    main()
