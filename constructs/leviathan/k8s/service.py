"""The Service in front of the engine: ClusterIP by default, NodePort when asked.

Endpoints only list the pod once its readiness probe passes, so clients never reach an engine that
is still loading.
"""

from __future__ import annotations

from ..helm.chart import HelmChart
from ..helm.holes import If
from .probes import PORT_NAME
from .workload import COMPONENT


def add_service(chart: HelmChart) -> None:
    service = chart.v.service
    node_port = service.type.eq("NodePort") & service.node_port.gt(0)
    chart.add_object(
        "service.yaml", "v1", "Service", chart.service_name(), COMPONENT,
        {"spec": {
            "type": service.type,
            "ports": [{
                "name": PORT_NAME, "port": service.port, "targetPort": PORT_NAME, "protocol": "TCP",
                "_nodePort": If(node_port, {"nodePort": service.node_port}),
            }],
            "selector": chart.selector_labels(COMPONENT),
        }},
    )
    chart.rule(
        "service.nodePort", ~service.type.eq("NodePort") & service.node_port.gt(0),
        f'printf "service.nodePort=%d only applies to a NodePort Service, but service.type is %s. '
        f'Use --set service.type=NodePort, or drop service.nodePort." ({service.node_port.go} | int64) '
        f'{service.type.go}')
