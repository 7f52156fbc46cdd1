"""A fake Hugging Face Hub inside the cluster: the unit tests' fake (tests/payloads/fake_hf_hub.py) as a pod.

The pod runs the fake hub's own ``main()`` with the e2e model-downloader image's Python, from a ConfigMap.
Two Services select it: ``fake-hub`` (what ``download.endpoint`` points at) and ``fake-hub-cdn`` (where
LFS files redirect to, as the real Hub redirects to its CDN), so the downloader sees two hosts and must
drop the token at the second. Pods reach both by cluster DNS; nothing leaves the cluster's network.
What the hub saw comes back through the apiserver's service proxy (``GET /_fake/requests``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from types import ModuleType

from .backends.base import ClusterBackend, Kubectl
from .release import REPO, wait_for

SOURCE = REPO / "tests" / "payloads" / "fake_hf_hub.py"
PORT = 8080
HUB, CDN = "fake-hub", "fake-hub-cdn"


def fake_hub_module() -> ModuleType:
    """The fake hub's module on this side too: the same repos, to compare what landed on the volume."""
    if "fake_hf_hub" in sys.modules:
        return sys.modules["fake_hf_hub"]
    spec = importlib.util.spec_from_file_location("fake_hf_hub", SOURCE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def manifests(namespace: str, image: str, token_secret: str | None) -> list[dict]:
    labels = {"app.kubernetes.io/name": HUB}
    env = []
    if token_secret:
        env.append({"name": "FAKE_HUB_REQUIRED_TOKEN",
                    "valueFrom": {"secretKeyRef": {"name": token_secret, "key": "HF_TOKEN"}}})
    container = {
        "name": "hub",
        "image": image,
        "imagePullPolicy": "Never",
        "command": ["python", "/hub/fake_hf_hub.py", "--port", str(PORT),
                    "--url", f"http://{HUB}:{PORT}", "--cdn-url", f"http://{CDN}:{PORT}"],
        "env": env,
        "ports": [{"containerPort": PORT, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": "/_fake/requests", "port": PORT}, "periodSeconds": 1},
        "volumeMounts": [{"name": "hub", "mountPath": "/hub", "readOnly": True}],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": HUB, "namespace": namespace, "labels": labels},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": [{"name": "hub", "configMap": {"name": HUB}}],
        },
    }
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": HUB, "namespace": namespace},
                  "data": {"fake_hf_hub.py": SOURCE.read_text()}}
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                 "spec": {"selector": labels, "ports": [{"port": PORT, "targetPort": PORT, "name": "http"}]}}
                for name in (HUB, CDN)]
    return [config_map, pod, *services]


@dataclass
class InClusterHub:
    cluster: ClusterBackend
    kubectl: Kubectl
    namespace: str

    @property
    def endpoint(self) -> str:
        return f"http://{HUB}:{PORT}"

    def deploy(self, image: str, token_secret: str | None = None) -> "InClusterHub":
        self.kubectl.apply(json.dumps({"apiVersion": "v1", "kind": "List",
                                       "items": manifests(self.namespace, image, token_secret)}))
        self.kubectl("wait", "--for=condition=Ready", f"pod/{HUB}", "-n", self.namespace, "--timeout=120s")
        wait_for("fake hub answers through its Service", lambda: self._answers(), timeout=60)
        return self

    def _answers(self) -> bool:
        try:
            self.requests()
            return True
        except Exception:  # noqa: BLE001 - endpoints not yet programmed
            return False

    def requests(self) -> list[dict]:
        """Every request the hub recorded: method, path, status, range, authorization (none|token|other)."""
        return json.loads(self.cluster.service_proxy_get(self.namespace, HUB, PORT, "/_fake/requests"))
