"""Starting the cluster: certificates, control plane (etcd, apiserver, controller-manager,
scheduler), node (containerd, kubelet, kube-proxy), CoreDNS, the provisioner, bootstrap objects, and
once the node exists the NetworkPolicy enforcer (kube-router's policy controller).

A mixin of :class:`~.backend.LocalBackend`: it uses the backend's config, supervisor and network.
Every component runs inside the cluster's network namespace (see :mod:`.network`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

from ... import images
from ..base import BackendError
from ..hostpath_provisioner import PROVISIONER, STORAGE_CLASS, storage_class_manifest
from ..pki import PKI, render_kubeconfig
from .host import tail
from .network import helper_env
from .config import KUBE_ROUTER_HEALTH_PORT
from .render import (render_cni_conflist, render_containerd_config, render_corefile, render_kube_proxy_config,
                     render_kube_router_args, render_kubelet_config)


def node_ready(node: dict) -> bool:
    for c in node.get("status", {}).get("conditions", []):
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


class ControlPlaneMixin:
    """Start-up steps of LocalBackend.up() (see backend.py for the attributes used)."""

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
        # kube-router reads pods, namespaces, NetworkPolicies and its Node cluster-wide.
        pki.make_cert("kube-router", "system:leviathan-kube-router", ["system:masters"])
        for user, pair in (("admin", "admin"), ("controller-manager", "controller-manager"),
                           ("scheduler", "scheduler"), ("kube-proxy", "kube-proxy"),
                           ("kubelet", "kubelet"), ("coredns", "coredns"), ("kube-router", "kube-router")):
            # admin-internal: for tools run inside the cluster's network namespace
            path = self.run_dir / (f"{user}.kubeconfig" if user != "admin" else "admin-internal.kubeconfig")
            path.write_text(render_kubeconfig(cfg.internal_server, self.pki_dir / "ca.crt",
                                              self.pki_dir / f"{pair}.crt",
                                              self.pki_dir / f"{pair}.key", user))
            path.chmod(0o600)
        # The admin kubeconfig for the host side (tests, kubectl, helm, kwok, the GPU plugin): the
        # apiserver through the loopback relay.
        self.kubeconfig.write_text(render_kubeconfig(self.server, self.pki_dir / "ca.crt",
                                                     self.pki_dir / "admin.crt", self.pki_dir / "admin.key",
                                                     "admin"))
        self.kubeconfig.chmod(0o600)
        self._log("certificates and kubeconfigs written")

    def _check_alive(self, names: Iterable[str]) -> None:
        for n in names:
            if n in self.supervisor.pids and not self.supervisor.alive(n):
                raise BackendError(f"{n} exited during startup; last log lines:\n"
                                   + tail(self.logs_dir / f"{n}.log", 40))

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
        # etcd listens on the loopback of the cluster's network namespace: ask from in there.
        self._wait("etcd", lambda: self.network.run(
            ["curl", "-sf", "--noproxy", "*", f"http://127.0.0.1:{cfg.etcd_client_port}/health"],
            check=False, timeout=10).returncode == 0, 30, ["etcd"])
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
            "--server", cfg.internal_server, "--ca", str(self.pki_dir / "ca.crt"),
            "--cert", str(self.pki_dir / "admin.crt"), "--key", str(self.pki_dir / "admin.key"),
            "--dir", str(r / "volumes"),
        ], env=helper_env())

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
        watch = list(self.supervisor.pids)
        t = time.monotonic()
        self._log(f"waiting for node {cfg.node_name} Ready ...")
        self._wait(f"node {cfg.node_name} Ready",
                   lambda: node_ready(api.get(f"/api/v1/nodes/{cfg.node_name}")),
                   cfg.wait_timeout, watch)
        self._log(f"node Ready after {time.monotonic() - t:.1f}s")
        self._wait("default ServiceAccount and kube-root-ca.crt", lambda: bool(
            api.get("/api/v1/namespaces/default/serviceaccounts/default")
            and api.get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt")),
            60, watch)
        self._log("default ServiceAccount present")

    def _start_network_policy(self) -> None:
        """kube-router's NetworkPolicy controller, after the node is Ready (it reads its own Node at
        start and exits if there is none). Ready once its /healthz, inside the cluster's network
        namespace, says every controller has synced, and its chains hook the filter table."""
        if not self.cfg.network_policy:
            self._log("NetworkPolicy enforcement disabled: policies are stored but not enforced")
            return
        self._spawn("kube-router", [str(self.cfg.kube_router),
                                    *render_kube_router_args(self.cfg, self.run_dir / "kube-router.kubeconfig")])
        health = f"http://127.0.0.1:{KUBE_ROUTER_HEALTH_PORT}/healthz"
        self._wait("kube-router /healthz", lambda: self.network.run(
            ["curl", "-sf", "--noproxy", "*", health], check=False, timeout=10).returncode == 0
            and "KUBE-ROUTER-FORWARD" in self.network.run(["iptables", "-w", "-S", "FORWARD"]).stdout,
            60, ["kube-router"])
        self._log("kube-router NetworkPolicy controller ready")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        """A component inside the cluster's network namespace, recorded before anything waits on it.
        KUBECONFIG is dropped: each component is given its own explicitly."""
        self.supervisor.spawn(name, argv, env=env, netns=self.network.file, drop_env=("KUBECONFIG",))
