"""The private Docker engine's OCI runtime: runc, minus the capabilities this host withholds.

``docker run --privileged`` (kind runs every node so) asks runc for every capability Docker 20.10
knows, whatever the daemon itself holds. A host that withholds one from root (this one withholds
CAP_SYS_RESOURCE) then fails every privileged container: "runc create failed: unable to apply caps:
operation not permitted". Newer Docker releases grant only the daemon's own capabilities; this does
the same for Debian's 20.10: on ``create``/``run`` it removes from the bundle's ``config.json`` (on
``exec``, from the ``--process`` file) every capability that is not in this process's bounding set, clamps a negative ``oomScoreAdj`` (lowering it
needs CAP_SYS_RESOURCE) to 0 when that capability is missing, then execs runc with the same
arguments. Registered with ``dockerd --add-runtime`` as the default runtime
(:func:`leviathan_e2e.docker_engine.dockerd_argv`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

RUNC = os.environ.get("LEVIATHAN_RUNC", "/usr/sbin/runc")
CAP_SYS_RESOURCE = 24
#: Linux capability numbers as OCI names them (capability.h order).
CAP_NAMES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
)


def bounding_set(status: str | None = None) -> set[str]:
    """``CAP_*`` names in this process's bounding set (``/proc/self/status``)."""
    status = status if status is not None else Path("/proc/self/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16)
    return {f"CAP_{name}" for bit, name in enumerate(CAP_NAMES) if mask >> bit & 1}


def restrict_spec(spec: dict, allowed: set[str]) -> dict:
    """*spec* with only *allowed* capabilities (and oomScoreAdj >= 0 without CAP_SYS_RESOURCE)."""
    restrict_process(spec.get("process") or {}, allowed)
    return spec


def restrict_process(process: dict, allowed: set[str]) -> dict:
    """An OCI process (``config.json``'s ``process``, or ``runc exec --process`` file) limited so."""
    caps = process.get("capabilities") or {}
    for kind, names in caps.items():
        if isinstance(names, list):
            caps[kind] = [n for n in names if n in allowed]
    if "CAP_SYS_RESOURCE" not in allowed and process.get("oomScoreAdj", 0) < 0:
        process["oomScoreAdj"] = 0
    return process


def _flag(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            return argv[i + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def bundle_of(argv: list[str]) -> Path | None:
    """The ``--bundle`` of a ``create``/``run`` invocation (global flags may come first)."""
    if not any(a in ("create", "run") for a in argv):
        return None
    bundle = _flag(argv, "--bundle", "-b")
    return Path(bundle) if bundle else Path.cwd()  # runc's default bundle is the working directory


def exec_process_of(argv: list[str]) -> Path | None:
    """The ``--process`` file of a ``runc exec`` (``docker exec --privileged`` asks every capability)."""
    if "exec" not in argv:
        return None
    process = _flag(argv, "--process", "-p")
    return Path(process) if process else None


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    bundle, process = bundle_of(argv), exec_process_of(argv)
    if bundle is not None and (bundle / "config.json").is_file():
        config = bundle / "config.json"
        config.write_text(json.dumps(restrict_spec(json.loads(config.read_text()), bounding_set())))
    if process is not None and process.is_file():
        process.write_text(json.dumps(restrict_process(json.loads(process.read_text()), bounding_set())))
    os.execv(RUNC, [RUNC, *argv])


if __name__ == "__main__":
    main()
