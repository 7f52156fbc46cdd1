"""A fake NVIDIA GPU device plugin speaking the real kubelet v1beta1 protocol.

Lifecycle (Kubernetes docs "Device Plugins"): serve the DevicePlugin service on
``<plugin_dir>/<socket>`` first, then call ``Registration.Register`` on
``<plugin_dir>/kubelet.sock``. kubelet deletes plugin sockets when it restarts
and recreates kubelet.sock, so :meth:`FakeGpuPlugin.watch_once` notices either
and serves + registers again.

Devices have deterministic fake UUIDs (``GPU-<uuid5(node, index)>``), always
Healthy. ``Allocate`` hands out ``NVIDIA_VISIBLE_DEVICES=<uuids>`` and
``NVIDIA_DRIVER_CAPABILITIES``, which is all the nvidia runtime would read.
No device nodes or mounts: containers run on plain runc (RuntimeClass nvidia).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc

from . import _stubs

pb2, pb2_grpc = _stubs.load()
log = logging.getLogger("leviathan.fake-gpu-plugin")

API_VERSION = "v1beta1"
KUBELET_SOCKET = "kubelet.sock"
HEALTHY = "Healthy"
#: Fixed namespace so the same node/index always gets the same UUID (like real hardware).
_UUID_NAMESPACE = uuid.UUID("6c6f7669-6174-6861-6e2d-666167707573")


def fake_gpu_uuids(node: str, count: int) -> list[str]:
    """``GPU-<uuid>`` IDs, stable per (node, index) and distinct across nodes."""
    return [f"GPU-{uuid.uuid5(_UUID_NAMESPACE, f'{node}/{index}')}" for index in range(count)]


@dataclass(frozen=True)
class PluginConfig:
    count: int
    node_name: str
    plugin_dir: Path = Path("/var/lib/kubelet/device-plugins")
    resource_name: str = "nvidia.com/gpu"
    socket_name: str = "leviathan-fake-gpu.sock"
    driver_capabilities: str = "compute,utility"


class _DevicePluginServicer(pb2_grpc.DevicePluginServicer):
    def __init__(self, plugin: "FakeGpuPlugin"):
        self.plugin = plugin

    def GetDevicePluginOptions(self, request, context):
        return pb2.DevicePluginOptions(pre_start_required=False, get_preferred_allocation_available=True)

    def ListAndWatch(self, request, context):
        # kubelet keeps this stream open for the plugin's lifetime; a new list is
        # sent whenever the device set changes. Ours never changes, so: send, then wait.
        yield pb2.ListAndWatchResponse(devices=self.plugin.device_messages())
        while context.is_active() and not self.plugin.stopping.wait(0.5):
            pass  # returns when kubelet hangs up (e.g. restarts) or the plugin stops

    def GetPreferredAllocation(self, request, context):
        responses = []
        for req in request.container_requests:
            chosen = list(req.must_include_deviceIDs)
            for device in sorted(req.available_deviceIDs, key=self.plugin.device_ids.index):
                if len(chosen) >= req.allocation_size:
                    break
                if device not in chosen:
                    chosen.append(device)
            responses.append(pb2.ContainerPreferredAllocationResponse(deviceIDs=chosen))
        return pb2.PreferredAllocationResponse(container_responses=responses)

    def Allocate(self, request, context):
        responses = []
        for req in request.container_requests:
            unknown = [d for d in req.devices_ids if d not in self.plugin.device_ids]
            if unknown:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown device(s): {', '.join(unknown)}")
            log.info("Allocate %s", ",".join(req.devices_ids))
            responses.append(pb2.ContainerAllocateResponse(envs={
                "NVIDIA_VISIBLE_DEVICES": ",".join(req.devices_ids),
                "NVIDIA_DRIVER_CAPABILITIES": self.plugin.config.driver_capabilities,
            }))
        return pb2.AllocateResponse(container_responses=responses)

    def PreStartContainer(self, request, context):
        return pb2.PreStartContainerResponse()


class FakeGpuPlugin:
    """Serve, register, and keep registered across kubelet restarts."""

    def __init__(self, config: PluginConfig):
        self.config = config
        self.device_ids = fake_gpu_uuids(config.node_name, config.count)
        self.stopping = threading.Event()
        self._server: grpc.Server | None = None
        self._registered_kubelet: tuple[int, float] | None = None

    @property
    def socket_path(self) -> Path:
        return self.config.plugin_dir / self.config.socket_name

    @property
    def kubelet_socket(self) -> Path:
        return self.config.plugin_dir / KUBELET_SOCKET

    def device_messages(self) -> list:
        return [pb2.Device(ID=device, health=HEALTHY) for device in self.device_ids]

    def serve(self) -> None:
        """(Re)start the gRPC server on a fresh socket file."""
        self._stop_server()
        self.socket_path.unlink(missing_ok=True)
        # One thread per open ListAndWatch stream plus headroom for unary calls.
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        pb2_grpc.add_DevicePluginServicer_to_server(_DevicePluginServicer(self), server)
        server.add_insecure_port(f"unix://{self.socket_path}")
        server.start()
        self._server = server
        log.info("serving %d x %s on %s", self.config.count, self.config.resource_name, self.socket_path)

    def register(self, timeout: float = 5.0) -> None:
        """Tell kubelet about us; raises grpc.RpcError if kubelet refuses or is absent."""
        with grpc.insecure_channel(f"unix://{self.kubelet_socket}") as channel:
            pb2_grpc.RegistrationStub(channel).Register(
                pb2.RegisterRequest(
                    version=API_VERSION,
                    endpoint=self.config.socket_name,
                    resource_name=self.config.resource_name,
                    options=pb2.DevicePluginOptions(get_preferred_allocation_available=True),
                ),
                timeout=timeout,
            )
        self._registered_kubelet = self._kubelet_identity()
        log.info("registered %s with kubelet", self.config.resource_name)

    def _kubelet_identity(self) -> tuple[int, float] | None:
        try:
            st = os.stat(self.kubelet_socket)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_ctime

    def watch_once(self) -> bool:
        """One check: if kubelet restarted (new kubelet.sock) or our socket vanished,
        serve and register again. Returns True if it (re-)registered."""
        kubelet = self._kubelet_identity()
        if kubelet is None:
            return False  # kubelet is down; wait for it to come back
        serving = self._server is not None and self.socket_path.exists()
        if kubelet == self._registered_kubelet and serving:
            return False
        if not serving:
            log.info("plugin socket missing (first start or kubelet restart): serving again")
            self.serve()
        try:
            self.register()
        except grpc.RpcError as err:
            log.warning("registration failed, will retry: %s", err)
            return False
        return True

    def run(self, poll_seconds: float = 1.0, on_tick=None) -> None:
        """Serve and keep registered until :meth:`stop` is called."""
        while not self.stopping.is_set():
            self.watch_once()
            if on_tick:
                on_tick()
            self.stopping.wait(poll_seconds)
        self._stop_server()

    def _stop_server(self) -> None:
        if self._server is not None:
            self._server.stop(grace=0.5).wait()
            self._server = None

    def stop(self) -> None:
        self.stopping.set()
        self._stop_server()
        self.socket_path.unlink(missing_ok=True)
