"""Drive one Helm release of a chart on the e2e cluster, and observe its engine pod.

Everything goes through the admin kubeconfig: `helm` for the release, `kubectl` for state, and the
apiserver's pod proxy for HTTP to the engine (so test traffic never leaves loopback + the cluster's
own network).
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from leviathan.tools import helm_binary

from .backends.base import Kubectl
from .supervisor import cluster_env

REPO = Path(__file__).resolve().parents[2]


def wait_for(what: str, check: Callable[[], object], timeout: float, interval: float = 1.0):
    """Poll `check` until it returns something truthy; print how long it took."""
    start = time.monotonic()
    while True:
        result = check()
        if result:
            print(f"[e2e]   {what}: {time.monotonic() - start:.1f}s", flush=True)
            return result
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Release:
    name: str
    chart: str
    namespace: str
    kubectl: Kubectl

    # -- helm --------------------------------------------------------------------------------
    def helm(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        command = [helm_binary(), *args, "--namespace", self.namespace,
                   "--kubeconfig", str(self.kubectl.kubeconfig)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=cluster_env())
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def install(self, values: list[Path], sets: list[str] = (), wait: bool = True,
                check: bool = True, json_sets: dict | None = None) -> subprocess.CompletedProcess:
        args = ["install", self.name, str(REPO / "charts" / self.chart)]
        for path in values:
            args += ["-f", str(path)]
        for item in sets:
            args += ["--set", item]
        for key, value in (json_sets or {}).items():
            args += ["--set-json", f"{key}={json.dumps(value)}"]
        if wait:
            args += ["--wait", "--timeout", "4m"]
        return self.helm(*args, check=check)

    # -- observation -----------------------------------------------------------------------------
    def get(self, *args: str) -> dict:
        result = self.kubectl("get", *args, "-n", self.namespace, "-o", "json")
        return json.loads(result.stdout)

    def engine_pods(self) -> list[dict]:
        selector = f"app.kubernetes.io/instance={self.name},app.kubernetes.io/component=engine"
        return self.get("pods", "-l", selector)["items"]

    def engine_pod(self) -> dict:
        pods = [p for p in self.engine_pods() if not p["metadata"].get("deletionTimestamp")]
        assert len(pods) == 1, f"expected one engine pod, got {[p['metadata']['name'] for p in pods]}"
        return pods[0]

    @staticmethod
    def restarts(pod: dict) -> int:
        return sum(s.get("restartCount", 0) for s in pod["status"].get("containerStatuses", []))

    @staticmethod
    def ready(pod: dict) -> bool:
        return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))

    def ready_endpoints(self) -> int:
        slices = self.get("endpointslices", "-l", f"kubernetes.io/service-name={self.service_name}")["items"]
        return sum(1 for s in slices for e in s.get("endpoints") or []
                   if (e.get("conditions") or {}).get("ready"))

    @property
    def service_name(self) -> str:
        services = self.get("services", "-l", f"app.kubernetes.io/instance={self.name}")["items"]
        assert len(services) == 1, [s["metadata"]["name"] for s in services]
        return services[0]["metadata"]["name"]

    def events(self, reason: str) -> list[dict]:
        items = self.get("events")["items"]
        return [e for e in items if e.get("reason") == reason]

    def pod_http(self, pod: dict, port: int, path: str, post: bool = False) -> subprocess.CompletedProcess:
        """HTTP to the engine through the apiserver pod proxy."""
        raw = f"/api/v1/namespaces/{self.namespace}/pods/{pod['metadata']['name']}:{port}/proxy{path}"
        if post:
            return self.kubectl("create", "--raw", raw, "-f", "-", input="{}", check=False)
        return self.kubectl("get", "--raw", raw, check=False)

    def exec_env(self, pod: dict, variable: str) -> str:
        result = self.kubectl("exec", "-n", self.namespace, pod["metadata"]["name"], "-c", "engine", "--",
                              "sh", "-c", f'echo "${variable}"')
        return result.stdout.strip()
