"""Read-mostly views of this host: mounts, cgroups, sysctls, processes. No policy here."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterable

from ..base import BackendError


def run(cmd: list[str]) -> None:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise BackendError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")


def tail(path: Path, n: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return f"(no log at {path})"


def read_sysctl(key: str) -> str | None:
    """A sysctl of *this process's* namespaces (network ones differ per network namespace)."""
    try:
        return Path("/proc/sys", key).read_text().strip()
    except OSError:
        return None


def write_sysctl(key: str, value: str) -> bool:
    try:
        Path("/proc/sys", key).write_text(value + "\n")
        return True
    except OSError:
        return False


def mountpoints() -> list[str]:
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mp = line.split()[4]
        out.append(mp.encode().decode("unicode_escape"))
    return out


def under(path: str, roots: Iterable[Path]) -> bool:
    for r in roots:
        rs = str(r).rstrip("/")
        if path == rs or path.startswith(rs + "/"):
            return True
    return False


def unmount_under(roots: Iterable[Path], attempts: int = 10) -> list[str]:
    """Unmount every mount point under *roots*, deepest first (lazily where a plain umount fails).
    Returns what is still mounted afterwards (empty on success)."""
    roots = list(roots)
    for _ in range(attempts):
        mps = [m for m in mountpoints() if under(m, roots)]
        if not mps:
            return []
        for mp in sorted(set(mps), key=lambda m: m.count("/"), reverse=True):
            if subprocess.run(["umount", mp], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", mp], capture_output=True)
    return [m for m in mountpoints() if under(m, roots)]


def cgroup_pids(dirs: Iterable[Path]) -> set[int]:
    """Every PID in the cgroup trees *dirs* (each controller's copy of one cgroup)."""
    pids: set[int] = set()
    for cg in dirs:
        for procs in cg.rglob("cgroup.procs"):
            try:
                pids.update(int(x) for x in procs.read_text().split())
            except OSError:
                pass
    return pids


def kill_until_gone(find: Callable[[], set[int]], attempts: int = 30, quiet_scans: int = 1) -> None:
    """SIGKILL what *find* returns (never this process) until it has returned nothing *quiet_scans*
    times in a row; a new child of a dying one shows up on a later round."""
    quiet = 0
    for _ in range(attempts):
        victims = find() - {os.getpid()}
        quiet = 0 if victims else quiet + 1
        if quiet >= quiet_scans:
            return
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def cgroup_mounts() -> list[Path]:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype = right.split()[0] if right else ""
        if fstype in ("cgroup", "cgroup2"):
            mounts.append(Path(left.split()[4]))
    return mounts


def port_free(host: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def netns_id(path: Path) -> str | None:
    """``net:[inode]`` of the network namespace bound at *path* (as /proc/PID/ns/net reads)."""
    try:
        return f"net:[{os.stat(path).st_ino}]"
    except OSError:
        return None


def own_lineage() -> set[int]:
    """This process and its ancestors: never candidates for a sweep."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def processes_of_run(netns: str | None, needles: Iterable[str]) -> dict[int, str]:
    """PID -> command line of every process that is in network namespace *netns* or whose
    command line names one of *needles* (the run dir, our containerd socket): what this run
    started, whether or not it was recorded before the run died."""
    needles = [n for n in needles if n]
    skip = own_lineage()
    found: dict[int, str] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) in skip:
            continue
        try:
            cmd = (d / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ").strip()
        except OSError:
            continue
        if not cmd:
            continue  # kernel thread or zombie
        try:
            in_ns = netns is not None and os.readlink(d / "ns" / "net") == netns
        except OSError:
            in_ns = False
        if in_ns or any(n in cmd for n in needles):
            found[int(d.name)] = cmd
    return found


def host_network_snapshot() -> list[str]:
    """Sorted ``link NAME`` and ``<binary> <table> chain NAME`` lines of this process's network
    namespace."""
    items = [f"link {p.name}" for p in Path("/sys/class/net").iterdir()]
    for binary in ("iptables-save", "ip6tables-save"):
        out = subprocess.run([binary], capture_output=True, text=True).stdout
        table = ""
        for line in out.splitlines():
            if line.startswith("*"):
                table = line[1:].strip()
            elif line.startswith(":"):
                items.append(f"{binary[:-5]} {table} chain {line[1:].split()[0]}")
    return sorted(items)
