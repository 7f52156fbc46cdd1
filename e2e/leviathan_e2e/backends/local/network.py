"""The cluster's own network namespace: every network change of a run happens in there.

``unshare --net=<run_dir>/netns/cluster`` creates it and keeps it alive with a bind mount under the
run dir. Every component that has a network side (etcd, apiserver, kubelet, kube-proxy, containerd
and with it the CNI plugins and every pod, CoreDNS, the provisioner) is started inside it with
``nsenter --net``. The bridge, the pod routes, kube-proxy's ``KUBE-*`` chains, CNI's ``CNI-*``
chains, the egress guard, conntrack and the network sysctls (``ip_forward``,
``bridge-nf-call-iptables``) therefore exist only in that namespace, and the host's interfaces,
routes, iptables and network sysctls are never touched. When the last process in it is gone and its
bind mount is unmounted the kernel frees it, and everything in it with it.

The host reaches the apiserver through :mod:`.relay` on a loopback port; nothing else of the cluster
is reachable from the host's namespace, and nothing on the host's (no route out exists) from a pod.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
from pathlib import Path

from ...supervisor import Supervisor
from ..base import BackendError
from .config import PROBE_IP, LocalConfig
from .host import netns_id
from .render import guard_rules

REPO_E2E = Path(__file__).resolve().parents[3]  # .../e2e (PYTHONPATH of helper processes)


class ClusterNetwork:
    def __init__(self, cfg: LocalConfig):
        self.cfg = cfg
        self.file: Path = cfg.netns_file

    @property
    def id(self) -> str | None:
        """``net:[inode]`` while the namespace is bound at :attr:`file`, else None."""
        return netns_id(self.file) if self._bound() else None

    def _bound(self) -> bool:
        target = str(self.file)
        try:
            with open("/proc/self/mountinfo") as f:
                return any(line.split()[4] == target for line in f)
        except OSError:
            return False

    def command(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net={self.file}", "--", *argv]

    def run(self, argv: list[str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise BackendError(f"in the cluster netns: {' '.join(argv)} failed ({proc.returncode}): "
                               f"{proc.stderr.strip()}")
        return proc

    # ------------------------------------------------------------------ up
    def create(self) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.touch()
        p = subprocess.run(["unshare", f"--net={self.file}", "true"], capture_output=True, text=True)
        if p.returncode != 0:
            raise BackendError(f"cannot create the cluster network namespace: {p.stderr.strip()}")

    def configure(self) -> None:
        """Loopback, the bridge (node IP, pods' gateway), network sysctls, the egress guard."""
        cfg = self.cfg
        prefix = ipaddress.ip_network(cfg.pod_cidr).prefixlen
        self.run(["ip", "link", "set", "lo", "up"])
        # Outside the guard's range and never routed anywhere: the egress test's target.
        self.run(["ip", "addr", "add", f"{PROBE_IP}/32", "dev", "lo"])
        self.run(["ip", "link", "add", cfg.bridge, "type", "bridge"])
        self.run(["ip", "addr", "add", f"{cfg.node_ip}/{prefix}", "dev", cfg.bridge])
        self.run(["ip", "link", "set", cfg.bridge, "up"])
        # Per network namespace since Linux 5.3 (br_netfilter): set here, never on the host.
        self.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
                  "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1",
                  f"net.ipv6.conf.{cfg.bridge}.disable_ipv6=1"])
        for binary, args in guard_rules(cfg):
            self.run([binary, "-w", *args])

    def start_relay(self, supervisor: Supervisor) -> int:
        """Start the apiserver relay (host loopback -> node IP); returns the host port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            port = listener.getsockname()[1]
            supervisor.spawn("apiserver-relay", [
                sys.executable, "-m", "leviathan_e2e.backends.local.relay",
                "--listen-fd", str(listener.fileno()),
                "--target", f"{self.cfg.node_ip}:{self.cfg.apiserver_port}",
            ], netns=self.file, pass_fds=[listener.fileno()], env=helper_env())
        finally:
            listener.close()  # the relay holds its own copy
        return port


def helper_env() -> dict[str, str]:
    """Environment for our own Python helpers: ``-m leviathan_e2e...`` works without an install."""
    import os

    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_E2E), os.environ.get("PYTHONPATH")]))}
