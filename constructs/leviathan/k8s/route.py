"""The OpenShift Route in front of the engine's Service: router TLS (edge), HTTP redirected to HTTPS.

The router's default timeout (30 s) cuts a long completion of a CPU-offloaded model, so the Route
carries `haproxy.router.openshift.io/timeout` (5m by default). Without a host the router generates
`<name>-<namespace>.<apps domain>`. The shape is validated against openshift/api's Route CRD schema
in the tests.
"""

from __future__ import annotations

from ..helm.chart import HelmChart
from ..helm.holes import Cond, If
from .probes import PORT_NAME
from .workload import COMPONENT

TIMEOUT_ANNOTATION = "haproxy.router.openshift.io/timeout"


def add_route(chart: HelmChart, openshift: Cond) -> None:
    route = chart.v.openshift.route
    chart.add_object(
        "route.yaml", "route.openshift.io/v1", "Route", chart.name(), COMPONENT,
        {"spec": {
            "_host": If(route.host.truthy(), {"host": route.host}),
            "to": {"kind": "Service", "name": chart.service_name(), "weight": 100},
            "port": {"targetPort": PORT_NAME},
            "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
        }},
        when=openshift & route.enabled.truthy(),
        annotations={TIMEOUT_ANNOTATION: route.timeout},
    )
