"""OpenShift NetworkPolicies for a release: default deny, then only the paths the chart needs.

- ingress to the engine's API port: from the OpenShift router (namespaces labelled
  `policy-group.network.openshift.io/ingress`, host-network routers included), from monitoring
  (`network.openshift.io/policy-group: monitoring`, for /metrics) and from the release's `helm test` pod;
- egress: cluster DNS only (the DNS namespace, ports 53 and 5353, UDP and TCP);
- the model-download Job alone also reaches HTTPS (443) anywhere: the Hugging Face CDN has no fixed
  addresses. A `download.endpoint` elsewhere (http, another port) would be cut off, so it fails
  `helm template` instead;
- the `helm test` pod reaches the engine's API port.

The deny selects this release's pods only (`app.kubernetes.io/name` + `instance`), never the
whole namespace: a chart must not cut off pods it does not own.
"""

from __future__ import annotations

from ..helm.chart import HelmChart
from ..helm.holes import Cond, Splice
from .download import COMPONENT as DOWNLOAD
from .probes import PORT_NAME
from .workload import COMPONENT as ENGINE

FILE = "networkpolicy.yaml"
ROUTER = {"policy-group.network.openshift.io/ingress": ""}
MONITORING = {"network.openshift.io/policy-group": "monitoring"}
TEST = "test"


def _release_pods(chart: HelmChart) -> dict:
    return {"matchLabels": {"_selector": Splice(f'include "{chart.info.name}.selectorLabels" .')}}


def _component(chart: HelmChart, component: str) -> dict:
    return {"matchLabels": chart.selector_labels(component)}


def add_network_policies(chart: HelmChart, openshift: Cond) -> None:
    settings = chart.v.openshift.network_policies
    when = openshift & settings.enabled.truthy()
    api_port = [{"protocol": "TCP", "port": PORT_NAME}]

    def policy(suffix: str, selector: dict, types: list[str], rules: dict) -> None:
        chart.add_object(FILE, "networking.k8s.io/v1", "NetworkPolicy", chart.name(suffix), "network-policy",
                         {"spec": {"podSelector": selector, "policyTypes": types, **rules}}, when=when)

    policy("default-deny", _release_pods(chart), ["Ingress", "Egress"], {})
    policy("engine-ingress", _component(chart, ENGINE), ["Ingress"], {"ingress": [{
        "from": [{"namespaceSelector": {"matchLabels": ROUTER}},
                 {"namespaceSelector": {"matchLabels": MONITORING}},
                 {"podSelector": _component(chart, TEST)}],
        "ports": api_port,
    }]})
    policy("dns-egress", _release_pods(chart), ["Egress"], {"egress": [{
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.dns_namespace}}}],
        "ports": [{"protocol": protocol, "port": port} for port in (53, 5353) for protocol in ("UDP", "TCP")],
    }]})
    policy("download-egress", _component(chart, DOWNLOAD), ["Egress"], {"egress": [{
        "ports": [{"protocol": "TCP", "port": 443}],
    }]})
    endpoint = chart.v.download.endpoint
    https_443 = Cond(f'regexMatch "^https://[^/:?#]+(:443)?(/|$)" {endpoint.go}')
    chart.rule(
        "download.endpoint", when & chart.v.download.enabled.truthy() & endpoint.truthy() & ~https_443,
        f'printf "download.endpoint=%s: the download Job\'s NetworkPolicy lets it reach HTTPS on port 443 '
        f'only, so the Job could never connect. Use an https:// endpoint on port 443, or set '
        f'openshift.networkPolicies.enabled=false and bring your own policies." {endpoint.go}')
    policy("test-egress", _component(chart, TEST), ["Egress"], {"egress": [{
        "to": [{"podSelector": _component(chart, ENGINE)}],
        "ports": api_port,
    }]})
