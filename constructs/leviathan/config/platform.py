"""Values of the platform a chart runs on: plain Kubernetes or OpenShift (Route, NetworkPolicies)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import ValuesModel, section

# The Route CRD's host pattern (openshift/api route/v1): DNS labels of 1-63 characters.
_LABEL = r"([a-z0-9]|[a-z0-9][-a-z0-9]{0,61}[a-z0-9])"
ROUTE_HOST = rf"^({_LABEL}(\.{_LABEL})*)?$"

Platform = Literal["", "kubernetes", "openshift"]


class Route(ValuesModel):
    enabled: bool = True
    """Expose the API through an OpenShift Route (router TLS, edge termination; HTTP redirects to HTTPS)."""
    host: str = Field("", max_length=253, pattern=ROUTE_HOST)
    """Host name of the Route. Empty: the router generates `<name>-<namespace>.<apps domain>`."""
    timeout: str = Field("5m", pattern=r"^[1-9][0-9]*(us|ms|s|m|h|d)$")
    """`haproxy.router.openshift.io/timeout`: how long the router waits for an answer. A long
    completion from a CPU-offloaded 1T model takes minutes; the router's default (30 s) cuts it."""


class NetworkPolicies(ValuesModel):
    enabled: bool = True
    """Default-deny NetworkPolicies for the release's pods: the API only from the OpenShift router,
    monitoring and the `helm test` pod; egress only to cluster DNS, plus HTTPS for the download Job."""
    dns_namespace: str = Field("openshift-dns", min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """Namespace of the cluster DNS pods (OpenShift: `openshift-dns`, serving on 5353 behind port 53)."""


class OpenShift(ValuesModel):
    route: Route = section(Route)
    """The Route in front of the Service (OpenShift only)."""
    network_policies: NetworkPolicies = section(NetworkPolicies)
    """NetworkPolicies (OpenShift only: they select OpenShift's router and monitoring namespaces)."""
