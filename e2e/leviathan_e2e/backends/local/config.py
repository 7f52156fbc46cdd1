"""Knobs and fixed names of the local cluster."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ...versions import bin_dir as default_bin_dir
from ...versions import kube_router_binary

# Written into the kubelet root: up() refuses a /var/lib/kubelet without it (someone else's).
MARKER = ".leviathan-e2e-owner"
CHAIN_RAW = "LEV-E2E-GUARD"
CHAIN_FWD = "LEV-E2E-FWD"
CNI_BIN_DIR = Path("/usr/lib/cni")
#: kube-router's policy controller runs ipset(8) for its pod and namespace sets.
NETWORK_POLICY_TOOLS = ("ipset",)
DEBIAN_TOOLS = ("containerd", "ctr", "runc", "ip", "iptables", "ip6tables", "openssl", "mount",
                "umount", "nsenter", "unshare", "sysctl")
# Global (not per network namespace) sysctls the kubelet may change; saved at up, restored at
# down. Network sysctls are not here: they belong to the cluster's own network namespace.
SAVED_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
# Helpers first (they talk to the control plane), the apiserver relay last: down() drains pods
# through it before anything is stopped.
COMPONENT_ORDER_STOP = ("fake-gpu-plugin", "kwok", "provisioner", "coredns", "kube-controller-manager",
                        "kube-scheduler", "kube-router", "kube-proxy", "kubelet", "containerd", "kube-apiserver", "etcd",
                        "apiserver-relay")
# An address inside the cluster's network namespace but outside the guard's range: the egress
# test listens there; only the guard stands between it and a pod (TEST-NET-1, never routed).
PROBE_IP = "192.0.2.1"
PROBE_LINK = "lev-probe"
#: kube-router's /healthz inside the cluster's network namespace (its default port: no collision
#: with the host, whose namespace it is not in).
KUBE_ROUTER_HEALTH_PORT = 20244


@dataclass
class LocalConfig:
    """Knobs of the local cluster. Defaults are what the e2e suite uses."""

    name: str = "local"
    run_dir: Path | None = None            # default /tmp/leviathan-e2e-<name>
    kubelet_root: Path = Path("/var/lib/kubelet")
    bin_dir: Path | None = None            # default: versions.bin_dir()
    node_name: str = "leviathan-e2e"
    bridge: str = "leve2e0"                # inside the cluster's network namespace
    pod_cidr: str = "198.18.0.0/24"
    service_cidr: str = "198.19.0.0/16"
    guard_cidr: str = "198.18.0.0/15"      # the only destinations pod traffic may have
    apiserver_port: int = 6443
    etcd_client_port: int = 12379
    etcd_peer_port: int = 12380
    cluster_domain: str = "cluster.local"
    dns: bool = True                       # CoreDNS (if the binary exists)
    kube_proxy: bool = True
    network_policy: bool = True            # kube-router's NetworkPolicy controller enforces policies
    kube_router: Path | None = None        # default: versions.kube_router_binary()
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
        self.kube_router = Path(self.kube_router) if self.kube_router else kube_router_binary()
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

    @property
    def netns_file(self) -> Path:
        """Bind mount that keeps the cluster's network namespace alive (under the run dir, so
        teardown's unmount of the run dir ends it)."""
        return self.run_dir / "netns" / "cluster"  # type: ignore[operator]

    @property
    def internal_server(self) -> str:
        """The apiserver as seen from inside the cluster's network namespace."""
        return f"https://{self.node_ip}:{self.apiserver_port}"
