"""The llamacpp chart's OpenShift NetworkPolicies, enforced by a real implementation: kube-router
v2.1.0's policy controller (scripts/build-kube-router), which the local backend runs inside the
cluster's network namespace (iptables + ipset there only).

OpenShift is emulated by what the policies select: a namespace labelled like the router's
(`policy-group.network.openshift.io/ingress`), one labelled like monitoring
(`network.openshift.io/policy-group: monitoring`), an unlabelled one, and `openshift-dns` with a DNS
server on 5353 behind a Service on 53 (as OpenShift's dns-default). "The internet" is a listener on
443 and 8443 in another namespace (nothing leaves this cluster's namespace). The engine is the mock
engine under the chart's real templates; the download Job's and the helm test's pods are stood in
for by probe pods with exactly the labels the chart renders on them.

Negative control: every probe first runs with `openshift.networkPolicies.enabled=false` and must
succeed; the same probes then run after `helm upgrade` turns the policies on.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time

import pytest
import yaml

from leviathan.tools import helm_binary
from leviathan_e2e.netprobe import DNS_ANSWER, DNS_NAME, corefile, netprobe_image
from leviathan_e2e.openshift import install_route_crd
from leviathan_e2e.release import REPO, Release, wait_for
from leviathan_e2e.supervisor import cluster_env

# kube-router enforces the policies on the local backend only.
pytestmark = [pytest.mark.e2e, pytest.mark.local_backend]

CHART = "llamacpp"
ENGINE_PORT = 8080
ROUTER_LABEL = "policy-group.network.openshift.io/ingress="
MONITORING_LABEL = "network.openshift.io/policy-group=monitoring"
DNS_NAMESPACE = "openshift-dns"  # the chart's default openshift.networkPolicies.dnsNamespace
DNS_POD_PORT = 5353
ALLOWED_HTTPS, OTHER_PORT = 443, 8443


@pytest.fixture(scope="session")
def netprobe(cluster, tmp_path_factory) -> str:
    if cluster.name != "local":
        pytest.skip("NetworkPolicy enforcement (kube-router) is part of the local backend only")
    started = time.monotonic()
    archive = netprobe_image(tmp_path_factory.mktemp("netprobe"))
    cluster.load_image(archive.path)
    print(f"\n[e2e] netprobe image built and loaded in {time.monotonic() - started:.1f}s", flush=True)
    return f"docker.io/{archive.ref}"


def probe_pod(name: str, namespace: str, image: str, command: str, labels: dict | None = None,
              ports: list[int] = ()) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                "name": "probe", "image": image, "imagePullPolicy": "Never", "command": ["sh", "-c", command],
                "ports": [{"containerPort": p} for p in ports]}]}}


class Cluster:
    """The emulated OpenShift around the release: namespaces, DNS, the outside listener, probes."""

    def __init__(self, kubectl, image: str, release_ns: str):
        self.kubectl, self.image, self.release_ns = kubectl, image, release_ns
        suffix = secrets.token_hex(3)
        self.router, self.monitoring, self.other, self.outside = (
            f"e2e-np-{part}-{suffix}" for part in ("router", "monitoring", "other", "outside"))
        self.namespaces = [self.router, self.monitoring, self.other, self.outside, DNS_NAMESPACE]

    def create(self, job_labels: dict, test_labels: dict) -> None:
        k = self.kubectl
        for ns in self.namespaces:
            k("create", "namespace", ns)
        k("label", "namespace", self.router, ROUTER_LABEL)
        k("label", "namespace", self.monitoring, MONITORING_LABEL)
        pods = [probe_pod("client", ns, self.image, "exec sleep 3600") for ns in (self.router, self.monitoring,
                                                                                  self.other)]
        pods.append(probe_pod("internet", self.outside, self.image,
                              f"mkdir -p /w && echo internet > /w/index.html && httpd -p {ALLOWED_HTTPS} -h /w && "
                              f"exec httpd -f -p {OTHER_PORT} -h /w", ports=[ALLOWED_HTTPS, OTHER_PORT]))
        pods.append(probe_pod("dns", DNS_NAMESPACE, self.image,
                              f"printf '%s' '{corefile(DNS_POD_PORT)}' > /tmp/Corefile && exec /coredns -conf /tmp/Corefile",
                              labels={"dns.operator.openshift.io/daemonset-dns": "default"}, ports=[DNS_POD_PORT]))
        # Stand-ins for the download Job's pod and the helm test pod: the chart's own labels.
        pods.append(probe_pod("download-job", self.release_ns, self.image, "exec sleep 3600", labels=job_labels))
        pods.append(probe_pod("helm-test", self.release_ns, self.image, "exec sleep 3600", labels=test_labels))
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns-default", "namespace": DNS_NAMESPACE},
                   "spec": {"selector": {"dns.operator.openshift.io/daemonset-dns": "default"},
                            "ports": [{"name": "dns", "protocol": "UDP", "port": 53, "targetPort": DNS_POD_PORT},
                                      {"name": "dns-tcp", "protocol": "TCP", "port": 53, "targetPort": DNS_POD_PORT}]}}
        k.apply(yaml.safe_dump_all([*pods, service]))
        for pod in pods:
            k("wait", "--for=condition=Ready", f"pod/{pod['metadata']['name']}", "-n", pod["metadata"]["namespace"],
              "--timeout=120s")

    def delete(self) -> None:
        for ns in self.namespaces:
            self.kubectl("delete", "namespace", ns, "--wait=false", check=False)

    def ip(self, kind: str, name: str, namespace: str) -> str:
        obj = json.loads(self.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)
        return obj["status"]["podIP"] if kind == "pod" else obj["spec"]["clusterIP"]

    def exec(self, namespace: str, pod: str, script: str, container: str | None = None) -> tuple[bool, str]:
        args = ["exec", "-n", namespace, pod, *(["-c", container] if container else []), "--", "sh", "-c", script]
        result = self.kubectl(*args, check=False, timeout=60)
        return result.returncode == 0, (result.stdout + result.stderr).strip()

    def http(self, namespace: str, pod: str, host: str, port: int, container: str | None = None) -> tuple[bool, str]:
        """GET / over TCP with busybox nc (3 s timeout): ok when an HTTP status line comes back."""
        ok, out = self.exec(namespace, pod, f"printf 'GET /health HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port}",
                            container)
        return ok and out.startswith("HTTP/1."), out.splitlines()[0] if out else "(no answer)"

    def dns(self, namespace: str, pod: str, server: str, container: str | None = None,
            name: str = DNS_NAME, answer: str = DNS_ANSWER) -> tuple[bool, str]:
        """Ask `server` for `name` (busybox nslookup, UDP 53): ok when `answer` comes back."""
        ok, out = self.exec(namespace, pod, f"timeout 8 nslookup {name} {server}", container)
        return ok and answer in out, out.replace("\n", " | ")[-160:]


def rendered_labels(values: list, kind: str, component: str) -> dict:
    """Pod labels the chart renders on its `kind` object of `component` (download enabled, hooks kept)."""
    args = [helm_binary(), "template", "lev", str(REPO / "charts" / CHART), "--set", "download.enabled=true"]
    for path in values:
        args += ["-f", str(path)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=cluster_env()).stdout
    for doc in yaml.safe_load_all(out):
        if doc and doc["kind"] == kind:
            labels = (doc["spec"].get("template", {}).get("metadata", {}) or doc["metadata"]).get("labels", {})
            if labels.get("app.kubernetes.io/component") == component:
                return labels
    raise AssertionError(f"no {kind} of component {component} rendered")


def test_openshift_network_policies_allow_only_the_intended_paths(
        cluster, kubectl, namespace, mock_engine_image, fake_gpus, netprobe, tmp_path):
    install_route_crd(kubectl)  # platform=openshift renders a Route
    values = [REPO / "e2e" / "values" / f"{CHART}.yaml"]
    release = Release(name="lev", chart=CHART, namespace=namespace, kubectl=kubectl)
    world = Cluster(kubectl, netprobe, namespace)
    job_labels = rendered_labels(values, "Job", "model-download")
    test_labels = rendered_labels(values, "Pod", "test")
    try:
        world.create(job_labels, test_labels)
        release.install(values, sets=["platform=openshift", "openshift.networkPolicies.enabled=false"])
        engine = release.engine_pod()
        engine_name, engine_svc = engine["metadata"]["name"], world.ip("service", release.service_name, namespace)
        internet = world.ip("pod", "internet", world.outside)
        dns_svc = world.ip("service", "dns-default", DNS_NAMESPACE)
        # The cluster's real DNS: CoreDNS as a host process on the node IP, outside openshift-dns.
        node_dns, kubernetes_svc = cluster.dns_ip, world.ip("service", "kubernetes", "default")
        assert node_dns, "the local cluster runs CoreDNS"

        def probes() -> dict[str, tuple[bool, str]]:
            return {
                "router -> engine API": world.http(world.router, "client", engine_svc, ENGINE_PORT),
                "monitoring -> engine API": world.http(world.monitoring, "client", engine_svc, ENGINE_PORT),
                "helm test pod -> engine API": world.http(namespace, "helm-test", engine_svc, ENGINE_PORT),
                "unlabelled namespace -> engine API": world.http(world.other, "client", engine_svc, ENGINE_PORT),
                "engine -> DNS in openshift-dns": world.dns(namespace, engine_name, dns_svc, "engine"),
                "engine -> node's DNS (not openshift-dns)": world.dns(
                    namespace, engine_name, node_dns, "engine", "kubernetes.default.svc.cluster.local", kubernetes_svc),
                "engine -> internet:443": world.http(namespace, engine_name, internet, ALLOWED_HTTPS, "engine"),
                "download Job -> internet:443": world.http(namespace, "download-job", internet, ALLOWED_HTTPS),
                "download Job -> internet:8443": world.http(namespace, "download-job", internet, OTHER_PORT),
                "download Job -> DNS in openshift-dns": world.dns(namespace, "download-job", dns_svc),
                "helm test pod -> internet:443": world.http(namespace, "helm-test", internet, ALLOWED_HTTPS),
            }

        def report(title: str, seen: dict) -> None:
            print(f"\n[e2e] {title}:", flush=True)
            for path, (ok, detail) in seen.items():
                print(f"[e2e]   {'open   ' if ok else 'BLOCKED'} {path}: {detail}", flush=True)

        # Negative control: without the policies every path is open, so each probe below can fail.
        before = probes()
        report("without NetworkPolicies", before)
        assert all(ok for ok, _ in before.values()), before

        release.helm("upgrade", release.name, str(REPO / "charts" / CHART), "--reuse-values",
                     "--set", "openshift.networkPolicies.enabled=true", "--wait", "--timeout", "3m")
        assert len(json.loads(kubectl("get", "networkpolicy", "-n", namespace, "-o", "json").stdout)["items"]) == 5
        assert release.engine_pod()["metadata"]["name"] == engine_name  # policies only: the engine is not restarted
        # kube-router re-syncs on the policy events: wait until the first denied path is cut.
        wait_for("policies enforced", lambda: not world.http(world.other, "client", engine_svc, ENGINE_PORT)[0], 60)
        after = probes()
        report("with the chart's NetworkPolicies (kube-router)", after)
        expected = {
            "router -> engine API": True,
            "monitoring -> engine API": True,
            "helm test pod -> engine API": True,
            "unlabelled namespace -> engine API": False,
            "engine -> DNS in openshift-dns": True,
            "engine -> node's DNS (not openshift-dns)": False,
            "engine -> internet:443": False,
            "download Job -> internet:443": True,
            "download Job -> internet:8443": False,
            "download Job -> DNS in openshift-dns": True,
            "helm test pod -> internet:443": False,
        }
        assert {path: ok for path, (ok, _) in after.items()} == expected, after
        # The refusals are kube-router's: its per-pod firewall chain for the engine ends in its REJECT.
        rules = subprocess.run(cluster.netns_command(["iptables-save", "-t", "filter"]), capture_output=True,
                               text=True, check=True).stdout
        assert f"rule to REJECT traffic destined for POD name:{engine_name} namespace: {namespace}" in rules

        # The chart's own helm test (ENGINE_HOST is the Service IP from the environment, no DNS) passes
        # under the policies: test pod -> engine API is allowed both ways.
        result = release.helm("test", release.name, timeout=300)
        assert "Phase:          Succeeded" in result.stdout, result.stdout
    finally:
        world.delete()
