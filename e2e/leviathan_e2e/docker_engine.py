"""A private Docker engine for the kind backend: Debian's ``dockerd``, in its own network namespace.

Nothing of it is shared with the host or with anything else that may use Docker here:

- its own ``--data-root``, ``--exec-root`` (and with them its own containerd, which dockerd starts
  under the exec root), ``--pidfile`` and API socket, all under one *root* directory
  (``~/.cache/leviathan/docker/engine`` by default); the default ``/var/run/docker.sock`` is never
  used;
- its own network namespace (``unshare --net`` bound at ``<root>/netns``), so the ``docker0``
  and ``kind`` bridges, the ``DOCKER*`` iptables chains, the published ports and the
  ``ip_forward`` sysctl exist only in there. The host's interfaces, routes and iptables are never
  touched; the host reaches a published port only through :class:`PortRelay`;
- its own cgroup parent (``/leviathan-docker-<hash of the root>``), so a killed run's containers can be found and
  killed by their cgroups.

:meth:`DockerEngine.stop` removes every container, stops dockerd by PID (recorded by
:class:`~leviathan_e2e.supervisor.Supervisor`, so a later process can stop it after a killed
run), kills what is left in its cgroups and of its containerd shims, unmounts everything under the
root, frees the namespace and deletes the root. ``python -m leviathan_e2e.docker_engine
start|stop|status`` does the same from a shell (``scripts/docker-engine``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from leviathan import tools

from .backends.local.host import (cgroup_mounts, cgroup_pids, kill_until_gone, mountpoints, netns_id,
                                  processes_of_run, under, unmount_under)
from .supervisor import Supervisor, cluster_env

__all__ = ["DockerEngine", "DockerEngineError", "PortRelay", "cgroup_parent", "default_root", "dockerd_argv"]

#: Short on purpose: the containerd socket under the exec root must stay below 108 bytes.
DEFAULT_ROOT = tools.CACHE / "docker" / "engine"
CGROUP_PARENT = "leviathan-docker"  # + a hash of the root: one cgroup tree per engine
#: Host paths a client may bind-mount that Docker would create when missing (kind mounts
#: /lib/modules read-only; this kernel has none). The engine creates them itself, records them and
#: removes them again (when still empty) on stop.
BIND_SOURCES = (Path("/lib/modules"),)
#: containerd namespaces of this engine (dockerd's defaults are "moby" / "plugins.moby").
CONTAINERD_NAMESPACE = "leviathan-docker"
E2E_DIR = Path(__file__).resolve().parents[1]  # PYTHONPATH of the relay process


class DockerEngineError(RuntimeError):
    """The engine could not be started or cleaned up; the message says why and where the log is."""


def default_root() -> Path:
    return Path(os.environ.get("LEVIATHAN_DOCKER_ROOT", DEFAULT_ROOT))


def cgroup_parent(root: Path) -> str:
    """This engine's own cgroup (per root): stop() kills every process in it, so two engines
    (an e2e run and the fast tier's engine test) must never share one."""
    return f"{CGROUP_PARENT}-{hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:10]}"


def dockerd_argv(root: Path, dockerd: str = "dockerd") -> list[str]:
    """The dockerd command line: every path of its own under *root*, nothing at a default path."""
    return [
        dockerd,
        f"--host=unix://{root / 'docker.sock'}",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--pidfile={root / 'dockerd.pid'}",
        f"--containerd-namespace={CONTAINERD_NAMESPACE}",
        f"--containerd-plugins-namespace={CONTAINERD_NAMESPACE}-plugins",
        f"--cgroup-parent=/{cgroup_parent(root)}",
        "--exec-opt=native.cgroupdriver=cgroupfs",
        # runc minus the capabilities this host withholds (leviathan_e2e.docker_runc): kind's nodes
        # are --privileged, for which Docker 20.10 asks for every capability it knows.
        f"--add-runtime=leviathan-runc={root / 'leviathan-runc'}",
        "--default-runtime=leviathan-runc",
        # No registry is reachable from here, and none may be contacted: an empty mirror list and
        # no "insecure" ones keep the defaults; pulls fail fast because the namespace has no route.
        "--storage-driver=overlay2",
        # The iptables rules and bridges it makes live in its own network namespace (see above).
        "--iptables=true",
        "--ip-masq=true",
        "--userland-proxy=true",
    ]


class DockerEngine:
    """Start/stop the private engine under *root*; :attr:`env` is the environment for ``docker``."""

    def __init__(self, root: Path | str | None = None, dockerd: str = "dockerd", start_timeout: float = 60):
        self.root = Path(root) if root else default_root()
        self.dockerd = dockerd
        self.start_timeout = start_timeout
        self.supervisor = Supervisor(self.root.parent / f"{self.root.name}.processes.json",
                                     self.root.parent / f"{self.root.name}-logs")

    # ------------------------------------------------------------------ paths
    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def netns(self) -> Path:
        return self.root / "netns"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "exec" / "containerd" / "containerd.sock"

    @property
    def created_record(self) -> Path:
        """Host paths this engine created for bind mounts (outside its root, so recorded)."""
        return self.root.parent / f"{self.root.name}.created"

    @property
    def log(self) -> Path:
        return self.supervisor.logs_dir / "dockerd.log"

    @property
    def env(self) -> dict[str, str]:
        return cluster_env({"DOCKER_HOST": self.host}, drop=("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"))

    def docker(self, *args: str, check: bool = True, timeout: float | None = 120,
               input: str | bytes | None = None) -> subprocess.CompletedProcess:
        text = not isinstance(input, bytes)
        proc = subprocess.run(["docker", *args], input=input, capture_output=True, text=text, timeout=timeout,
                              env=self.env, check=False)
        if check and proc.returncode != 0:
            raise DockerEngineError(f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr!s}")
        return proc

    # ------------------------------------------------------------------ state
    def running(self) -> bool:
        self.supervisor.reload()
        return self.supervisor.alive("dockerd") and self.answers()

    def answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return self.docker("version", "--format", "{{.Server.Version}}", check=False, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _netns_bound(self) -> bool:
        return str(self.netns) in mountpoints()

    # ------------------------------------------------------------------ start
    def start(self) -> "DockerEngine":
        """Start dockerd unless this root's engine already answers; clean up a dead one first."""
        if self.running():
            return self
        self.stop()  # whatever a killed run left under this root
        if shutil.which(self.dockerd) is None:
            raise DockerEngineError(f"{self.dockerd} not found: `apt-get install docker.io` "
                                    "(scripts/setup-e2e-host --kind does it)")
        self.root.mkdir(parents=True, exist_ok=True)
        for path in BIND_SOURCES:
            if not path.exists():
                with self.created_record.open("a") as record:
                    record.write(f"{path}\n")
                path.mkdir(parents=True)
        runtime = self.root / "leviathan-runc"
        runtime.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(E2E_DIR)!r})\n"
                           "from leviathan_e2e.docker_runc import main\nmain()\n")
        runtime.chmod(0o755)
        self.netns.touch()
        proc = subprocess.run(["unshare", f"--net={self.netns}", "true"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise DockerEngineError(f"cannot create the engine's network namespace: {proc.stderr.strip()}")
        subprocess.run(["nsenter", f"--net={self.netns}", "ip", "link", "set", "lo", "up"], check=True)
        self.supervisor.spawn("dockerd", dockerd_argv(self.root, self.dockerd), netns=self.netns)
        deadline = time.monotonic() + self.start_timeout
        while not self.answers():
            if not self.supervisor.alive("dockerd"):
                raise DockerEngineError(f"dockerd exited during start; see {self.log}:\n{_tail(self.log)}")
            if time.monotonic() > deadline:
                raise DockerEngineError(f"dockerd did not answer within {self.start_timeout:.0f}s; see {self.log}")
            time.sleep(0.3)
        return self

    # ------------------------------------------------------------------ stop
    def _cgroup_dirs(self) -> list[Path]:
        own = cgroup_parent(self.root)
        return [m / own for m in cgroup_mounts() if (m / own).is_dir()]

    def _leftover_processes(self) -> set[int]:
        """Container processes (our cgroups), our shims and anything in our namespace."""
        ns = netns_id(self.netns) if self._netns_bound() else None
        found = set(processes_of_run(ns, [f"{self.root}/"])) | cgroup_pids(self._cgroup_dirs())
        found.discard(os.getpid())
        return found

    def stop(self) -> None:
        """Remove every container, stop dockerd by PID, then remove all it left on the host."""
        self.supervisor.reload()
        if self.supervisor.alive("dockerd") and self.answers():
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", "-v", *ids, check=False, timeout=300)
        self.supervisor.stop("dockerd", timeout=30)
        kill_until_gone(self._leftover_processes, attempts=50, quiet_scans=3)
        self._unmount_all()
        for cg in self._cgroup_dirs():
            for d in sorted((p for p in cg.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
                _rmdir(d)
            _rmdir(cg)
        if self.root.exists():
            shutil.rmtree(self.root)
        if self.created_record.exists():
            for line in self.created_record.read_text().split():
                _rmdir(Path(line))  # only while empty: never anything someone put there since
            self.created_record.unlink()
        self.supervisor.forget_all()

    def _unmount_all(self) -> None:
        left = unmount_under([self.root])
        if left:
            raise DockerEngineError(f"still mounted: {left}")

    def leftovers(self) -> list[str]:
        """What this engine left on the host (empty after :meth:`stop`)."""
        left = [f"process {pid}" for pid in sorted(self._leftover_processes())]
        left += [f"mount {m}" for m in mountpoints() if under(m, [self.root])]
        left += [f"cgroup {cg}" for cg in self._cgroup_dirs()]
        left += [f"dir {self.root}"] if self.root.exists() else []
        left += [f"created {p}" for p in (self.created_record.read_text().split()
                                          if self.created_record.exists() else [])]
        return left

    # ------------------------------------------------------------------ ports
    def relay(self, port: int, target: str | None = None) -> "PortRelay":
        """Make ``127.0.0.1:<port>`` of the engine's namespace reachable on the host's loopback."""
        return PortRelay(self, port, target or f"127.0.0.1:{port}")


class PortRelay:
    """The local backend's TCP relay (host loopback -> a port inside the engine's namespace)."""

    def __init__(self, engine: DockerEngine, port: int, target: str):
        self.engine, self.port, self.target = engine, port, target
        self.name = f"relay-{port}"

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        try:
            self.engine.supervisor.spawn(
                self.name,
                [sys.executable, "-m", "leviathan_e2e.backends.local.relay", "--listen-fd", str(listener.fileno()),
                 "--target", self.target],
                netns=self.engine.netns, pass_fds=[listener.fileno()], env={"PYTHONPATH": str(E2E_DIR)})
        finally:
            listener.close()

    def stop(self) -> None:
        self.engine.supervisor.stop(self.name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="the kind backend's private Docker engine")
    ap.add_argument("action", choices=("start", "stop", "status", "env"))
    ap.add_argument("--root", type=Path, default=None, help=f"default: $LEVIATHAN_DOCKER_ROOT or {DEFAULT_ROOT}")
    args = ap.parse_args(argv)
    engine = DockerEngine(args.root)
    if args.action == "start":
        engine.start()
        print(f"export DOCKER_HOST={engine.host}")
    elif args.action == "stop":
        engine.stop()
        left = engine.leftovers()
        if left:
            print("left over:\n  " + "\n  ".join(left), file=sys.stderr)
            return 1
    elif args.action == "env":
        print(f"export DOCKER_HOST={engine.host}")
    else:
        print("running" if engine.running() else "stopped")
        return 0 if engine.running() else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
