"""Debian packages for offline-assembled e2e images: download, extract, dependency closure, ELF check.

Images for e2e are built without a registry (see ``images.py``), from Debian's own packages:

* :func:`debian_package` fetches one package (apt's candidate version) with ``apt-get download`` and
  extracts it with ``dpkg-deb -x`` into ``~/.cache/leviathan/debs/<package>_<version>/``; the version
  keys the cache, so a Debian security update gives a new directory instead of a silent swap.
* :func:`dependency_closure` computes which packages a set of root packages needs, from Debian's own
  metadata (``Depends`` and ``Pre-Depends`` of each candidate; for ``a | b`` the first alternative apt
  can install, as apt itself prefers). Packages marked ``Essential: yes`` (dpkg, tar, perl-base, ...)
  are left out: every Debian system has them, and packages reach them only for maintainer scripts and
  triggers, which an extracted image never runs. :func:`unresolved_libraries` then proves the result
  at the level that matters at run time: every shared library any ELF file in the image asks for is
  in the image.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Mapping

from leviathan import tools

CACHE = tools.CACHE
#: Where the glibc loader looks (Debian multiarch, amd64) when no RUNPATH says otherwise.
LIBRARY_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib", "usr/lib")


def candidate_versions(packages: Iterable[str]) -> dict[str, str | None]:
    """apt's candidate version of each package (None: apt has none), from one `apt-cache policy` call."""
    packages = list(dict.fromkeys(packages))
    out = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True, check=True).stdout
    found: dict[str, str | None] = {}
    current = None
    for line in out.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = line[:-1].split(":")[0]
        elif current and line.strip().startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            found[current] = version if version and version != "(none)" else None
    return {package: found.get(package) for package in packages}


def candidate_version(package: str) -> str:
    version = candidate_versions([package])[package]
    if version is None:
        raise RuntimeError(f"apt has no candidate for {package}; run apt-get update")
    return version


def debian_package(package: str, version: str | None = None) -> tuple[Path, str]:
    """The files of Debian's *package* (*version*, default apt's candidate), extracted from its .deb into
    the cache. Returns (extracted root, package version).
    """
    version = version or candidate_version(package)
    root = CACHE / "debs" / f"{package}_{version.replace(':', '%3a')}"
    if (root / ".complete").exists():
        return root, version
    with tempfile.TemporaryDirectory() as tmp:
        # apt warns (harmlessly) that root downloads unsandboxed; keep output for failures only.
        fetched = subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=tmp,
                                 capture_output=True, text=True)
        if fetched.returncode != 0:
            raise RuntimeError(f"apt-get download {package}={version} failed:\n{fetched.stderr}")
        (deb,) = Path(tmp).glob(f"{package}_*.deb")
        staging = Path(tmp) / "x"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(staging, root, symlinks=True)
        (root / ".complete").write_text(f"{deb.name}\n")
    return root, version


# ---------------------------------------------------------------- dependency closure


@dataclass(frozen=True)
class PackageInfo:
    """What the closure needs from one package's `apt-cache show` record."""

    name: str
    version: str
    essential: bool
    depends: tuple[tuple[str, ...], ...]  # Pre-Depends + Depends: groups of alternatives


def parse_depends(field: str) -> tuple[tuple[str, ...], ...]:
    """`a (>= 1), b:any | c` -> (("a",), ("b", "c")): names only; versions and arch qualifiers dropped."""
    groups = []
    for group in field.split(","):
        names = tuple(re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip().split(":")[0] for alt in group.split("|"))
        names = tuple(n for n in names if n)
        if names:
            groups.append(names)
    return tuple(groups)


def parse_control(text: str) -> list[dict[str, str]]:
    """The stanzas of Debian control records (continuation lines joined)."""
    stanzas: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    key = None
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if fields:
                stanzas.append(fields)
            fields, key = {}, None
        elif line[0] in " \t" and key:
            fields[key] += " " + line.strip()
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return stanzas


def apt_package_infos(packages: list[str]) -> dict[str, PackageInfo | None]:
    """apt's candidate of each package, or None when apt has none (a purely virtual name): two apt calls."""
    versions = candidate_versions(packages)
    wanted = {(name, version) for name, version in versions.items() if version}
    infos: dict[str, PackageInfo | None] = dict.fromkeys(packages)
    if not wanted:
        return infos
    shown = subprocess.run(["apt-cache", "show", *sorted(f"{n}={v}" for n, v in wanted)],
                           capture_output=True, text=True, check=True)
    for fields in parse_control(shown.stdout):
        key = (fields.get("Package"), fields.get("Version"))
        if key in wanted and infos[key[0]] is None:
            infos[key[0]] = PackageInfo(
                name=key[0], version=key[1], essential=fields.get("Essential", "no") == "yes",
                depends=parse_depends(fields.get("Pre-Depends", "")) + parse_depends(fields.get("Depends", "")))
    return infos


@dataclass(frozen=True)
class Closure:
    packages: dict[str, str]     # name -> version, what goes into the image
    essential: tuple[str, ...]   # Essential packages reached and left out


