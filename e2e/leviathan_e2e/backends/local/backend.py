"""``local`` backend: a real single-node Kubernetes cluster run directly on this host.

No kind, no Docker, no images of Kubernetes itself. Every component is a child
process tracked by PID (``<run_dir>/state.json``), logging to ``<run_dir>/logs``:

    etcd 3.5 ─ kube-apiserver ─ kube-controller-manager, kube-scheduler
    containerd (own socket/root/state) ─ kubelet (cgroupfs) ─ kube-proxy (iptables)
    coredns (host process, ``kubernetes`` plugin only, no ``forward``)
    hostpath provisioner (Python, default StorageClass ``leviathan-hostpath``)

Binaries come from ``scripts/build-k8s`` (versions in ``e2e/versions.env``); Debian
packages from ``scripts/setup-e2e-host``. Must run as root.

Networking (see e2e/README.md): a bridge ``leve2e0`` at 198.18.0.1/24 is the node IP,
the apiserver/kubelet/CoreDNS bind address and the pods' gateway; pods get
198.18.0.0/24 (CNI bridge + host-local, ``ipMasq: false``), Services 198.19.0.0/16.
iptables guards drop anything from the bridge that is not for 198.18.0.0/15, so no
pod traffic can leave the host. containerd runs with HTTP(S)_PROXY pointed at a
closed loopback port, so a missing image fails fast instead of reaching a registry.

Device plugins: the kubelet's device-plugin socket dir is hard-coded upstream to
``/var/lib/kubelet/device-plugins/``, so the kubelet root is ``/var/lib/kubelet``
(created and removed by this backend; refuses to run if it exists and is not ours).

Manual use::

    python -m leviathan_e2e.backends.local up|down|status|logs DEST|load-image TAR
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .. import images
from ..versions import bin_dir as default_bin_dir
from ..versions import read_versions
from ._api import ApiClient, ApiError
from .base import BackendError, ClusterBackend, Kubectl, write_cluster_diagnostics
from .hostpath_provisioner import PROVISIONER, STORAGE_CLASS, storage_class_manifest
from .pki import PKI, render_kubeconfig

__all__ = ["LocalBackend", "LocalConfig"]

REPO_E2E = Path(__file__).resolve().parents[2]  # .../e2e (for PYTHONPATH of helpers)
MARKER = ".leviathan-e2e-owner"
CHAIN_RAW = "LEV-E2E-GUARD"
CHAIN_FWD = "LEV-E2E-FWD"
# Chains created by kubelet / kube-proxy / CNI plugins that teardown removes.
FOREIGN_CHAIN_PREFIXES = ("KUBE-", "CNI-")
# sysctls that we or the kubelet/kube-proxy change; saved at up, restored at down.
SAVED_SYSCTLS = (
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "net/ipv4/conf/all/route_localnet",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
DEBIAN_TOOLS = ("containerd", "ctr", "runc", "ip", "iptables", "ip6tables", "iptables-save",
                "ip6tables-save", "openssl", "mount", "umount", "conntrack")
CNI_BIN_DIR = Path("/usr/lib/cni")
COMPONENT_ORDER_STOP = ("provisioner", "coredns", "kube-controller-manager", "kube-scheduler",
                        "kube-proxy", "kubelet", "containerd", "kube-apiserver", "etcd")


@dataclass
class LocalConfig:
    """Knobs of the local cluster. Defaults are what the e2e suite uses."""

    name: str = "local"
    run_dir: Path | None = None            # default /tmp/leviathan-e2e-<name>
    kubelet_root: Path = Path("/var/lib/kubelet")
    bin_dir: Path | None = None            # default: versions.bin_dir()
    node_name: str = "leviathan-e2e"
    bridge: str = "leve2e0"
    pod_cidr: str = "198.18.0.0/24"
    service_cidr: str = "198.19.0.0/16"
    guard_cidr: str = "198.18.0.0/15"      # the only destinations pod traffic may have
    apiserver_port: int = 6443
    etcd_client_port: int = 12379
    etcd_peer_port: int = 12380
    cluster_domain: str = "cluster.local"
    dns: bool = True                       # CoreDNS host process (if the binary exists)
    kube_proxy: bool = True
    max_pods: int = 110
    wait_timeout: float = 240.0
    log_verbosity: int = 1
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.run_dir is None:
            self.run_dir = Path(f"/tmp/leviathan-e2e-{self.name}")
        self.run_dir = Path(self.run_dir)
        self.kubelet_root = Path(self.kubelet_root)
        self.bin_dir = Path(self.bin_dir) if self.bin_dir else default_bin_dir()
        if len(self.bridge) > 15:
            raise ValueError("bridge name must be at most 15 characters")

    @property
    def node_ip(self) -> str:
        return str(next(ipaddress.ip_network(self.pod_cidr).hosts()))

    @property
    def kubernetes_service_ip(self) -> str:
        return str(next(ipaddress.ip_network(self.service_cidr).hosts()))

    @property
    def cgroup_root(self) -> str:
        return f"/leviathan-e2e-{self.name}"


# ----------------------------------------------------------------------------- renderers
# Pure functions of the config (unit-tested in tests/e2e/test_local_backend.py).

def render_cni_conflist(cfg: LocalConfig) -> dict:
    return {
        "cniVersion": "0.4.0",
        "name": "leviathan-e2e",
        "plugins": [{
            "type": "bridge",
            "bridge": cfg.bridge,
            "isGateway": True,
            "ipMasq": False,
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": cfg.pod_cidr, "gateway": cfg.node_ip}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": str(cfg.run_dir / "cni" / "ipam"),
            },
        }],
    }


def render_containerd_config(cfg: LocalConfig) -> str:
    r = cfg.run_dir / "containerd"
    runtime = """
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}.options]
        BinaryName = "/usr/sbin/runc"
        Root = "{runc_root}"
        SystemdCgroup = false
