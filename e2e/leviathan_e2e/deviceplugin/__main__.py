"""``python -m leviathan_e2e.deviceplugin``: run the fake GPU device plugin until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
from pathlib import Path

from .labels import ApiClient, gpu_labels
from .plugin import FakeGpuPlugin, PluginConfig

log = logging.getLogger("leviathan.fake-gpu-plugin")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m leviathan_e2e.deviceplugin", description=__doc__)
    parser.add_argument("--count", type=int, required=True, help="number of fake GPUs to advertise")
    parser.add_argument("--product", default="NVIDIA-RTX-PRO-6000", help="nvidia.com/gpu.product label value")
    parser.add_argument("--memory-mib", type=int, help="nvidia.com/gpu.memory (default: known per product)")
    parser.add_argument("--plugin-dir", type=Path, default=Path("/var/lib/kubelet/device-plugins"))
    parser.add_argument("--resource-name", default="nvidia.com/gpu")
    parser.add_argument("--node-name", default=os.environ.get("NODE_NAME") or socket.gethostname(),
                        help="Node to label and to derive fake UUIDs from (default: $NODE_NAME or hostname)")
    parser.add_argument("--kubeconfig", type=Path, help="label the node with these credentials (host process)")
    parser.add_argument("--no-labels", action="store_true", help="do not label the node")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="kubelet restart detection interval")
    return parser.parse_args(argv)


def _api_client(args: argparse.Namespace) -> ApiClient | None:
    if args.no_labels:
        return None
    if args.kubeconfig:
        return ApiClient.from_kubeconfig(args.kubeconfig)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return ApiClient.in_cluster()
    log.info("no --kubeconfig and not in a cluster: node labels are not applied")
    return None


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    labels = gpu_labels(args.product, args.count, args.memory_mib)
    plugin = FakeGpuPlugin(PluginConfig(
        count=args.count, node_name=args.node_name, plugin_dir=args.plugin_dir, resource_name=args.resource_name))
    client = _api_client(args)
    pending_labels = client is not None

    def label_node_until_done() -> None:
        # Retried every tick: the apiserver may not be reachable yet when the plugin starts.
        nonlocal pending_labels
        if not pending_labels:
            return
        try:
            client.patch_node_labels(args.node_name, labels)
            pending_labels = False
            log.info("labelled node %s: %s", args.node_name, labels)
        except Exception as err:  # noqa: BLE001 - keep serving devices; retry next tick
            log.warning("labelling node %s failed, will retry: %s", args.node_name, err)

    signal.signal(signal.SIGTERM, lambda *_: plugin.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: plugin.stopping.set())
    log.info("fake GPUs on %s: %s", args.node_name, ", ".join(plugin.device_ids))
    try:
        plugin.run(poll_seconds=args.poll_seconds, on_tick=label_node_until_done)
    finally:
        plugin.stop()


if __name__ == "__main__":
    main()
