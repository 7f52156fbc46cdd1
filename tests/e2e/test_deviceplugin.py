"""The fake GPU device plugin against a fake kubelet over unix sockets.

The fake kubelet implements v1beta1.Registration like the real one does on
Register: it dials the plugin's endpoint back and calls GetDevicePluginOptions,
so a plugin that registers before serving fails here as it would on a node.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
import yaml

from leviathan_e2e.deviceplugin import ApiClient, FakeGpuPlugin, PluginConfig, fake_gpu_uuids, gpu_labels
from leviathan_e2e.deviceplugin.manifests import daemonset_objects
from leviathan_e2e.deviceplugin.plugin import pb2, pb2_grpc

REPO = Path(__file__).resolve().parents[2]


class FakeKubelet(pb2_grpc.RegistrationServicer):
    """Registration server on <dir>/kubelet.sock that records requests and dials back."""

    def __init__(self, plugin_dir: Path):
        self.plugin_dir = plugin_dir
        self.requests: list = []
        self.dial_back_options: list = []
        self.failed_dial_backs = 0
        self.registered = threading.Event()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb2_grpc.add_RegistrationServicer_to_server(self, self.server)
        self.server.add_insecure_port(f"unix://{plugin_dir / 'kubelet.sock'}")
        self.server.start()

    def Register(self, request, context):
        endpoint = self.plugin_dir / request.endpoint
        try:
            with grpc.insecure_channel(f"unix://{endpoint}") as channel:
                options = pb2_grpc.DevicePluginStub(channel).GetDevicePluginOptions(pb2.Empty(), timeout=2)
        except grpc.RpcError as err:
            self.failed_dial_backs += 1
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"cannot reach plugin at {endpoint}: {err.code()}")
        self.requests.append(request)
        self.dial_back_options.append(options)
        self.registered.set()
        return pb2.Empty()

    def stop(self) -> None:
        self.server.stop(grace=None).wait()
        (self.plugin_dir / "kubelet.sock").unlink(missing_ok=True)


@pytest.fixture
def plugin_dir():
    # Short path: unix socket names are limited to 107 bytes, pytest's tmp_path can exceed that.
    path = Path(tempfile.mkdtemp(prefix="dp-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def running(plugin_dir):
    """A fake kubelet and a plugin (4 GPUs on node-a) running its loop in a thread."""
    kubelet = FakeKubelet(plugin_dir)
    plugin = FakeGpuPlugin(PluginConfig(count=4, node_name="node-a", plugin_dir=plugin_dir))
    thread = threading.Thread(target=plugin.run, kwargs={"poll_seconds": 0.05}, daemon=True)
    thread.start()
    assert kubelet.registered.wait(5), "plugin never registered"
    state = {"kubelet": kubelet}
    yield plugin, state
    plugin.stop()
    thread.join(5)
    state["kubelet"].stop()


def plugin_stub(plugin: FakeGpuPlugin):
    channel = grpc.insecure_channel(f"unix://{plugin.socket_path}")
    return channel, pb2_grpc.DevicePluginStub(channel)


def test_register_request_after_serving(running):
    plugin, state = running
    (request,) = state["kubelet"].requests
    assert request.version == "v1beta1"
    assert request.endpoint == "leviathan-fake-gpu.sock"
    assert request.resource_name == "nvidia.com/gpu"
    assert request.options.get_preferred_allocation_available
    # the dial-back during Register succeeded at the first attempt, so the plugin was serving first
    assert state["kubelet"].failed_dial_backs == 0
    assert state["kubelet"].dial_back_options[0].get_preferred_allocation_available


def test_list_and_watch_streams_healthy_fake_gpus(running):
    plugin, _ = running
    channel, stub = plugin_stub(plugin)
    with channel:
        stream = stub.ListAndWatch(pb2.Empty(), timeout=5)
        first = next(stream)
        stream.cancel()
    ids = [d.ID for d in first.devices]
    assert ids == fake_gpu_uuids("node-a", 4)
    assert len(set(ids)) == 4 and all(i.startswith("GPU-") and len(i) == 40 for i in ids)
    assert {d.health for d in first.devices} == {"Healthy"}


def test_uuids_are_deterministic_per_node():
    assert fake_gpu_uuids("node-a", 2) == fake_gpu_uuids("node-a", 2)
    assert set(fake_gpu_uuids("node-a", 2)).isdisjoint(fake_gpu_uuids("node-b", 2))


def test_allocate_sets_visible_devices_to_the_fake_uuids(running):
    plugin, _ = running
    first, _, third, _ = plugin.device_ids
    channel, stub = plugin_stub(plugin)
    with channel:
        response = stub.Allocate(pb2.AllocateRequest(container_requests=[
            pb2.ContainerAllocateRequest(devices_ids=[first, third]),
            pb2.ContainerAllocateRequest(devices_ids=[plugin.device_ids[1]]),
        ]), timeout=5)
        with pytest.raises(grpc.RpcError) as err:
            stub.Allocate(pb2.AllocateRequest(container_requests=[
                pb2.ContainerAllocateRequest(devices_ids=["GPU-not-ours"])]), timeout=5)
    one, two = response.container_responses
    assert dict(one.envs) == {"NVIDIA_VISIBLE_DEVICES": f"{first},{third}", "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}
    assert two.envs["NVIDIA_VISIBLE_DEVICES"] == plugin.device_ids[1]
    assert not one.mounts and not one.devices  # plain runc: nothing to mount
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_preferred_allocation_includes_required_and_fills_in_order(running):
    plugin, _ = running
    ids = plugin.device_ids
    channel, stub = plugin_stub(plugin)
    with channel:
        response = stub.GetPreferredAllocation(pb2.PreferredAllocationRequest(container_requests=[
            pb2.ContainerPreferredAllocationRequest(
                available_deviceIDs=[ids[3], ids[1], ids[2]], must_include_deviceIDs=[ids[3]], allocation_size=2)
        ]), timeout=5)
    assert list(response.container_responses[0].deviceIDs) == [ids[3], ids[1]]


def test_re_registers_after_kubelet_restart(running, plugin_dir):
    plugin, state = running
    # A kubelet restart: kubelet.sock goes away, plugin sockets are wiped, a new kubelet.sock appears.
    state["kubelet"].stop()
    plugin.socket_path.unlink()
    time.sleep(0.2)
    state["kubelet"] = FakeKubelet(plugin_dir)
    assert state["kubelet"].registered.wait(5), "plugin did not re-register with the new kubelet"
    assert state["kubelet"].requests[0].resource_name == "nvidia.com/gpu"
    assert plugin.socket_path.exists()


class FakeApiServer(BaseHTTPRequestHandler):
    calls: list = []

    def do_PATCH(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakeApiServer.calls.append((self.path, dict(self.headers), json.loads(body)))
        payload = json.dumps({"metadata": json.loads(body)["metadata"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def api_server(tmp_path):
    FakeApiServer.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "e2e",
        "clusters": [{"name": "e2e", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "admin", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "admin"}}],
    }))
    yield kubeconfig
    server.shutdown()
    server.server_close()


def test_gpu_labels_like_feature_discovery():
    assert gpu_labels("NVIDIA-RTX-PRO-6000", 4) == {
        "nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": "NVIDIA-RTX-PRO-6000",
        "nvidia.com/gpu.count": "4", "nvidia.com/gpu.memory": "97887"}
    assert gpu_labels("NVIDIA-H100-80GB-HBM3", 8)["nvidia.com/gpu.memory"] == "81559"
    with pytest.raises(ValueError):
        gpu_labels("NVIDIA-Unknown", 1)


def test_labels_are_merge_patched_with_kubeconfig_credentials(api_server):
    ApiClient.from_kubeconfig(api_server).patch_node_labels("node-a", {"nvidia.com/gpu.count": "4"})
    ((path, headers, body),) = FakeApiServer.calls
    assert path == "/api/v1/nodes/node-a"
    assert headers["Content-Type"] == "application/merge-patch+json"
    assert headers["Authorization"] == "Bearer t0ken"
    assert body == {"metadata": {"labels": {"nvidia.com/gpu.count": "4"}}}


def test_cli_serves_registers_labels_and_cleans_up_on_sigterm(plugin_dir, api_server):
    kubelet = FakeKubelet(plugin_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "leviathan_e2e.deviceplugin", "--count", "2", "--product", "NVIDIA-RTX-PRO-6000",
         "--plugin-dir", str(plugin_dir), "--node-name", "node-b", "--kubeconfig", str(api_server),
         "--poll-seconds", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert kubelet.registered.wait(15), "CLI plugin never registered"
        deadline = time.monotonic() + 5
        while not FakeApiServer.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert FakeApiServer.calls[0][2]["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-RTX-PRO-6000"
        assert (plugin_dir / "leviathan-fake-gpu.sock").exists()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        kubelet.stop()
    assert proc.returncode == 0, out
    assert not (plugin_dir / "leviathan-fake-gpu.sock").exists()
    assert fake_gpu_uuids("node-b", 2)[0] in out


def test_daemonset_manifest_runs_the_same_module():
    sa, role, binding, ds = daemonset_objects("leviathan/fake-gpu-plugin:0.1.0", 4, "NVIDIA-RTX-PRO-6000")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}]
    assert binding["subjects"][0]["name"] == sa["metadata"]["name"]
    pod = ds["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["--count", "4", "--product", "NVIDIA-RTX-PRO-6000",
                                 "--plugin-dir", "/var/lib/kubelet/device-plugins"]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert pod["volumes"][0]["hostPath"]["path"] == container["volumeMounts"][0]["mountPath"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]


def test_plugin_image_dockerfile_runs_the_module_with_pinned_deps():
    dockerfile = (REPO / "images" / "fake-gpu-plugin" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "-m", "leviathan_e2e.deviceplugin"]' in dockerfile
    lock = (REPO / "requirements.lock").read_text()
    for pkg, arg in (("grpcio", "GRPCIO_VERSION"), ("protobuf", "PROTOBUF_VERSION"), ("pyyaml", "PYYAML_VERSION")):
        pinned = next(line.split("==")[1] for line in lock.lower().splitlines() if line.startswith(pkg + "=="))
        assert f"ARG {arg}={pinned}" in dockerfile, f"{arg} must equal requirements.lock's {pkg}=={pinned}"
    assert ":latest" not in dockerfile


def test_host_plugin_launcher_starts_registers_and_stops_by_pid(plugin_dir, tmp_path):
    from leviathan_e2e.deviceplugin import HostPlugin

    kubelet = FakeKubelet(plugin_dir)
    plugin = HostPlugin(plugin_dir=plugin_dir, node_name="node-c", count=3, log_path=tmp_path / "plugin.log")
    try:
        with plugin:
            assert kubelet.registered.wait(15)
            assert plugin.process.poll() is None
        assert plugin.process.returncode == 0
        assert not plugin.socket_path.exists()
        assert "--no-labels" in plugin.command()
        assert fake_gpu_uuids("node-c", 3)[2] in (tmp_path / "plugin.log").read_text()
    finally:
        plugin.stop()
        kubelet.stop()