"""
    return f"""# generated by leviathan_e2e.backends.local; do not edit
version = 2
root = "{r}/root"
state = "{r}/state"
oom_score = 0

[grpc]
  address = "{r}/containerd.sock"

[ttrpc]
  address = "{r}/containerd.sock.ttrpc"

[debug]
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{r}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{images.PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # This host withholds CAP_SYS_RESOURCE even from root, so negative oom_score_adj
  # (kubelet asks -998 for sandboxes, -997 for Guaranteed pods) fails in runc's nsexec
  # ("can't get final child's PID from pipe: EOF"). Clamp to containerd's own score (0).
  restrict_oom_score_adj = true
  tolerate_missing_hugetlb_controller = true
  max_container_log_line_size = 16384
  # pod netns bind mounts under our state dir instead of /run/netns
  netns_mounts_under_state_dir = true

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{cfg.run_dir}/cni/net.d"
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{r}/certs.d"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = false
{runtime.format(name="runc", runc_root=r / "runc")}
    # RuntimeClass handler "nvidia" is plain runc: the GPUs in e2e are fake.
{runtime.format(name="nvidia", runc_root=r / "runc")}"""


def render_kubelet_config(cfg: LocalConfig, pki_dir: Path, dns: bool) -> dict:
    c: dict = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": cfg.node_ip,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 0,  # disabled: nothing uses it, and no fixed port to collide on
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cfg.cgroup_root,
        "failCgroupV1": False,
        "containerRuntimeEndpoint": f"unix://{cfg.run_dir}/containerd/containerd.sock",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki_dir / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(pki_dir / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(pki_dir / "kubelet-serving.key"),
        # Own (empty) resolv.conf: pods never inherit the host resolver.
        "resolvConf": str(cfg.run_dir / "kubelet" / "resolv.conf"),
        "clusterDomain": cfg.cluster_domain,
        "clusterDNS": [cfg.node_ip] if dns else [],
        "podLogsDir": str(cfg.run_dir / "pod-logs"),
        "failSwapOn": False,
        "protectKernelDefaults": False,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "maxPods": cfg.max_pods,
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "registerNode": True,
        "nodeStatusUpdateFrequency": "5s",
        "fileCheckFrequency": "5s",
        "syncFrequency": "10s",
        "staticPodPath": "",
    }
    return c


def render_kube_proxy_config(cfg: LocalConfig, kubeconfig: Path) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "clusterCIDR": cfg.pod_cidr,
        "hostnameOverride": cfg.node_name,
        "bindAddress": cfg.node_ip,
        # on the bridge address only: a loopback port could collide with another harness
        "healthzBindAddress": f"{cfg.node_ip}:10256",
        "metricsBindAddress": f"{cfg.node_ip}:10249",
        "nodePortAddresses": [f"{cfg.node_ip}/32"],
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False},
        "oomScoreAdj": 0,  # negative values need CAP_SYS_RESOURCE, which this host withholds
        # 0 = leave the host's conntrack sysctls alone
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                      "tcpCloseWaitTimeout": "0s"},
    }


def render_corefile(cfg: LocalConfig, kubeconfig: Path) -> str:
    # Only the kubernetes plugin: names outside the cluster zones get REFUSED.
    # Deliberately no `forward`: never the host resolver (10.255.255.53).
    return f"""{cfg.cluster_domain}:53 in-addr.arpa:53 ip6.arpa:53 {{
    bind {cfg.node_ip}
    errors
    kubernetes {cfg.cluster_domain} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }}
    cache 5
    loadbalance
}}
"""


def guard_rules(cfg: LocalConfig) -> list[tuple[str, list[str]]]:
    """(binary, args) for the pod-egress guard, in the order they are applied."""
    br = cfg.bridge
    return [
        ("iptables", ["-t", "raw", "-N", CHAIN_RAW]),
        ("iptables", ["-t", "raw", "-A", CHAIN_RAW, "-d", cfg.guard_cidr, "-j", "RETURN"]),
        ("iptables", ["-t", "raw", "-A", CHAIN_RAW, "-j", "DROP"]),
        ("iptables", ["-t", "raw", "-I", "PREROUTING", "1", "-i", br, "-j", CHAIN_RAW]),
        ("iptables", ["-t", "filter", "-N", CHAIN_FWD]),
        ("iptables", ["-t", "filter", "-A", CHAIN_FWD, "-i", br, "-o", br, "-j", "RETURN"]),
        ("iptables", ["-t", "filter", "-A", CHAIN_FWD, "-i", br, "-j", "DROP"]),
        ("iptables", ["-t", "filter", "-A", CHAIN_FWD, "-o", br, "-j", "DROP"]),
        ("iptables", ["-t", "filter", "-I", "FORWARD", "1", "-j", CHAIN_FWD]),
        ("ip6tables", ["-t", "raw", "-N", CHAIN_RAW]),
        ("ip6tables", ["-t", "raw", "-A", CHAIN_RAW, "-j", "DROP"]),
        ("ip6tables", ["-t", "raw", "-I", "PREROUTING", "1", "-i", br, "-j", CHAIN_RAW]),
    ]


def iptables_cleanup_commands(save_output: str, prefixes: Iterable[str]) -> list[list[str]]:
    """From ``iptables-save`` text, the commands that remove every chain whose name starts
    with one of *prefixes*, and every rule (in any chain) that jumps to one."""
    prefixes = tuple(prefixes)
    cmds: list[list[str]] = []
    table = None
    chains: dict[str, list[str]] = {}
    rule_dels: list[list[str]] = []
    for line in save_output.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            chains.setdefault(table, [])
        elif line.startswith(":") and table:
            name = line[1:].split()[0]
            if name.startswith(prefixes):
                chains[table].append(name)
        elif line.startswith("-A ") and table:
            parts = line.split()
            chain = parts[1]
            target = None
            for flag in ("-j", "-g"):
                if flag in parts:
                    i = parts.index(flag)
                    if i + 1 < len(parts):
                        target = parts[i + 1]
            if chain.startswith(prefixes):
                continue  # flushed with its chain
            if target and target.startswith(prefixes):
                rule_dels.append(["-t", table, "-D", *_split_rule(line)[1:]])
    cmds.extend(rule_dels)
    for t, names in chains.items():
        for n in names:
            cmds.append(["-t", t, "-F", n])
        for n in names:
            cmds.append(["-t", t, "-X", n])
    return cmds


def _split_rule(line: str) -> list[str]:
    import shlex

    return shlex.split(line)


# ----------------------------------------------------------------------------- helpers

def _proc_starttime(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def _alive(pid: int, starttime: int | None) -> bool:
    st = _proc_starttime(pid)
    return st is not None and (starttime is None or st == starttime)


def _read_sysctl(key: str) -> str | None:
    try:
        return Path("/proc/sys", key).read_text().strip()
    except OSError:
        return None


def _write_sysctl(key: str, value: str) -> bool:
    try:
        Path("/proc/sys", key).write_text(value + "\n")
        return True
    except OSError:
        return False


def _mountpoints() -> list[str]:
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mp = line.split()[4]
        out.append(mp.encode().decode("unicode_escape"))
    return out


def _under(path: str, roots: Iterable[Path]) -> bool:
    for r in roots:
        rs = str(r).rstrip("/")
        if path == rs or path.startswith(rs + "/"):
            return True
    return False


def _netns_list() -> set[str]:
    d = Path("/run/netns")
    return {p.name for p in d.iterdir()} if d.is_dir() else set()


def _cgroup_mounts() -> list[Path]:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype = right.split()[0] if right else ""
        if fstype in ("cgroup", "cgroup2"):
            mounts.append(Path(left.split()[4]))
    return mounts


def _port_free(host: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


# ----------------------------------------------------------------------------- backend

@dataclass
class _State:
    """What up() did, persisted so a later (or another) process can undo it."""

    pids: dict[str, list[int | None]] = field(default_factory=dict)
    bridge_created: bool = False
    guard_installed: bool = False
    kube_proxy_started: bool = False
    sysctls: dict[str, str] = field(default_factory=dict)
    kubelet_root_created: bool = False
    netns_before: list[str] = field(default_factory=list)
    created_dirs: list[str] = field(default_factory=list)
    cgroups_created: bool = False
    started_at: float = 0.0

    @classmethod
    def load(cls, path: Path) -> "_State":
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2, sort_keys=True))
        tmp.replace(path)


class LocalBackend(ClusterBackend):
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
        self._state = _State.load(self._state_path)
        self._popen: dict[str, subprocess.Popen] = {}
        self._t0 = time.monotonic()

    # ------------------------------------------------------------------ properties
    @property
    def kubeconfig(self) -> Path:
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
        return f"https://{self.cfg.node_ip}:{self.cfg.apiserver_port}"

    @property
    def dns_ip(self) -> str | None:
        """Cluster DNS address if CoreDNS was started by up(), else None."""
        return self.cfg.node_ip if "coredns" in self._state.pids else None

    def _bin(self, name: str) -> Path:
        return self.cfg.bin_dir / name  # type: ignore[operator]

    def _dns_enabled(self) -> bool:
        return self.cfg.dns and self._bin("coredns").exists()

    # ------------------------------------------------------------------ output
    def _log(self, msg: str) -> None:
        if not self.cfg.quiet:
            print(f"[local-cluster +{time.monotonic() - self._t0:5.1f}s] {msg}", flush=True)

    def _save(self) -> None:
        if self.run_dir.is_dir():
            self._state.save(self._state_path)

    # ------------------------------------------------------------------ preflight
    def preflight(self) -> list[str]:
        """Problems that would stop up() (empty list = fine)."""
        problems = []
        if os.geteuid() != 0:
            problems.append("must run as root (kubelet, containerd, iptables, mounts)")
        missing = [b for b in ("etcd", "kube-apiserver", "kube-controller-manager",
                               "kube-scheduler", "kubelet")
                   + (("kube-proxy",) if self.cfg.kube_proxy else ())
                   if not self._bin(b).exists()]
        if missing:
            problems.append(f"missing binaries in {self.cfg.bin_dir}: {', '.join(missing)} "
                            "(run scripts/build-k8s)")
        tools = [t for t in DEBIAN_TOOLS if not shutil.which(t)]
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
        for port in (self.cfg.etcd_client_port, self.cfg.etcd_peer_port):
            if not _port_free("127.0.0.1", port):
                problems.append(f"port 127.0.0.1:{port} is in use")
        return problems

    # ------------------------------------------------------------------ status
    def _component_alive(self, name: str) -> bool:
        entry = self._state.pids.get(name)
        return bool(entry) and _alive(entry[0], entry[1])

    def api(self) -> ApiClient:
        return ApiClient(self.server, self.pki_dir / "ca.crt", self.pki_dir / "admin.crt",
                         self.pki_dir / "admin.key")

    def is_up(self) -> bool:
        """All processes alive, apiserver ready and the node Ready."""
        if not self._state.pids or not all(self._component_alive(n) for n in self._state.pids):
            return False
        try:
            node = self.api().get(f"/api/v1/nodes/{self.cfg.node_name}", timeout=5)
        except Exception:
            return False
        return _node_ready(node)

    def status(self) -> dict:
        procs = {n: {"pid": e[0], "alive": _alive(e[0], e[1])} for n, e in self._state.pids.items()}
        info: dict = {"run_dir": str(self.run_dir), "kubeconfig": str(self.kubeconfig),
                      "processes": procs, "node_ready": None}
        if procs:
            try:
                info["node_ready"] = _node_ready(
                    self.api().get(f"/api/v1/nodes/{self.cfg.node_name}", timeout=5))
            except Exception as exc:
                info["node_ready"] = f"unknown ({exc.__class__.__name__})"
        return info

    # ------------------------------------------------------------------ up
    def up(self, reuse: bool | None = None) -> None:
        """Bring the cluster up (about 20-40 s warm). With *reuse* (default: env
        ``LEVIATHAN_E2E_REUSE=1``) a healthy cluster from a previous run is kept."""
        if reuse is None:
            reuse = os.environ.get("LEVIATHAN_E2E_REUSE") == "1"
        self._t0 = time.monotonic()
        if reuse and self.is_up():
            self._log(f"reusing running cluster in {self.run_dir}")
            return
        if self._state_path.exists() or self.run_dir.exists():
            self._log(f"cleaning up previous run in {self.run_dir}")
            self.down()
            self._t0 = time.monotonic()
        problems = self.preflight()
        if problems:
            raise BackendError("local cluster preflight failed:\n  - " + "\n  - ".join(problems))
        self._log(f"starting local cluster {self.cfg.name!r} in {self.run_dir} "
                  f"(k8s v{read_versions()['K8S_VERSION']})")
        self._state = _State(started_at=time.time(), netns_before=sorted(_netns_list()))
        for d in ("logs", "pki", "etcd", "apiserver", "kubelet", "cni/net.d", "cni/ipam",
                  "containerd/certs.d", "pod-logs", "volumes", "images", "coredns"):
            (self.run_dir / d).mkdir(parents=True, exist_ok=True)
        self._save()
        try:
            self._prepare_host()
            self._make_pki()
            self._start_control_plane()
            self._start_node()
            self._bootstrap_objects()
            self._wait_ready()
        except BaseException:
            self._log(f"cluster start FAILED; logs in {self.logs_dir}")
            raise
        self._log(f"cluster ready: export KUBECONFIG={self.kubeconfig}")

    # host: sysctls, bridge, guard, cgroups, kubelet root
    def _prepare_host(self) -> None:
        st = self._state
        for key in SAVED_SYSCTLS:
            val = _read_sysctl(key)
            if val is not None:
                st.sysctls[key] = val
        self._save()
        for key, val in (("net/ipv4/ip_forward", "1"),
                         ("net/bridge/bridge-nf-call-iptables", "1"),
                         ("net/bridge/bridge-nf-call-ip6tables", "1")):
            if not _write_sysctl(key, val):
                raise BackendError(f"cannot set sysctl {key}={val}")

        cfg = self.cfg
        if not Path(f"/sys/class/net/{cfg.bridge}").exists():
            _run(["ip", "link", "add", cfg.bridge, "type", "bridge"])
            st.bridge_created = True
            self._save()
        _run(["ip", "addr", "replace", f"{cfg.node_ip}/{ipaddress.ip_network(cfg.pod_cidr).prefixlen}",
              "dev", cfg.bridge])
        _run(["ip", "link", "set", cfg.bridge, "up"])
        _write_sysctl(f"net/ipv6/conf/{cfg.bridge}/disable_ipv6", "1")

        st.guard_installed = True  # set first: a half-installed guard is still removed
        self._save()
        self._remove_guard()
        for binary, args in guard_rules(cfg):
            _run([binary, "-w", *args])

        for mount in _cgroup_mounts():
            if mount.name == "unified" or not mount.is_dir():
                continue
            d = mount / cfg.cgroup_root.lstrip("/")
            d.mkdir(exist_ok=True)
            if (mount / "cpuset.cpus").exists():
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (d / f).write_text((mount / f).read_text())
        st.cgroups_created = True

        busy = [f"{cfg.node_ip}:{p}" for p in (cfg.apiserver_port, 10250)
                if not _port_free(cfg.node_ip, p)]
        if self._dns_enabled() and not _port_free(cfg.node_ip, 53, socket.SOCK_DGRAM):
            busy.append(f"{cfg.node_ip}:53/udp")
        if busy:
            raise BackendError(f"ports already in use (another process bound 0.0.0.0?): {busy}")

        if not cfg.kubelet_root.exists():
            cfg.kubelet_root.mkdir(parents=True)
            st.kubelet_root_created = True
        (cfg.kubelet_root / MARKER).write_text(str(self.run_dir) + "\n")
        for legacy in ("/var/log/containers", "/var/log/pods", "/run/netns", "/var/lib/cni"):
            if not Path(legacy).exists():
                st.created_dirs.append(legacy)
        self._save()
        self._log("host prepared (sysctls, bridge, egress guard, cgroups)")

    def _make_pki(self) -> None:
        cfg = self.cfg
        pki = PKI(self.pki_dir)
        pki.make_ca()
        pki.make_sa_keypair()
        pki.make_cert(
            "apiserver", "kube-apiserver", server=True, client=False,
            dns=["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 f"kubernetes.default.svc.{cfg.cluster_domain}", "localhost"],
            ips=[cfg.node_ip, cfg.kubernetes_service_ip, "127.0.0.1"],
        )
        pki.make_cert("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"])
        pki.make_cert("admin", "kubernetes-admin", ["system:masters"])
        pki.make_cert("controller-manager", "system:kube-controller-manager")
        pki.make_cert("scheduler", "system:kube-scheduler")
        pki.make_cert("kube-proxy", "system:kube-proxy")
        pki.make_cert("kubelet", f"system:node:{cfg.node_name}", ["system:nodes"])
        pki.make_cert("kubelet-serving", f"system:node:{cfg.node_name}", ["system:nodes"],
                      server=True, client=False, dns=[cfg.node_name, "localhost"],
                      ips=[cfg.node_ip, "127.0.0.1"])
        pki.make_cert("coredns", "system:leviathan-coredns", ["system:masters"])
        for user, pair in (("admin", "admin"), ("controller-manager", "controller-manager"),
                           ("scheduler", "scheduler"), ("kube-proxy", "kube-proxy"),
                           ("kubelet", "kubelet"), ("coredns", "coredns")):
            path = self.kubeconfig if user == "admin" else self.run_dir / f"{user}.kubeconfig"
            path.write_text(render_kubeconfig(self.server, self.pki_dir / "ca.crt",
                                              self.pki_dir / f"{pair}.crt",
                                              self.pki_dir / f"{pair}.key", user))
            path.chmod(0o600)
        self._log("certificates and kubeconfigs written")

    # ------------------------------------------------------------------ processes
    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.logs_dir / f"{name}.log", "ab")
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
                                 "NO_PROXY", "no_proxy", "KUBECONFIG")}
        full_env.update(env or {})
        log.write(f"\n=== {time.strftime('%F %T')} {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=self.run_dir, env=full_env,
                                start_new_session=True)
        log.close()
        self._popen[name] = proc
        self._state.pids[name] = [proc.pid, _proc_starttime(proc.pid)]
        self._save()

    def _check_alive(self, names: Iterable[str]) -> None:
        for n in names:
            if n in self._state.pids and not self._component_alive(n):
                raise BackendError(f"{n} exited during startup; last log lines:\n"
                                   + _tail(self.logs_dir / f"{n}.log", 40))

    def _wait(self, what: str, check: Callable[[], bool], timeout: float,
              watch: Iterable[str] = ()) -> None:
        deadline = time.monotonic() + timeout
        last_exc: Exception | None = None
        watch = list(watch)
        while True:
            self._check_alive(watch)
            try:
                if check():
                    return
                last_exc = None
            except Exception as exc:  # not ready yet
                last_exc = exc
            if time.monotonic() > deadline:
                detail = f" (last error: {last_exc})" if last_exc else ""
                raise BackendError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
            time.sleep(0.5)

    def _start_control_plane(self) -> None:
        cfg, pki, r = self.cfg, self.pki_dir, self.run_dir
        v = str(cfg.log_verbosity)
        self._spawn("etcd", [
            str(self._bin("etcd")), "--name", "leviathan-e2e",
            "--data-dir", str(r / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{cfg.etcd_client_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{cfg.etcd_client_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{cfg.etcd_peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{cfg.etcd_peer_port}",
            "--initial-cluster", f"leviathan-e2e=http://127.0.0.1:{cfg.etcd_peer_port}",
            "--quota-backend-bytes", str(2 * 1024 ** 3),
            "--unsafe-no-fsync",  # throwaway test data; much faster on a busy disk
            "--log-level", "warn",
        ])
        self._wait("etcd", lambda: _http_ok(f"http://127.0.0.1:{cfg.etcd_client_port}/health"),
                   30, ["etcd"])
        self._log("etcd ready")

        self._spawn("kube-apiserver", [
            str(self._bin("kube-apiserver")),
            f"--etcd-servers=http://127.0.0.1:{cfg.etcd_client_port}",
            f"--bind-address={cfg.node_ip}",
            f"--advertise-address={cfg.node_ip}",
            f"--secure-port={cfg.apiserver_port}",
            f"--cert-dir={r / 'apiserver'}",
            f"--service-cluster-ip-range={cfg.service_cidr}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--profiling=false",
            "--event-ttl=30m",
            f"--v={v}",
        ])
        api = self.api()
        self._wait("kube-apiserver /readyz", lambda: api.get("/readyz", timeout=5) == "ok",
                   90, ["etcd", "kube-apiserver"])
        self._log("kube-apiserver ready")

        # --secure-port=0: no HTTPS endpoints for kcm/scheduler (nothing needs them), so
        # they cannot collide with another control plane on this host (e.g. kwok's).
        common = ["--secure-port=0", "--leader-elect=false", f"--v={v}"]
        kc = lambda n: str(r / f"{n}.kubeconfig")  # noqa: E731
        self._spawn("kube-controller-manager", [
            str(self._bin("kube-controller-manager")), *common,
            f"--kubeconfig={kc('controller-manager')}",
            f"--authentication-kubeconfig={kc('controller-manager')}",
            f"--authorization-kubeconfig={kc('controller-manager')}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={cfg.service_cidr}",
            "--allocate-node-cidrs=false",
        ])
        self._spawn("kube-scheduler", [
            str(self._bin("kube-scheduler")), *common,
            f"--kubeconfig={kc('scheduler')}",
            f"--authentication-kubeconfig={kc('scheduler')}",
            f"--authorization-kubeconfig={kc('scheduler')}",
        ])

    def _start_node(self) -> None:
        cfg, r = self.cfg, self.run_dir
        (r / "cni" / "net.d" / "10-leviathan-e2e.conflist").write_text(
            json.dumps(render_cni_conflist(cfg), indent=2))
        (r / "containerd" / "config.toml").write_text(render_containerd_config(cfg))
        # A closed loopback port as proxy: any image pull fails fast, offline, with no DNS.
        self._spawn("containerd", ["containerd", "--config", str(r / "containerd" / "config.toml")],
                    env={"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                         "NO_PROXY": ""})
        self._wait("containerd", lambda: self._ctr("version", check=False).returncode == 0, 30,
                   ["containerd"])
        pause = images.pause_image(r / "images" / "pause.tar")
        self.load_image(pause.path)
        self._log("containerd ready, pause image (catatonit -P) imported")

        # kubelet's resolvConf (used for dnsPolicy Default, and for ClusterFirst when
        # there is no cluster DNS). It must name a nameserver: with none, containerd
        # copies the host's /etc/resolv.conf (10.255.255.53) into the sandbox. The node
        # IP is CoreDNS when enabled, else a closed port that fails fast.
        (r / "kubelet" / "resolv.conf").write_text(
            "# leviathan-e2e: never the host resolver\n"
            f"nameserver {cfg.node_ip}\noptions ndots:1\n")
        dns = self._dns_enabled()
        (r / "kubelet" / "config.json").write_text(
            json.dumps(render_kubelet_config(cfg, self.pki_dir, dns), indent=2))
        self._spawn("kubelet", [
            str(self._bin("kubelet")),
            f"--config={r / 'kubelet' / 'config.json'}",
            f"--kubeconfig={r / 'kubelet.kubeconfig'}",
            f"--root-dir={cfg.kubelet_root}",
            f"--hostname-override={cfg.node_name}",
            f"--node-ip={cfg.node_ip}",
            f"--node-labels=leviathan.e2e/node=local",
            f"--v={cfg.log_verbosity}",
        ])
        if cfg.kube_proxy:
            (r / "kube-proxy.json").write_text(
                json.dumps(render_kube_proxy_config(cfg, r / "kube-proxy.kubeconfig"), indent=2))
            self._state.kube_proxy_started = True
            self._spawn("kube-proxy", [str(self._bin("kube-proxy")),
                                       f"--config={r / 'kube-proxy.json'}",
                                       f"--v={cfg.log_verbosity}"])
        if dns:
            (r / "coredns" / "Corefile").write_text(
                render_corefile(cfg, r / "coredns.kubeconfig"))
            self._spawn("coredns", [str(self._bin("coredns")), "-conf",
                                    str(r / "coredns" / "Corefile")])
        else:
            self._log("CoreDNS binary missing or disabled: no cluster DNS")
        self._spawn("provisioner", [
            sys.executable, "-m", "leviathan_e2e.backends.hostpath_provisioner",
            "--server", self.server, "--ca", str(self.pki_dir / "ca.crt"),
            "--cert", str(self.pki_dir / "admin.crt"), "--key", str(self.pki_dir / "admin.key"),
            "--dir", str(r / "volumes"),
        ], env={"PYTHONPATH": os.pathsep.join([str(REPO_E2E), os.environ.get("PYTHONPATH", "")])})

    def _bootstrap_objects(self) -> None:
        api = self.api()
        api.create("/apis/node.k8s.io/v1/runtimeclasses", {
            "apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
            "metadata": {"name": "nvidia"}, "handler": "nvidia"})
        api.create("/apis/storage.k8s.io/v1/storageclasses",
                   storage_class_manifest(STORAGE_CLASS, PROVISIONER))
        self._log("RuntimeClass nvidia and default StorageClass leviathan-hostpath created")

    def _wait_ready(self) -> None:
        api, cfg = self.api(), self.cfg
        watch = list(self._state.pids)
        t = time.monotonic()
        self._log(f"waiting for node {cfg.node_name} Ready ...")
        self._wait(f"node {cfg.node_name} Ready",
                   lambda: _node_ready(api.get(f"/api/v1/nodes/{cfg.node_name}")),
                   cfg.wait_timeout, watch)
        self._log(f"node Ready after {time.monotonic() - t:.1f}s")
        self._wait("default ServiceAccount and kube-root-ca.crt", lambda: bool(
            api.get("/api/v1/namespaces/default/serviceaccounts/default")
            and api.get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt")),
            60, watch)
        self._log("default ServiceAccount present")

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
        for f in ("state.json", "containerd/config.toml", "kubelet/config.json", "kube-proxy.json",
                  "coredns/Corefile", "cni/net.d/10-leviathan-e2e.conflist"):
            src = self.run_dir / f
            if src.is_file():
                (dest / "config").mkdir(exist_ok=True)
                shutil.copy2(src, dest / "config" / f.replace("/", "_"))
        if (self.run_dir / "pod-logs").is_dir():
            shutil.copytree(self.run_dir / "pod-logs", dest / "pod-logs", dirs_exist_ok=True,
                            ignore_dangling_symlinks=True)
        host = dest / "host"
        host.mkdir(exist_ok=True)
        for name, cmd in (("ip-addr.txt", ["ip", "addr"]), ("ip-route.txt", ["ip", "route"]),
                          ("iptables.txt", ["iptables-save"]), ("netns.txt", ["ip", "netns"]),
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
        if self.kubeconfig.exists() and self._component_alive("kube-apiserver"):
            try:
                write_cluster_diagnostics(Kubectl(self.kubeconfig), dest / "cluster")
            except Exception as exc:  # kubectl missing etc.
                (dest / "cluster-diagnostics-failed.txt").write_text(repr(exc))
        return dest

    # ------------------------------------------------------------------ down
    def down(self) -> None:
        """Stop everything and undo every host change. Idempotent; tolerates half-started runs."""
        t0 = time.monotonic()
        self._t0 = t0
        st = _State.load(self._state_path) if self._state_path.exists() else self._state
        self._state = st
        if not st.pids and not self.run_dir.exists() and not (self.cfg.kubelet_root / MARKER).exists():
            return
        self._log(f"tearing down local cluster in {self.run_dir}")
        errors: list[str] = []

        def attempt(what: str, fn: Callable[[], None]) -> None:
            try:
                fn()
            except Exception as exc:
                errors.append(f"{what}: {exc}")

        attempt("drain pods", self._drain_pods)
        attempt("stop processes", self._stop_processes)
        attempt("kill containers", self._kill_container_processes)
        attempt("unmount", self._unmount_all)
        attempt("netns", self._delete_netns)
        attempt("iptables", self._cleanup_iptables)
        attempt("bridge", self._delete_bridge)
        attempt("sysctls", self._restore_sysctls)
        attempt("cgroups", self._remove_cgroups)
        attempt("files", self._remove_files)
        left = self.leftovers()
        if left:
            errors.append("leftovers: " + "; ".join(left))
        self._popen.clear()
        self._state = _State()
        if errors:
            self._log("teardown finished WITH PROBLEMS:\n  - " + "\n  - ".join(errors))
            raise BackendError("local cluster teardown incomplete:\n  - " + "\n  - ".join(errors))
        self._log(f"teardown complete in {time.monotonic() - t0:.1f}s")

    def _drain_pods(self) -> None:
        """Let the kubelet stop pods (CNI DEL, unmounts) before processes are killed."""
        need = ("kube-apiserver", "kubelet", "containerd")
        if not all(self._component_alive(n) for n in need):
            return
        # Controllers first, so deleted pods are not re-created.
        for name in ("kube-controller-manager", "kube-scheduler"):
            self._stop(name)
        api = self.api()
        try:
            pods = api.get("/api/v1/pods")["items"]
        except Exception:
            return
        for p in pods:
            md = p["metadata"]
            try:
                api.request("DELETE", f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}",
                            {"gracePeriodSeconds": 0}, timeout=5)
            except Exception:
                pass
        if pods:
            self._log(f"deleted {len(pods)} pod(s); waiting for the kubelet to stop them")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = self._ctr("tasks", "ls", "-q", check=False, timeout=10).stdout.split()
            new_ns = [n for n in _netns_list() - set(self._state.netns_before)
                      if n.startswith("cni-")]
            if not running and not new_ns:
                return
            time.sleep(0.5)

    def _stop(self, name: str, timeout: float = 15) -> None:
        entry = self._state.pids.get(name)
        if not entry:
            return
        pid, start = entry
        if _alive(pid, start):
            try:
                # Our children run in their own session: the group is the component and
                # its short-lived helpers (shims setsid() themselves and are handled later).
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGTERM)
                else:
                    os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while _alive(pid, start) and time.monotonic() < deadline:
                self._reap(name)
                time.sleep(0.1)
            if _alive(pid, start):
                try:
                    os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                while _alive(pid, start):
                    self._reap(name)
                    time.sleep(0.05)
        self._reap(name)

    def _reap(self, name: str) -> None:
        p = self._popen.get(name)
        if p is not None:
            p.poll()

    def _stop_processes(self) -> None:
        names = [n for n in COMPONENT_ORDER_STOP if n in self._state.pids]
        names += [n for n in self._state.pids if n not in names]
        for n in names:
            self._stop(n)

    def _our_shims(self) -> list[int]:
        needle = str(self.containerd_socket).encode()
        pids = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmd and needle in cmd:
                pids.append(int(d.name))
        return pids

    def _cgroup_dirs(self) -> list[Path]:
        rel = self.cfg.cgroup_root.lstrip("/")
        return [m / rel for m in _cgroup_mounts() if (m / rel).is_dir()]

    def _kill_container_processes(self) -> None:
        """Container processes (in our cgroup tree) and containerd shims (by socket path)."""
        for _ in range(20):
            victims = set(self._our_shims())
            for cg in self._cgroup_dirs():
                for procs in cg.rglob("cgroup.procs"):
                    try:
                        victims.update(int(x) for x in procs.read_text().split())
                    except OSError:
                        pass
            victims.discard(os.getpid())
            if not victims:
                return
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)

    def _unmount_all(self) -> None:
        roots = [self.run_dir, self.cfg.kubelet_root]
        new_ns = {f"/run/netns/{n}" for n in _netns_list() - set(self._state.netns_before)
                  if n.startswith("cni-")}
        for _ in range(10):
            mps = [m for m in _mountpoints() if _under(m, roots) or m in new_ns]
            if not mps:
                return
            for mp in sorted(set(mps), key=lambda m: m.count("/"), reverse=True):
                if subprocess.run(["umount", mp], capture_output=True).returncode != 0:
                    subprocess.run(["umount", "-l", mp], capture_output=True)
        left = [m for m in _mountpoints() if _under(m, roots)]
        if left:
            raise BackendError(f"still mounted: {left}")

    def _delete_netns(self) -> None:
        for n in sorted(_netns_list() - set(self._state.netns_before)):
            if n.startswith("cni-"):
                subprocess.run(["ip", "netns", "delete", n], capture_output=True)

    def _remove_guard(self) -> None:
        for binary in ("iptables", "ip6tables"):
            save = subprocess.run([f"{binary}-save"], capture_output=True, text=True).stdout
            for args in iptables_cleanup_commands(save, ("LEV-E2E-",)):
                subprocess.run([binary, "-w", *args], capture_output=True)

    def _cleanup_iptables(self) -> None:
        if self._state.kube_proxy_started and self._bin("kube-proxy").exists():
            subprocess.run([str(self._bin("kube-proxy")), "--cleanup", "--v=0"],
                           capture_output=True, timeout=60)
        prefixes = ("LEV-E2E-",)
        if self._state.pids:  # kubelet/kube-proxy/CNI ran: their chains are ours to remove
            prefixes += FOREIGN_CHAIN_PREFIXES
        for binary in ("iptables", "ip6tables"):
            save = subprocess.run([f"{binary}-save"], capture_output=True, text=True).stdout
            for args in iptables_cleanup_commands(save, prefixes):
                subprocess.run([binary, "-w", *args], capture_output=True)

    def _delete_bridge(self) -> None:
        br = self.cfg.bridge
        if not Path(f"/sys/class/net/{br}").exists():
            return
        brif = Path(f"/sys/class/net/{br}/brif")
        for port in (brif.iterdir() if brif.is_dir() else []):
            subprocess.run(["ip", "link", "delete", port.name], capture_output=True)
        if self._state.bridge_created or self._state.pids:
            _run(["ip", "link", "delete", br])

    def _restore_sysctls(self) -> None:
        for key, val in self._state.sysctls.items():
            if _read_sysctl(key) != val:
                _write_sysctl(key, val)

    def _remove_cgroups(self) -> None:
        for cg in self._cgroup_dirs():
            for d in sorted((p for p in cg.rglob("*") if p.is_dir()),
                            key=lambda p: len(p.parts), reverse=True):
                try:
                    d.rmdir()
                except OSError:
                    pass
            try:
                cg.rmdir()
            except OSError as exc:
                raise BackendError(f"cannot remove cgroup {cg}: {exc}")

    def _remove_files(self) -> None:
        roots = [self.run_dir, self.cfg.kubelet_root]
        if any(_under(m, roots) for m in _mountpoints()):
            raise BackendError("refusing to delete files: mounts remain")
        # kubelet's legacy /var/log/containers symlinks into our pod log dir
        legacy = Path("/var/log/containers")
        if legacy.is_dir():
            for link in legacy.iterdir():
                try:
                    if link.is_symlink() and _under(os.readlink(link), [self.run_dir]):
                        link.unlink()
                except OSError:
                    pass
        # CNI result cache of our network
        results = Path("/var/lib/cni/results")
        if results.is_dir():
            for f in results.glob("leviathan-e2e-*"):
                f.unlink(missing_ok=True)
        for d in ("/var/lib/cni/networks/leviathan-e2e",):
            shutil.rmtree(d, ignore_errors=True)
        for d in sorted(self._state.created_dirs, key=len, reverse=True):
            p = Path(d)
            if p.is_dir():
                # only remove what is now empty of anything we did not make
                for sub in sorted(p.rglob("*"), key=lambda x: len(x.parts), reverse=True):
                    try:
                        sub.rmdir() if sub.is_dir() and not sub.is_symlink() else None
                    except OSError:
                        pass
                try:
                    p.rmdir()
                except OSError:
                    pass
        kr = self.cfg.kubelet_root
        if (kr / MARKER).exists():
            owner = (kr / MARKER).read_text().strip()
            if owner == str(self.run_dir):
                shutil.rmtree(kr)
        shutil.rmtree(self.run_dir, ignore_errors=False) if self.run_dir.exists() else None

    def leftovers(self) -> list[str]:
        """Anything of ours still on the host (empty after a clean down())."""
        left = []
        needles = [str(self.run_dir), str(self.containerd_socket)]
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            try:
                cmd = (d / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            # Only processes naming our run dir / socket: the same binaries may be used by
            # other harnesses (e.g. a kwok control plane) and those are not ours.
            if any(n in cmd for n in needles):
                left.append(f"process {d.name}: {cmd.replace(chr(0), ' ')[:120]}")
        roots = [self.run_dir, self.cfg.kubelet_root]
        left += [f"mount {m}" for m in _mountpoints() if _under(m, roots)]
        left += [f"netns {n}" for n in _netns_list() - set(self._state.netns_before)
                 if n.startswith("cni-")]
        if Path(f"/sys/class/net/{self.cfg.bridge}").exists():
            left.append(f"bridge {self.cfg.bridge}")
        for binary in ("iptables-save", "ip6tables-save"):
            save = subprocess.run([binary], capture_output=True, text=True).stdout
            for line in save.splitlines():
                if line.startswith(":") and line[1:].startswith(("LEV-E2E-",) + FOREIGN_CHAIN_PREFIXES):
                    left.append(f"{binary[:-5]} chain {line.split()[0][1:]}")
        left += [f"cgroup {c}" for c in self._cgroup_dirs()]
        left += [f"dir {d} (created by up)" for d in self._state.created_dirs
                 if Path(d).exists() and d != "/run/netns"]
        if self.run_dir.exists():
            left.append(f"dir {self.run_dir}")
        if (self.cfg.kubelet_root / MARKER).exists():
            left.append(f"dir {self.cfg.kubelet_root}")
        return left


# ----------------------------------------------------------------------------- small utils

def _node_ready(node: dict) -> bool:
    for c in node.get("status", {}).get("conditions", []):
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _http_ok(url: str) -> bool:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=3) as resp:
        return resp.status == 200


def _run(cmd: list[str]) -> None:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise BackendError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")


def _tail(path: Path, n: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return f"(no log at {path})"


# ----------------------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m leviathan_e2e.backends.local",
                                 description="Drive the local e2e cluster by hand.")
    ap.add_argument("--name", default=os.environ.get("LEVIATHAN_E2E_CLUSTER", "local"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start (or reuse with --reuse) the cluster")
    up.add_argument("--reuse", action="store_true")
    sub.add_parser("down", help="stop and clean up everything")
    sub.add_parser("status", help="print process/node status as JSON")
    sub.add_parser("leftovers", help="list anything of ours left on the host")
    lg = sub.add_parser("logs", help="collect logs and diagnostics into DEST")
    lg.add_argument("dest", type=Path)
    li = sub.add_parser("load-image", help="import an image tarball into containerd")
    li.add_argument("archive", type=Path)
    args = ap.parse_args(argv)

    b = LocalBackend(name=args.name)
    if args.cmd == "up":
        b.up(reuse=args.reuse)
    elif args.cmd == "down":
        b.down()
    elif args.cmd == "status":
        print(json.dumps(b.status(), indent=2))
    elif args.cmd == "leftovers":
        left = b.leftovers()
        print("\n".join(left) if left else "nothing left")
        return 1 if left else 0
    elif args.cmd == "logs":
        print(b.collect_logs(args.dest))
    elif args.cmd == "load-image":
        b.load_image(args.archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
