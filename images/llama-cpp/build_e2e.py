#!/usr/bin/env python3
"""Build the e2e llama-server image offline: no Docker engine, no registry pulls.

The same layout as the Dockerfile's `server-cpu` stage, assembled here from local ingredients:

1. the pinned CPU llama-server with its shared libraries, from `scripts/build-llama-server` (the
   Dockerfile's CMake flags bar GGML_CPU_ALL_VARIANTS, RUNPATH `$ORIGIN`), in `/app`;
2. the Debian packages it links against (glibc, libstdc++, libgcc, libgomp, OpenSSL), extracted from
   their .debs (cached per version by the mock-engine builder's `debian_package`), plus Debian's
   static busybox for a shell in `kubectl exec`;
3. `leviathan_e2e.images.busybox_image`, which writes a deterministic docker-archive.

User 1000, group 0, HOME group-writable, `LLAMA_ARG_HOST/PORT` as in the Dockerfile. The tag says
`-e2e`: this is not the image `scripts/images` builds, only the same binary layout.

    python images/llama-cpp/build_e2e.py [--out DIR]     # prints the tarball path
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _mock_engine_builder():
    spec = importlib.util.spec_from_file_location("mock_engine_build", REPO / "images" / "mock-engine" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Its Debian-package cache and busybox, and its sys.path set-up (constructs/ and e2e/ importable).
DEBIAN = _mock_engine_builder()
CACHE = DEBIAN.CACHE
image, ImageArchive, busybox_image = DEBIAN.image, DEBIAN.ImageArchive, DEBIAN.busybox_image
build_script_main = DEBIAN.build_script_main

#: The libraries `ldd llama-server` resolves outside /app (tests check this list covers them).
RUNTIME_PACKAGES = ("libc6", "libstdc++6", "libgcc-s1", "libgomp1", "libssl3")
#: Only the shared objects and the loader of those packages: no docs, no gconv modules, no tools.
LIB_DIRS = ("lib/x86_64-linux-gnu", "lib64", "usr/lib/x86_64-linux-gnu")
UID, GID = 1000, 0
E2E_TAG_SUFFIX = "-e2e"


def llama_server_dir() -> Path:
    """The cached build's bin directory (built on first use: see scripts/build-llama-server)."""
    out = subprocess.run([str(REPO / "scripts" / "build-llama-server")], stdout=subprocess.PIPE, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


def runtime_libraries() -> tuple[dict[str, Path], dict[str, str]]:
    """In-image path -> extracted file for every shared object of RUNTIME_PACKAGES; package -> version."""
    files, versions = {}, {}
    for package in RUNTIME_PACKAGES:
        root, versions[package] = DEBIAN.debian_package(package)
        for lib_dir in LIB_DIRS:
            base = root / lib_dir
            if not base.is_dir():
                continue
            for path in sorted(base.iterdir()):
                if path.name.startswith("ld-linux") or ".so" in path.name:
                    files[f"/{lib_dir}/{path.name}"] = path
    return files, versions


def build_image(out_dir: Path) -> ImageArchive:
    """Build the e2e llama-server docker-archive into *out_dir*; returns what was written."""
    pin = image("llama-cpp-cpu")
    bin_dir = llama_server_dir()
    libraries, versions = runtime_libraries()
    busybox, busybox_version = DEBIAN.debian_busybox()
    tag = pin.tag + E2E_TAG_SUFFIX
    return busybox_image(
        f"{pin.repository}:{tag}",
        out_tar=out_dir / f"llama-cpp-{tag}.tar",
        busybox=busybox,
        files={
            "/app": bin_dir,
            "/etc/passwd": (b"root:x:0:0:root:/root:/bin/sh\n"
                            b"nobody:x:65534:65534:nobody:/:/bin/false\n"
                            b"llama:x:1000:0::/home/llama:/bin/sh\n"),
            **libraries,
        },
        # OpenShift's arbitrary UID is in group 0: HOME is group-writable (the Dockerfile's chmod g=u).
        dirs={"/home/llama": 0o775},
        entrypoint=["/app/llama-server"],
        env={"PATH": "/app:/usr/local/bin:/usr/bin:/bin", "HOME": "/home/llama",
             "LLAMA_ARG_HOST": "0.0.0.0", "LLAMA_ARG_PORT": "8080"},
        user=f"{UID}:{GID}",
        exposed_ports=["8080"],
        labels={
            "org.opencontainers.image.title": "llama.cpp (leviathan e2e)",
            "org.opencontainers.image.version": pin.app_version,
            "org.opencontainers.image.revision": pin.args["LLAMA_CPP_COMMIT"],
            "io.leviathan.busybox-static.debian-version": busybox_version,
            **{f"io.leviathan.{package}.debian-version": version for package, version in versions.items()},
        },
    )


def main() -> None:
    build_script_main(build_image, __doc__, CACHE / "images")


if __name__ == "__main__":
    main()
