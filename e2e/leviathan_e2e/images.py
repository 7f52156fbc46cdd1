"""Assemble container images in pure Python: no Docker engine, no registry.

The output is a single-layer **docker-archive** tarball (``manifest.json`` + config +
``layer.tar``), the format of ``docker save``. It loads with::

    ctr -n k8s.io images import image.tar   # local backend (containerd)
    kind load image-archive image.tar       # kind
    docker load -i image.tar                # anywhere with a Docker engine

Output is byte-for-byte reproducible for the same inputs (fixed mtimes, uid/gid 0,
sorted entries), so the image ID is stable across runs.

Example::

    assemble_image(
        "leviathan/health:1",
        files={"/bin/busybox": "/bin/busybox", "/www/health": b"ok\\n"},
        symlinks={"/bin/sh": "busybox"},
        entrypoint=["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"],
        out_tar=Path("health.tar"),
    )

Pods must reference such images with a non-``latest`` tag (or ``imagePullPolicy: Never``
/ ``IfNotPresent``) so the kubelet never tries to pull them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence, Union

__all__ = [
    "ImageArchive",
    "assemble_image",
    "busybox_image",
    "pause_image",
    "PAUSE_IMAGE",
    "BUSYBOX_STATIC",
    "CATATONIT",
]

#: Sandbox ("pause") image reference that kubelet 1.34 and our containerd config expect.
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
#: Debian busybox-static / catatonit binaries (scripts/setup-e2e-host installs them).
BUSYBOX_STATIC = Path("/bin/busybox")
CATATONIT = Path("/usr/bin/catatonit")

_MTIME = 1  # fixed mtime for reproducible layers (1970-01-01T00:00:01Z)
_CREATED = "1970-01-01T00:00:01Z"

#: A file's content: a host path (file or directory, copied recursively),
#: raw bytes (mode 0644), or (bytes, mode).
FileSource = Union[str, os.PathLike, bytes, tuple]


@dataclass(frozen=True)
class ImageArchive:
    """What :func:`assemble_image` wrote."""

    ref: str          # e.g. "leviathan/health:1"
    path: Path        # the docker-archive tarball
    image_id: str     # "sha256:<config digest>" (what `docker images --no-trunc` shows)
    layer_diff_id: str


def _norm(path: str) -> str:
    p = PurePosixPath("/" + str(path).lstrip("/"))
    if ".." in p.parts:
        raise ValueError(f"path escapes the image root: {path!r}")
    return str(p).lstrip("/")


def _check_ref(ref: str) -> None:
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last or "@" in ref:
        raise ValueError(f"image ref needs an explicit tag (name:tag), got {ref!r}")
    if last.endswith(":latest"):
        raise ValueError(f"{ref!r}: ':latest' makes kubelet pull (imagePullPolicy Always)")


class _LayerBuilder:
    """Collects entries, then writes them sorted into a deterministic tar."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}

    def _info(self, name: str, type_: bytes, mode: int) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type = type_
        ti.mode = mode
        ti.mtime = _MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    def _parents(self, name: str) -> None:
        parts = PurePosixPath(name).parts[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.entries:
                self.entries[d] = (self._info(d, tarfile.DIRTYPE, 0o755), None)

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        name = _norm(name)
        self._parents(name)
        self.entries[name] = (self._info(name, tarfile.DIRTYPE, mode), None)

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        name = _norm(name)
        self._parents(name)
        ti = self._info(name, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.entries[name] = (ti, data)

    def add_symlink(self, name: str, target: str) -> None:
        name = _norm(name)
        self._parents(name)
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.entries[name] = (ti, None)

    def add_host(self, name: str, host: Path) -> None:
        st = os.lstat(host)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            self.add_symlink(name, os.readlink(host))
        elif stat.S_ISDIR(st.st_mode):
            self.add_dir(name, mode)
            for child in sorted(os.listdir(host)):
                self.add_host(f"{name.rstrip('/')}/{child}", host / child)
        elif stat.S_ISREG(st.st_mode):
            self.add_bytes(name, host.read_bytes(), mode)
        else:
            raise ValueError(f"unsupported file type for image: {host}")

    def write(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(self.entries):
                ti, data = self.entries[name]
                tar.addfile(ti, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()


def assemble_image(
    ref: str,
    files: Mapping[str, FileSource],
    entrypoint: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out_tar: Path | str = "image.tar",
    *,
    cmd: Sequence[str] | None = None,
    workdir: str | None = None,
    user: str | None = None,
    symlinks: Mapping[str, str] | None = None,
    dirs: Mapping[str, int] | None = None,
    labels: Mapping[str, str] | None = None,
    exposed_ports: Sequence[str] = (),
    architecture: str = "amd64",
) -> ImageArchive:
    """Write a one-layer docker-archive image to *out_tar* and return its description.

    *files* maps in-image paths to a host path (file or directory), ``bytes``
    (mode 0644), or ``(bytes, mode)``. *symlinks* maps in-image paths to link targets;
    *dirs* creates (empty) directories with a mode, e.g. ``{"/tmp": 0o1777}``.
    ``PATH`` defaults to the usual value unless *env* sets it.
    """
    _check_ref(ref)
    layer = _LayerBuilder()
    for d, mode in (dirs or {}).items():
        layer.add_dir(d, mode)
    for path, src in files.items():
        if isinstance(src, bytes):
            layer.add_bytes(path, src)
        elif isinstance(src, tuple):
            data, mode = src
            layer.add_bytes(path, data, mode)
        else:
            host = Path(src)
            if not os.path.lexists(host):
                raise FileNotFoundError(f"{path}: host file {host} does not exist")
            layer.add_host(path, host)
    for path, target in (symlinks or {}).items():
        layer.add_symlink(path, target)
    layer_bytes = layer.write()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()

    envd = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    envd.update(env or {})
    cfg: dict = {"Env": [f"{k}={v}" for k, v in envd.items()]}
    if entrypoint:
        cfg["Entrypoint"] = list(entrypoint)
    if cmd:
        cfg["Cmd"] = list(cmd)
    if workdir:
        cfg["WorkingDir"] = workdir
    if user:
        cfg["User"] = user
    if labels:
        cfg["Labels"] = dict(labels)
    if exposed_ports:
        cfg["ExposedPorts"] = {p if "/" in p else f"{p}/tcp": {} for p in exposed_ports}
    config = {
        "architecture": architecture,
        "os": "linux",
        "created": _CREATED,
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": _CREATED, "created_by": "leviathan_e2e.images.assemble_image"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    layer_dir = diff_id.split(":", 1)[1]
    manifest = [{
        "Config": f"{config_hex}.json",
        "RepoTags": [ref],
        "Layers": [f"{layer_dir}/layer.tar"],
    }]
    name, _, tag = ref.rpartition(":")
    repositories = {name: {tag: layer_dir}}

    out = Path(out_tar)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, data: bytes, type_: bytes = tarfile.REGTYPE) -> None:
            ti = tarfile.TarInfo(name)
            ti.type = type_
            ti.mtime = _MTIME
            ti.mode = 0o755 if type_ == tarfile.DIRTYPE else 0o644
            ti.size = len(data) if type_ == tarfile.REGTYPE else 0
            tar.addfile(ti, io.BytesIO(data) if type_ == tarfile.REGTYPE else None)

        add(f"{config_hex}.json", config_bytes)
        add(layer_dir, b"", tarfile.DIRTYPE)
        add(f"{layer_dir}/layer.tar", layer_bytes)
        add("manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
        add("repositories", json.dumps(repositories, separators=(",", ":")).encode())
    tmp.replace(out)
    return ImageArchive(ref=ref, path=out, image_id=f"sha256:{config_hex}", layer_diff_id=diff_id)


def _busybox_applets(busybox: Path) -> list[str]:
    out = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True, check=True)
    return sorted(line.strip() for line in out.stdout.splitlines() if line.strip())


def busybox_image(
    ref: str,
    out_tar: Path | str,
    files: Mapping[str, FileSource] | None = None,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    busybox: Path = BUSYBOX_STATIC,
    **kwargs,
) -> ImageArchive:
    """A tiny image with Debian's static busybox and all its applet links (sh, httpd,
    wget, nc, sleep, ...), ``/tmp`` (1777) and any extra *files*."""
    all_files: dict[str, FileSource] = {"/bin/busybox": busybox}
    all_files.update(files or {})
    links = {}
    for applet in _busybox_applets(busybox):
        p = "/" + applet.lstrip("/")
        if p != "/bin/busybox" and p not in all_files:
            links[p] = "/bin/busybox"
    links.update(kwargs.pop("symlinks", None) or {})
    dirs = {"/tmp": 0o1777, "/etc": 0o755, "/root": 0o700}
    dirs.update(kwargs.pop("dirs", None) or {})
    all_files.setdefault("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    all_files.setdefault("/etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    return assemble_image(
        ref, all_files, entrypoint=entrypoint, env=env, out_tar=out_tar, cmd=cmd,
        symlinks=links, dirs=dirs, **kwargs,
    )


def pause_image(out_tar: Path | str, ref: str = PAUSE_IMAGE,
                catatonit: Path = CATATONIT) -> ImageArchive:
    """The pod sandbox image: Debian's statically linked ``catatonit -P`` (pause mode)."""
    return assemble_image(
        ref,
        {"/catatonit": catatonit},
        entrypoint=["/catatonit", "-P"],
        out_tar=out_tar,
        user="65535:65535",
    )


def build_script_main(build_image, doc: str, default_out: Path) -> None:
    """The command line of every offline image build script (images/*/build*.py):
    `[--out DIR]`, builds, prints the archive's path."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_out, help="output directory")
    print(build_image(parser.parse_args().out).path)
