"""Session fixtures for chart flows: the mock-engine image in the cluster, and fake GPUs on its node.

One plugin design for every backend: on `local` the fake device plugin runs as a host process next to
the kubelet (stopped by PID at the end); on `kind` the same module runs as a DaemonSet; an
`existing` cluster must bring its own GPUs (or fake ones).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leviathan.versions import image
from leviathan_e2e.deviceplugin.host import HostPlugin
from leviathan_e2e.release import REPO, wait_for

FAKE_GPUS = 4
GPU_PRODUCT = "NVIDIA-H100-NVL"


@pytest.fixture(scope="session")
def mock_engine_image(cluster, tmp_path_factory) -> str:
    """Build the mock-engine image offline and load it into the cluster (no registry involved)."""
    out = tmp_path_factory.mktemp("mock-image")
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(REPO / "images" / "mock-engine" / "build.py"), "--out", str(out)],
                            capture_output=True, text=True, check=True)
    archive = Path(result.stdout.strip().splitlines()[-1])
    cluster.load_image(archive)
    print(f"\n[e2e] mock-engine image built and loaded in {time.monotonic() - started:.1f}s", flush=True)
    return image("mock-engine").ref


def allocatable_gpus(kubectl) -> list[int]:
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    return [int(n["status"].get("allocatable", {}).get("nvidia.com/gpu", "0")) for n in nodes]


@pytest.fixture(scope="session")
def fake_gpus(cluster, kubectl):
    """FAKE_GPUS `nvidia.com/gpu` on the node, allocated by the fake device plugin."""
    plugin = None
    if cluster.name == "local":
        plugin = HostPlugin(plugin_dir=cluster.device_plugin_dir, node_name=cluster.node_name,
                            count=FAKE_GPUS, product=GPU_PRODUCT, kubeconfig=cluster.kubeconfig,
                            log_path=cluster.logs_dir / "fake-gpu-plugin.log",
                            supervisor=cluster.supervisor).start()
    elif cluster.name == "kind":
        cluster.install_fake_gpus()
    try:
        wait_for(f"{FAKE_GPUS} fake GPUs allocatable", lambda: FAKE_GPUS in allocatable_gpus(kubectl), 90)
        yield FAKE_GPUS
    finally:
        if plugin is not None:
            plugin.stop()
