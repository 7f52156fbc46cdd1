"""Smoke tests of the e2e cluster itself: can it run a locally assembled image, serve it
through a Service (apiserver proxy, kube-proxy, DNS), bind a PVC, honour RuntimeClass
``nvidia``, and keep pods away from the host resolver and off the network?"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from leviathan_e2e.images import busybox_image

pytestmark = pytest.mark.e2e

IMAGE = "leviathan-e2e/busybox-httpd:1"


@pytest.fixture(scope="module")
def web_image(cluster, tmp_path_factory) -> str:
    tar = tmp_path_factory.mktemp("images") / "busybox-httpd.tar"
    busybox_image(IMAGE, tar, files={"/www/health": b"ok\n", "/www/index.html": b"hello\n"},
                  entrypoint=["/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"],
                  exposed_ports=["8080"])
    cluster.load_image(tar)
    return IMAGE


def _pod(name: str, image: str, *, command=None, labels=None, extra_spec=None) -> dict:
    c = {"name": "main", "image": image, "imagePullPolicy": "Never",
         "ports": [{"containerPort": 8080}],
         "readinessProbe": {"httpGet": {"path": "/health", "port": 8080},
                            "periodSeconds": 1, "failureThreshold": 3}}
    if command:
        c["command"] = command
        c.pop("readinessProbe")
        c.pop("ports")
    spec = {"containers": [c], "terminationGracePeriodSeconds": 1}
    spec.update(extra_spec or {})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": name}}, "spec": spec}


def _apply(kubectl, ns: str, *objs: dict) -> None:
    kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                           "items": list(objs)}))


def _wait_ready(kubectl, ns: str, pod: str, timeout: int = 90) -> None:
    kubectl("wait", "-n", ns, f"pod/{pod}", "--for=condition=Ready", f"--timeout={timeout}s",
            timeout=timeout + 10)


def _service(name: str, selector: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"name": "http", "port": 80,
                                                      "targetPort": 8080}]}}


def test_node_ready_and_runtimeclass(kubectl):
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert len(nodes) >= 1
    for node in nodes:
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True", node["metadata"]["name"]
    rc = json.loads(kubectl("get", "runtimeclass", "nvidia", "-o", "json").stdout)
    assert rc["handler"] == "nvidia"


def test_pod_service_proxy_and_dns(cluster, kubectl, namespace, web_image):
    ns = namespace
    _apply(kubectl, ns, _pod("web", web_image, labels={"app": "web"}),
           _service("web", {"app": "web"}))
    _wait_ready(kubectl, ns, "web")

    # 1) apiserver service proxy -> endpoint (what the suite uses for /health checks)
    assert cluster.service_proxy_get(ns, "web", "http", "/health").strip() == "ok"
    # ... and the pod proxy
    assert kubectl.raw(f"/api/v1/namespaces/{ns}/pods/web:8080/proxy/health").strip() == "ok"

    # 2) in-cluster: ClusterIP via kube-proxy, then the Service name via cluster DNS
    _apply(kubectl, ns, _pod("client", web_image, command=["sleep", "3600"]))
    _wait_ready(kubectl, ns, "client")
    resolv = kubectl("exec", "-n", ns, "client", "--", "cat", "/etc/resolv.conf").stdout
    assert "10.255.255.53" not in resolv, resolv
    assert "nameserver" in resolv, resolv
    ip = kubectl("get", "svc", "web", "-n", ns, "-o", "jsonpath={.spec.clusterIP}").stdout
    out = kubectl("exec", "-n", ns, "client", "--", "timeout", "5", "wget", "-q", "-O", "-",
                  f"http://{ip}/health", check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    if cluster.name == "local" and cluster.dns_ip is None:
        pytest.skip("local cluster without CoreDNS binary: no cluster DNS")
    for url in (f"http://web.{ns}.svc.cluster.local/health", "http://web/health"):
        out = kubectl("exec", "-n", ns, "client", "--", "timeout", "5", "wget", "-q", "-O", "-",
                      url, check=False)
        assert out.returncode == 0 and out.stdout.strip() == "ok", (url, out.stderr)


def test_pvc_binds_on_default_storageclass(kubectl, namespace, web_image):
    ns = namespace
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
           "spec": {"accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "16Mi"}}}}
    pod = _pod("writer", web_image, command=["sh", "-c", "echo hi > /data/f && sleep 3600"],
               extra_spec={"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]})
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "d", "mountPath": "/data"}]
    _apply(kubectl, ns, pvc, pod)
    kubectl("wait", "-n", ns, "pvc/data", "--for=jsonpath={.status.phase}=Bound", "--timeout=60s",
            timeout=70)
    _wait_ready(kubectl, ns, "writer")
    assert kubectl("exec", "-n", ns, "writer", "--", "cat", "/data/f").stdout.strip() == "hi"


def test_runtimeclass_nvidia_pod_runs(kubectl, namespace, web_image):
    ns = namespace
    _apply(kubectl, ns, _pod("gpu", web_image, extra_spec={"runtimeClassName": "nvidia"}))
    _wait_ready(kubectl, ns, "gpu")


PROBE_PORT = 18888


@pytest.mark.local_backend
def test_pod_egress_is_confined(cluster, kubectl, namespace, web_image):
    """Pods reach the node IP (198.18.0.1) but nothing outside 198.18.0.0/15.

    The cluster lives in its own network namespace. A listener inside it answers on every address
    of that namespace, including the probe address 192.0.2.1 that sits outside the guard's range:
    only the egress guard keeps a pod from reaching it (remove the guard and this test fails). The
    host's own address is probed too: the namespace has no route to it at all."""
    if cluster.name != "local":
        pytest.skip("the cluster network namespace and egress guard are local-backend features")
    from leviathan_e2e.backends.local import PROBE_IP

    cfg = cluster.cfg
    listener = subprocess.Popen(cluster.netns_command([
        sys.executable, "-c",
        "import http.server as h\n"
        "class R(h.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'reached\\n')\n"
        f"h.HTTPServer(('0.0.0.0', {PROBE_PORT}), R).serve_forever()\n"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ns = namespace
        _apply(kubectl, ns, _pod("probe", web_image, command=["sleep", "3600"]))
        _wait_ready(kubectl, ns, "probe")

        def fetch(ip: str):
            return kubectl("exec", "-n", ns, "probe", "--", "timeout", "3", "wget", "-q", "-O", "-",
                           f"http://{ip}:{PROBE_PORT}/", check=False)

        ok = fetch(cfg.node_ip)
        assert ok.stdout.strip() == "reached", ok.stderr
        for target in (PROBE_IP, _primary_ip() or "10.255.255.53"):
            blocked = fetch(target)
            assert blocked.returncode != 0 and "reached" not in blocked.stdout, target
    finally:
        listener.kill()
        listener.wait()


@pytest.mark.local_backend
def test_the_hosts_network_is_untouched(cluster, kubectl, namespace, web_image):
    """With pods and Services running, the host's network namespace has exactly the Kubernetes, CNI
    and guard chains it had before the cluster started (none, on a plain host), and neither our
    bridge nor a pod's veth: kube-proxy, CNI and the guard changed only the cluster's namespace.
    (Only these names are compared: other tenants of a shared host may change their own.)"""
    if cluster.name != "local":
        pytest.skip("local-backend property")
    _apply(kubectl, namespace, _pod("web", web_image), _service("web", {"app": "web"}))
    _wait_ready(kubectl, namespace, "web")

    def ours(snapshot: list[str]) -> list[str]:
        return [item for item in snapshot
                if " chain KUBE-" in item or " chain CNI-" in item or " chain LEV-E2E-" in item
                or item == f"link {cluster.cfg.bridge}"]

    assert ours(cluster.host_network_snapshot()) == ours(cluster.host_network_before)
    assert f"link {cluster.cfg.bridge}" not in cluster.host_network_snapshot()
    veths = subprocess.run(cluster.netns_command(["ip", "-o", "link", "show", "type", "veth"]),
                           capture_output=True, text=True, check=True).stdout
    assert veths.strip(), "the pod's veth should be in the cluster's namespace"


def _primary_ip() -> str | None:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        addr = parts[3].split("/")[0]
        if not addr.startswith("198.18."):
            return addr
    return None


def test_no_dns_policy_gets_the_host_resolver(kubectl, namespace, web_image):
    """dnsPolicy Default and hostNetwork pods use the kubelet's resolvConf: on the local
    backend that is our own file, never the host's /etc/resolv.conf (10.255.255.53). (On the local
    backend "host network" is the cluster's own network namespace, not the host's.)"""
    ns = namespace
    pods = {"dflt": {"dnsPolicy": "Default"},
            "hostnet": {"hostNetwork": True},
            "hostnet-cf": {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}}
    _apply(kubectl, ns, *[_pod(name, web_image, command=["sleep", "3600"], extra_spec=spec)
                          for name, spec in pods.items()])
    for name in pods:
        _wait_ready(kubectl, ns, name)
        resolv = kubectl("exec", "-n", ns, name, "--", "cat", "/etc/resolv.conf").stdout
        assert "10.255.255.53" not in resolv, (name, resolv)
