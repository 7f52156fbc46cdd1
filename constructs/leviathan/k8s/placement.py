"""Where the chart's pods run: one node-placement block shared by the engine pod and the download Job.

With a hostPath store the weights live on one node's disk, so the Job that downloads them and the
engine that reads them must land on the same node. Sharing one block keeps them from drifting
apart, and a rule refuses a hostPath store that nothing pins to one node: otherwise the Job fills
some other node's disk and the engine's `wait-for-model` waits forever.
"""

from __future__ import annotations

from ..config.shape import block
from ..helm.chart import HelmChart
from ..helm.holes import Cond, If

HOSTNAME_LABEL = "kubernetes.io/hostname"


def node_placement(chart: HelmChart, affinity=None) -> dict:
    """Pod-spec entries that choose the node: nodeName, nodeSelector, tolerations, affinity
    (`affinity` replaces the values' block when a variant derives it)."""
    v = chart.v
    return {
        "_node": If(v.node_name.truthy(), {"nodeName": v.node_name}),
        "nodeSelector": block(v.node_selector),
        "tolerations": block(v.tolerations),
        "affinity": affinity or block(v.affinity),
    }


def pinned_to_one_node(chart: HelmChart) -> Cond:
    v = chart.v
    return v.node_name.truthy() | Cond(f'hasKey {v.node_selector.go} "{HOSTNAME_LABEL}"')


def add_host_path_pinning_rule(chart: HelmChart) -> None:
    chart.rule(
        "storage.hostPath.node", chart.v.storage.host_path.path.truthy() & ~pinned_to_one_node(chart),
        '"storage.hostPath.path is a directory on one node, but nothing pins the pods to that node: the '
        'download Job and the engine could run on different nodes. Set nodeName to the node\'s name '
        f'(kubectl get nodes), or a nodeSelector on {HOSTNAME_LABEL}."')
