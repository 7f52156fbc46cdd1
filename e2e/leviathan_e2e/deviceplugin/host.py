"""Run the fake GPU plugin as a host process (the ``local`` backend's way).

    with HostPlugin(plugin_dir=backend.device_plugin_dir, node_name=backend.node_name,
                    kubeconfig=backend.kubeconfig, count=4, log_path=logs / "fake-gpu-plugin.log"):
        ...  # node advertises 4 nvidia.com/gpu once kubelet has called ListAndWatch

The process is stopped by its PID (SIGTERM, then SIGKILL), and removes its socket. Given the
backend's ``supervisor``, it is started and recorded through it, so a teardown from another
process (after this run was killed) stops it too. It never inherits a proxy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..supervisor import Supervisor, cluster_env
from .plugin import PluginConfig

NAME = "fake-gpu-plugin"


@dataclass
class HostPlugin:
    plugin_dir: Path
    node_name: str
    count: int = 4
    product: str = "NVIDIA-RTX-PRO-6000"
    kubeconfig: Path | None = None  # None: no node labels
    log_path: Path | None = None
    process: subprocess.Popen | None = None
    supervisor: Supervisor | None = None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "leviathan_e2e.deviceplugin", "--count", str(self.count),
               "--product", self.product, "--plugin-dir", str(self.plugin_dir), "--node-name", self.node_name]
        return cmd + (["--kubeconfig", str(self.kubeconfig)] if self.kubeconfig else ["--no-labels"])

    @property
    def socket_path(self) -> Path:
        return Path(self.plugin_dir) / PluginConfig(count=0, node_name="").socket_name

    def start(self, timeout: float = 30) -> "HostPlugin":
        """Start and wait until the plugin serves on its socket (it registers right after)."""
        # Run from the e2e/ source root so `-m leviathan_e2e...` works without an install.
        pythonpath = {"PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]))}
        if self.supervisor is not None:
            self.process = self.supervisor.spawn(NAME, self.command(), env=pythonpath)
        else:
            log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            env=cluster_env(pythonpath))
            if log is not subprocess.DEVNULL:
                log.close()
        deadline = time.monotonic() + timeout
        while not self.socket_path.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"fake GPU plugin exited with {self.process.returncode} (log: {self.log_path})")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"fake GPU plugin did not serve on {self.socket_path} within {timeout}s")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop(NAME, timeout=10)
            return
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> "HostPlugin":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
