"""``local`` backend: a real single-node Kubernetes cluster run directly on this host, in its own
network namespace.

No kind, no Docker, no images of Kubernetes itself. Every component is a child process recorded
by the supervisor (``<run_dir>/processes.json``), logging to ``<run_dir>/logs``:

    etcd 3.5 ─ kube-apiserver ─ kube-controller-manager, kube-scheduler
    containerd (own socket/root/state) ─ kubelet (cgroupfs) ─ kube-proxy (iptables)
    kube-router (its NetworkPolicy controller only: iptables + ipset)
    coredns (``kubernetes`` plugin only, no ``forward``)
    hostpath provisioner (Python, default StorageClass ``leviathan-hostpath``)
    apiserver relay (host loopback port -> apiserver)

All of them run inside a network namespace the run creates (:mod:`.network`): the bridge,
kube-proxy's and CNI's iptables chains and the egress guard exist only there, so the host's
network configuration is never touched, and a host that is itself a Kubernetes node keeps its
rules. Binaries come from ``scripts/build-k8s`` and ``scripts/build-kube-router`` (versions in
``e2e/versions.env``); Debian
packages from ``scripts/setup-e2e-host``. Must run as root.

The module layout: config.py (knobs), render.py (component configs), network.py (the namespace,
the relay), controlplane.py (start-up), teardown.py (down, leftovers), host.py (views of the host),
cli.py (``python -m leviathan_e2e.backends.local up|down|status|leftovers|logs|load-image``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ... import images
from ...supervisor import Supervisor
from ...versions import read_versions
from .._api import ApiClient
from ..base import BackendError, ClusterBackend, Kubectl, write_cluster_diagnostics
from .config import CNI_BIN_DIR, DEBIAN_TOOLS, MARKER, NETWORK_POLICY_TOOLS, SAVED_SYSCTLS, LocalConfig
from .controlplane import ControlPlaneMixin, node_ready
from .host import cgroup_mounts, host_network_snapshot, netns_id, read_sysctl
from .network import ClusterNetwork
from .teardown import TeardownMixin

__all__ = ["LocalBackend"]

# Directories the kubelet/CNI create on the host if missing; up() notes which it made.
HOST_DIRS = ("/var/log/containers", "/var/log/pods", "/var/lib/cni")


@dataclass
class _State:
    """What up() changed on the host, persisted so a later (or another) process can undo it.
    Processes are recorded separately by the supervisor."""

    sysctls: dict[str, str] = field(default_factory=dict)
    netns_id: str | None = None
    relay_port: int | None = None
    host_network_before: list[str] = field(default_factory=list)
    created_dirs: list[str] = field(default_factory=list)
    started_at: float = 0.0

    @classmethod
    def load(cls, path: Path) -> "_State":
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2, sort_keys=True))
        tmp.replace(path)


class LocalBackend(ControlPlaneMixin, TeardownMixin, ClusterBackend):
    """Real single-node cluster on this host. See the module docstring."""

    name = "local"

    def __init__(self, config: LocalConfig | None = None, **overrides):
        if config is None:
            config = LocalConfig(**overrides)
        elif overrides:
            raise TypeError("pass either config or keyword overrides, not both")
        self.cfg = config
        self.run_dir: Path = config.run_dir  # type: ignore[assignment]
        self.pki_dir = self.run_dir / "pki"
        self._state_path = self.run_dir / "state.json"
        self._state = self._load_state()
        self.supervisor = Supervisor(self.run_dir / "processes.json", self.run_dir / "logs", cwd=None)
        self.network = ClusterNetwork(config)
        self._t0 = time.monotonic()

    # ------------------------------------------------------------------ properties
    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig for the host side: the apiserver through the loopback relay."""
        return self.run_dir / "admin.kubeconfig"

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def kubelet_root(self) -> Path:
        return self.cfg.kubelet_root

    @property
    def device_plugin_dir(self) -> Path:
        """Where kubelet.sock lives and device plugins must serve (hard-coded upstream)."""
        return self.cfg.kubelet_root / "device-plugins"

    @property
    def containerd_socket(self) -> Path:
        return self.run_dir / "containerd" / "containerd.sock"

    @property
    def node_name(self) -> str:
        return self.cfg.node_name

    @property
    def server(self) -> str:
        """The apiserver as the host reaches it (the relay's loopback port)."""
        return f"https://127.0.0.1:{self._state.relay_port}"

    @property
    def dns_ip(self) -> str | None:
        """Cluster DNS address if CoreDNS was started by up(), else None."""
        return self.cfg.node_ip if "coredns" in self.supervisor.pids else None

    def _bin(self, name: str) -> Path:
        return self.cfg.bin_dir / name  # type: ignore[operator]

    def _dns_enabled(self) -> bool:
        return self.cfg.dns and self._bin("coredns").exists()

    @property
    def host_network_before(self) -> list[str]:
        return self._state.host_network_before

    def host_network_snapshot(self) -> list[str]:
        """Interfaces and iptables/ip6tables chains of the host's network namespace (as this
        process sees it): the cluster must never change them."""
        return host_network_snapshot()

    def netns_command(self, argv: list[str]) -> list[str]:
        """*argv* run inside the cluster's network namespace (where pods and the node IP are)."""
        return self.network.command(argv)

    # ------------------------------------------------------------------ output / state
    def _log(self, msg: str) -> None:
        if not self.cfg.quiet:
            print(f"[local-cluster +{time.monotonic() - self._t0:5.1f}s] {msg}", flush=True)

    def _load_state(self) -> _State:
        return _State.load(self._state_path)

    def _reset_state(self) -> None:
        self._state = _State()

    def _save(self) -> None:
        if self.run_dir.is_dir():
            self._state.save(self._state_path)

    # ------------------------------------------------------------------ preflight
    def preflight(self) -> list[str]:
        """Problems that would stop up() (empty list = fine)."""
        problems = []
        if os.geteuid() != 0:
            problems.append("must run as root (kubelet, containerd, network namespace, mounts)")
        missing = [b for b in ("etcd", "kube-apiserver", "kube-controller-manager",
                               "kube-scheduler", "kubelet")
                   + (("kube-proxy",) if self.cfg.kube_proxy else ())
                   if not self._bin(b).exists()]
        if missing:
            problems.append(f"missing binaries in {self.cfg.bin_dir}: {', '.join(missing)} "
                            "(run scripts/build-k8s)")
        if self.cfg.network_policy and not self.cfg.kube_router.exists():
            problems.append(f"missing {self.cfg.kube_router} (run scripts/build-kube-router)")
        tools = [t for t in DEBIAN_TOOLS + (NETWORK_POLICY_TOOLS if self.cfg.network_policy else ())
                 if not shutil.which(t)]
        for p in (CNI_BIN_DIR / "bridge", CNI_BIN_DIR / "host-local", CNI_BIN_DIR / "loopback",
                  images.CATATONIT):
            if not p.exists():
                tools.append(str(p))
        if tools:
            problems.append(f"missing host tools: {', '.join(tools)} (run scripts/setup-e2e-host)")
        root = self.cfg.kubelet_root
        if root.exists() and not (root / MARKER).exists():
            problems.append(f"{root} exists and was not created by leviathan-e2e; refusing to use it")
        elif (root / MARKER).exists():
            owner = (root / MARKER).read_text().strip()
            if owner != str(self.run_dir):
                problems.append(f"{root} belongs to another leviathan-e2e cluster ({owner})")
        return problems

    # ------------------------------------------------------------------ status
    def api(self) -> ApiClient:
        return ApiClient(self.server, self.pki_dir / "ca.crt", self.pki_dir / "admin.crt",
                         self.pki_dir / "admin.key")

    def is_up(self) -> bool:
        """All processes alive, apiserver ready and the node Ready."""
        pids = self.supervisor.pids
        if not pids or not all(self.supervisor.alive(n) for n in pids) or not self._state.relay_port:
            return False
        try:
            node = self.api().get(f"/api/v1/nodes/{self.cfg.node_name}", timeout=5)
        except Exception:
            return False
        return node_ready(node)

    def status(self) -> dict:
        procs = {n: {"pid": e[0], "alive": self.supervisor.alive(n)} for n, e in self.supervisor.pids.items()}
        info: dict = {"run_dir": str(self.run_dir), "kubeconfig": str(self.kubeconfig),
                      "netns": str(self.network.file) if self.network.id else None,
                      "processes": procs, "node_ready": None}
        if procs and self._state.relay_port:
            try:
                info["node_ready"] = node_ready(
                    self.api().get(f"/api/v1/nodes/{self.cfg.node_name}", timeout=5))
            except Exception as exc:
                info["node_ready"] = f"unknown ({exc.__class__.__name__})"
        return info

    # ------------------------------------------------------------------ up
    def up(self, reuse: bool | None = None) -> None:
        """Bring the cluster up (about 10-15 s warm). With *reuse* (default: env
        ``LEVIATHAN_E2E_REUSE=1``) a healthy cluster from a previous run is kept.

        Whatever an earlier run left (even one killed with SIGKILL mid-way) is torn down first; if
        that cannot be fully undone, up() says exactly what is left instead of starting."""
        if reuse is None:
            reuse = os.environ.get("LEVIATHAN_E2E_REUSE") == "1"
        self._t0 = time.monotonic()
        if reuse and self.is_up():
            self._log(f"reusing running cluster in {self.run_dir}")
            return
        if self._anything_to_clean():
            self._log(f"cleaning up a previous run in {self.run_dir}")
            try:
                self.down()
            except BackendError as exc:
                left = self.leftovers()
                if left:
                    raise BackendError(f"a previous run left things that could not be removed; "
                                       f"fix by hand, then retry:\n  - " + "\n  - ".join(left)) from exc
                self._log(f"previous run cleaned up (with warnings: {exc})")
            self._t0 = time.monotonic()
        problems = self.preflight()
        if problems:
            raise BackendError("local cluster preflight failed:\n  - " + "\n  - ".join(problems))
        self._log(f"starting local cluster {self.cfg.name!r} in {self.run_dir} "
                  f"(k8s v{read_versions()['K8S_VERSION']})")
        self._state = _State(started_at=time.time())
        for d in ("logs", "pki", "etcd", "apiserver", "kubelet", "cni/net.d", "cni/ipam",
                  "containerd/certs.d", "pod-logs", "volumes", "images", "coredns"):
            (self.run_dir / d).mkdir(parents=True, exist_ok=True)
        self._save()
        self.supervisor.reload()
        try:
            self._prepare_host()
            self._make_pki()
            self._start_control_plane()
            self._start_node()
            self._bootstrap_objects()
            self._wait_ready()
            self._start_network_policy()
        except BaseException:
            self._log(f"cluster start FAILED; logs in {self.logs_dir}")
            raise
        self._log(f"cluster ready: export KUBECONFIG={self.kubeconfig}")

    def _prepare_host(self) -> None:
        """The network namespace (with bridge, guard, relay), cgroups and the kubelet root."""
        st, cfg = self._state, self.cfg
        for key in SAVED_SYSCTLS:
            val = read_sysctl(key)
            if val is not None:
                st.sysctls[key] = val
        for legacy in HOST_DIRS:
            if not Path(legacy).exists():
                st.created_dirs.append(legacy)
        st.host_network_before = self.host_network_snapshot()
        self._save()

        self.network.create()
        st.netns_id = netns_id(self.network.file)
        self._save()
        self.network.configure()
        st.relay_port = self.network.start_relay(self.supervisor)
        self._save()

        for mount in cgroup_mounts():
            if mount.name == "unified" or not mount.is_dir():
                continue
            d = mount / cfg.cgroup_root.lstrip("/")
            d.mkdir(exist_ok=True)
            if (mount / "cpuset.cpus").exists():
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (d / f).write_text((mount / f).read_text())

        cfg.kubelet_root.mkdir(parents=True, exist_ok=True)
        (cfg.kubelet_root / MARKER).write_text(str(self.run_dir) + "\n")
        self._log(f"host prepared: network namespace {self.network.file} (bridge, egress guard), "
                  f"apiserver relay on 127.0.0.1:{st.relay_port}, cgroups")

    # ------------------------------------------------------------------ images
    def _ctr(self, *args: str, check: bool = True, timeout: float = 300
             ) -> subprocess.CompletedProcess[str]:
        cmd = ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise BackendError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
        return proc

    def load_image(self, archive: Path) -> None:
        """``ctr -n k8s.io images import`` a docker-archive/OCI tarball (unpacked to overlayfs)."""
        archive = Path(archive)
        if not archive.is_file():
            raise BackendError(f"image archive not found: {archive}")
        self._ctr("images", "import", "--snapshotter", "overlayfs", str(archive))

    def list_images(self) -> list[str]:
        out = self._ctr("images", "ls", "-q").stdout
        return [line for line in out.splitlines() if line.strip()]

    # ------------------------------------------------------------------ logs
    def collect_logs(self, dest: Path) -> Path:
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        if self.logs_dir.is_dir():
            shutil.copytree(self.logs_dir, dest / "components", dirs_exist_ok=True)
        for f in ("state.json", "processes.json", "containerd/config.toml", "kubelet/config.json", "kube-proxy.json",
                  "coredns/Corefile", "cni/net.d/10-leviathan-e2e.conflist"):
            src = self.run_dir / f
            if src.is_file():
                (dest / "config").mkdir(exist_ok=True)
                shutil.copy2(src, dest / "config" / f.replace("/", "_"))
        if (self.run_dir / "pod-logs").is_dir():
            shutil.copytree(self.run_dir / "pod-logs", dest / "pod-logs", dirs_exist_ok=True,
                            ignore_dangling_symlinks=True)
        host = dest / "cluster-netns"
        host.mkdir(exist_ok=True)
        in_netns = self.network.command if self.network.id else (lambda argv: ["false"])
        for name, cmd in (("ip-addr.txt", in_netns(["ip", "addr"])), ("ip-route.txt", in_netns(["ip", "route"])),
                          ("iptables.txt", in_netns(["iptables-save"])),
                          ("ipset.txt", in_netns(["ipset", "list"])),
                          ("ctr-containers.txt", ["ctr", "--address", str(self.containerd_socket),
                                                  "-n", "k8s.io", "containers", "ls"]),
                          ("ctr-tasks.txt", ["ctr", "--address", str(self.containerd_socket),
                                             "-n", "k8s.io", "tasks", "ls"]),
                          ("ctr-images.txt", ["ctr", "--address", str(self.containerd_socket),
                                              "-n", "k8s.io", "images", "ls"])):
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
                (host / name).write_text(p.stdout + p.stderr)
            except Exception as exc:
                (host / name).write_text(f"failed: {exc!r}\n")
        if self.kubeconfig.exists() and self.supervisor.alive("kube-apiserver"):
            try:
                write_cluster_diagnostics(Kubectl(self.kubeconfig), dest / "cluster")
            except Exception as exc:  # kubectl missing etc.
                (dest / "cluster-diagnostics-failed.txt").write_text(repr(exc))
        return dest