def dependency_closure(roots: Iterable[str],
                       infos: Callable[[list[str]], Mapping[str, PackageInfo | None]] = apt_package_infos
                       ) -> Closure:
    """Every package *roots* need at run time, by Depends/Pre-Depends (see the module docstring).

    Breadth first, one batch of apt lookups per level (apt-cache is slow to start).
    """
    known: dict[str, PackageInfo | None] = {}

    def lookup(names: Iterable[str]) -> None:
        missing = [n for n in dict.fromkeys(names) if n not in known]
        if missing:
            known.update(infos(missing))

    frontier = list(dict.fromkeys(roots))
    lookup(frontier)
    for root in frontier:
        if known[root] is None:
            raise RuntimeError(f"apt has no candidate for {root}; run apt-get update")
    chosen: dict[str, str] = {}
    essential: set[str] = set()
    while frontier:
        added = []
        for name in frontier:
            pkg = known[name]
            if name in chosen or name in essential:
                continue
            if pkg.essential:
                essential.add(name)
                continue
            chosen[name] = pkg.version
            added.append(pkg)
        groups = [(pkg.name, group) for pkg in added for group in pkg.depends]
        lookup(alt for _, group in groups for alt in group)
        frontier = []
        for name, group in groups:
            if any(alt in chosen or alt in essential or alt in frontier for alt in group):
                continue
            pick = next((alt for alt in group if known[alt] is not None), None)
            if pick is None:
                raise RuntimeError(f"{name} depends on {' | '.join(group)}, and apt can install none of them")
            frontier.append(pick)
    return Closure(packages=dict(sorted(chosen.items())), essential=tuple(sorted(essential)))


# ---------------------------------------------------------------- ELF: what the loader will look for


@dataclass(frozen=True)
class ElfDeps:
    interpreter: str | None     # PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2
    needed: tuple[str, ...]     # DT_NEEDED sonames
    runpath: tuple[str, ...]    # DT_RUNPATH (or DT_RPATH) entries, $ORIGIN unexpanded


def elf_deps(data: bytes) -> ElfDeps | None:
    """Interpreter, DT_NEEDED and RUNPATH of a 64-bit little-endian ELF file; None for anything else."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    segments = [struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize) for i in range(phnum)]
    interpreter = None
    dynamic = []
    for p_type, _flags, offset, vaddr, _paddr, filesz in segments:
        if p_type == 3:  # PT_INTERP
            interpreter = data[offset:offset + filesz].rstrip(b"\0").decode()
        elif p_type == 2:  # PT_DYNAMIC
            dynamic = [struct.unpack_from("<qQ", data, offset + i) for i in range(0, filesz, 16)]

    def file_offset(address: int) -> int:  # DT_STRTAB holds a virtual address: map it through PT_LOAD
        for p_type, _flags, offset, vaddr, _paddr, filesz in segments:
            if p_type == 1 and vaddr <= address < vaddr + filesz:
                return address - vaddr + offset
        raise ValueError(f"address {address:#x} is in no PT_LOAD segment")

    strtab = next((value for tag, value in dynamic if tag == 5), None)  # DT_STRTAB
    if strtab is None:
        return ElfDeps(interpreter, (), ())
    base = file_offset(strtab)

    def string(offset: int) -> str:
        return data[base + offset:data.index(b"\0", base + offset)].decode()

    needed = tuple(string(value) for tag, value in dynamic if tag == 1)        # DT_NEEDED
    paths = [string(value) for tag, value in dynamic if tag in (15, 29)]      # DT_RPATH, DT_RUNPATH
    return ElfDeps(interpreter, needed, tuple(p for entry in paths for p in entry.split(":") if p))


def unresolved_libraries(files: Mapping[str, bytes], symlinks: Mapping[str, str]) -> list[str]:
    """'<file>: <soname>' for each library or interpreter an ELF file in an image asks for that the image
    lacks. *files* maps in-image paths to contents, *symlinks* in-image paths to link targets."""
    present = set(files)

    def exists(path: str, hops: int = 0) -> bool:
        path = os.path.normpath(path).lstrip("/")
        if path in present:
            return True
        parts = PurePosixPath(path).parts
        for i in range(len(parts), 0, -1):  # resolve the deepest symlink on the path, then retry
            prefix = "/".join(parts[:i])
            if prefix in symlinks and hops < 40:
                target = symlinks[prefix]
                joined = target if target.startswith("/") else str(PurePosixPath(prefix).parent / target)
                return exists("/".join([joined, *parts[i:]]), hops + 1)
        return False

    problems = []
    for path, data in sorted(files.items()):
        deps = elf_deps(data)
        if deps is None:
            continue
        if deps.interpreter and not exists(deps.interpreter):
            problems.append(f"{path}: interpreter {deps.interpreter}")
        origin = str(PurePosixPath("/" + path).parent)
        dirs = [d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for d in deps.runpath]
        dirs += ["/" + d for d in LIBRARY_DIRS]
        for soname in deps.needed:
            if not any(exists(f"{d}/{soname}") for d in dirs):
                problems.append(f"{path}: {soname}")
    return problems
