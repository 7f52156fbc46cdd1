"""Node labels like NVIDIA GPU feature discovery's, applied through the API.

GFD labels GPU nodes ``nvidia.com/gpu.product``, ``nvidia.com/gpu.count``,
``nvidia.com/gpu.memory`` (MiB) and ``nvidia.com/gpu.present``; charts use them
in nodeSelectors/affinity. The plugin applies them with one merge-patch on its
Node, using either the in-cluster service account (DaemonSet on kind) or a
kubeconfig (host process on the local backend). stdlib HTTP only, so the plugin
image needs no Kubernetes client.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

#: Memory GFD reports (nvidia-smi total MiB) for products the seeds use.
PRODUCT_MEMORY_MIB = {
    "NVIDIA-RTX-PRO-6000": 97887,
    "NVIDIA-RTX-PRO-6000-Blackwell-Server-Edition": 97887,
    "NVIDIA-H100-80GB-HBM3": 81559,
    "NVIDIA-H100-NVL": 95830,           # the Kimi-K2.5 seed's ICE nodes (94 GB)
    "NVIDIA-GeForce-RTX-5090": 32607,   # Leviathan's second card
    "NVIDIA-H200": 143771,
    "NVIDIA-A100-SXM4-80GB": 81920,
    "NVIDIA-L20": 46068,
}

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def gpu_labels(product: str, count: int, memory_mib: int | None = None) -> dict[str, str]:
    memory = memory_mib if memory_mib is not None else PRODUCT_MEMORY_MIB.get(product)
    if memory is None:
        raise ValueError(f"unknown GPU product {product!r}: pass its memory in MiB")
    return {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": product,
        "nvidia.com/gpu.count": str(count),
        "nvidia.com/gpu.memory": str(memory),
    }


@dataclass
class ApiClient:
    """Just enough of a Kubernetes client to PATCH one Node."""

    server: str
    ssl_context: ssl.SSLContext | None
    token: str | None = None

    @classmethod
    def in_cluster(cls) -> "ApiClient":
        host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
        context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
        token = (SERVICE_ACCOUNT / "token").read_text().strip()
        return cls(f"https://{host}:{port}", context, token)

    @classmethod
    def from_kubeconfig(cls, path: Path) -> "ApiClient":
        config = yaml.safe_load(Path(path).read_text())
        context_name = config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        server = cluster["server"]
        ssl_context = None
        if server.startswith("https://"):
            ssl_context = ssl.create_default_context(
                cafile=cluster.get("certificate-authority"),
                cadata=_b64(cluster.get("certificate-authority-data")),
            )
            cert, key = user.get("client-certificate"), user.get("client-key")
            if user.get("client-certificate-data"):
                # ssl wants files: write them to a private temp dir only for loading.
                with tempfile.TemporaryDirectory() as tmp:
                    cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
                    cert.write_text(_b64(user["client-certificate-data"]))
                    key.touch(mode=0o600)
                    key.write_text(_b64(user["client-key-data"]))
                    ssl_context.load_cert_chain(cert, key)
            elif cert:
                ssl_context.load_cert_chain(cert, key)
        return cls(server, ssl_context, user.get("token"))

    def patch_node_labels(self, node: str, labels: dict[str, str], timeout: float = 10) -> dict:
        body = json.dumps({"metadata": {"labels": labels}}).encode()
        request = urllib.request.Request(
            f"{self.server.rstrip('/')}/api/v1/nodes/{node}", data=body, method="PATCH",
            headers={"Content-Type": "application/merge-patch+json", "Accept": "application/json"},
        )
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=timeout, context=self.ssl_context) as response:
            return json.load(response)


def _b64(data: str | None) -> str | None:
    return base64.b64decode(data).decode() if data else None
