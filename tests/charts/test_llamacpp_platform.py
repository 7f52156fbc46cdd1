"""Chart `llamacpp` on OpenShift: platform detection, the Route, NetworkPolicies, restricted-v2."""

from __future__ import annotations

import pytest

from . import openshift_schema
from .conftest import docs, find
from .pod_security import pod_spec, restricted_violations

CHART = "llamacpp"
OPENSHIFT_API = ["--api-versions", "route.openshift.io/v1"]


def manifests(helm, charts_dir, *args: str) -> list[dict]:
    return docs(helm.run("template", "kimi", str(charts_dir / CHART), *args, check=True).stdout)


def kinds(items: list[dict]) -> set[str]:
    return {m["kind"] for m in items}


@pytest.mark.parametrize(("args", "openshift"), [
    ([], False),
    (OPENSHIFT_API, True),
    (["--set", "platform=openshift"], True),
    ([*OPENSHIFT_API, "--set", "platform=kubernetes"], False),
])
def test_platform_defaults_to_what_the_cluster_serves(helm, charts_dir, args, openshift):
    items = manifests(helm, charts_dir, *args)
    assert ("Route" in kinds(items)) is openshift
    assert ("NetworkPolicy" in kinds(items)) is openshift
    job = find(items, "Job")["spec"]["template"]["spec"]["securityContext"]
    assert ("runAsUser" in job) is not openshift and ("fsGroup" in job) is not openshift


def test_route_is_edge_tls_with_a_long_timeout_and_fits_the_openshift_crd(helm, charts_dir):
    route = find(manifests(helm, charts_dir, "--set", "platform=openshift"), "Route")
    openshift_schema.validate(route)
    assert route["metadata"]["annotations"]["haproxy.router.openshift.io/timeout"] == "5m"
    spec = route["spec"]
    assert spec["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
    assert spec["to"] == {"kind": "Service", "name": "kimi-llamacpp", "weight": 100}
    assert spec["port"] == {"targetPort": "http"} and "host" not in spec
    # The CRD's CEL rules (x-kubernetes-validations), which jsonschema does not evaluate, on this shape:
    assert not ("certificate" in spec["tls"] and "externalCertificate" in spec["tls"])
    assert not (spec["tls"]["termination"] == "passthrough" and spec["tls"]["insecureEdgeTerminationPolicy"] == "Allow")
    assert spec["tls"]["termination"] != "passthrough"  # so httpHeaders actions would be allowed too
    hosted = find(manifests(helm, charts_dir, "--set", "platform=openshift", "--set",
                            "openshift.route.host=kimi.apps.example.com", "--set", "openshift.route.timeout=10m"), "Route")
    openshift_schema.validate(hosted)
    assert hosted["spec"]["host"] == "kimi.apps.example.com"
    assert hosted["metadata"]["annotations"]["haproxy.router.openshift.io/timeout"] == "10m"
    assert "Route" not in kinds(manifests(helm, charts_dir, "--set", "platform=openshift", "--set",
                                          "openshift.route.enabled=false"))


def test_the_crd_check_is_strict():
    route = {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "x"},
             "spec": {"to": {"kind": "Service", "name": "s"}, "tls": {"termination": "edge"}}}
    openshift_schema.validate(route)
    for bad in ({"to": {"kind": "Service", "name": "s"}, "tls": {"termination": "edgy"}},
                {"to": {"kind": "Service", "name": "s"}, "timeout": "5m"},
                {"to": {"kind": "Service", "name": "s"}, "host": "UPPER_case!"},
                {"host": "a.example.com"}):
        with pytest.raises(Exception):
            openshift_schema.validate({**route, "spec": bad})


def _policies(helm, charts_dir, *args) -> dict[str, dict]:
    items = manifests(helm, charts_dir, "--set", "platform=openshift", *args)
    return {m["metadata"]["name"].removeprefix("kimi-llamacpp-"): m["spec"] for m in items if m["kind"] == "NetworkPolicy"}


def test_network_policies_deny_by_default_and_open_only_the_listed_paths(helm, charts_dir):
    policies = _policies(helm, charts_dir)
    assert set(policies) == {"default-deny", "engine-ingress", "dns-egress", "download-egress", "test-egress"}
    release = {"app.kubernetes.io/name": "llamacpp", "app.kubernetes.io/instance": "kimi"}
    for spec in policies.values():  # only this release's pods, never the whole namespace
        assert release.items() <= spec["podSelector"]["matchLabels"].items()
    deny = policies["default-deny"]
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny and "egress" not in deny
    (ingress,) = policies["engine-ingress"]["ingress"]
    assert policies["engine-ingress"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "engine"
    assert ingress["from"][:2] == [
        {"namespaceSelector": {"matchLabels": {"policy-group.network.openshift.io/ingress": ""}}},
        {"namespaceSelector": {"matchLabels": {"network.openshift.io/policy-group": "monitoring"}}}]
    assert ingress["from"][2]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "test"
    assert ingress["ports"] == [{"protocol": "TCP", "port": "http"}]
    (dns,) = policies["dns-egress"]["egress"]
    assert dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-dns"}}}]
    assert sorted((p["port"], p["protocol"]) for p in dns["ports"]) == [
        (53, "TCP"), (53, "UDP"), (5353, "TCP"), (5353, "UDP")]
    download = policies["download-egress"]
    assert download["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "model-download"
    assert download["egress"] == [{"ports": [{"protocol": "TCP", "port": 443}]}]
    assert "NetworkPolicy" not in kinds(manifests(helm, charts_dir, "--set", "platform=openshift", "--set",
                                                  "openshift.networkPolicies.enabled=false"))


@pytest.mark.parametrize("endpoint", ["http://hf-mirror.example.com", "https://hf-mirror.example.com:8443/",
                                      "http://fake-hub:8080"])
def test_a_download_endpoint_the_download_policy_would_cut_off_fails_template(helm, charts_dir, endpoint):
    result = helm.run("template", "kimi", str(charts_dir / CHART), "--set", "platform=openshift",
                      "--set", f"download.endpoint={endpoint}", check=False)
    assert result.returncode != 0
    assert f"download.endpoint={endpoint}: the download Job's NetworkPolicy" in result.stderr
    for allowed in (["--set", "openshift.networkPolicies.enabled=false"], ["--set", "platform=kubernetes"]):
        helm.run("template", "kimi", str(charts_dir / CHART), "--set", "platform=openshift",
                 "--set", f"download.endpoint={endpoint}", *allowed, check=True)


@pytest.mark.parametrize("endpoint", ["https://hf-mirror.example.com", "https://hf-mirror.example.com:443/hub"])
def test_an_https_443_download_endpoint_passes_the_policy_rule(helm, charts_dir, endpoint):
    helm.run("template", "kimi", str(charts_dir / CHART), "--set", "platform=openshift",
             "--set", f"download.endpoint={endpoint}", check=True)


def _containers(pod: dict) -> list[dict]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_every_pod_fits_restricted_v2_without_fixed_ids(helm, charts_dir):
    items = docs(helm.run("template", "kimi", str(charts_dir / CHART), "--set", "platform=openshift",
                          check=True).stdout)
    pods = [(m["kind"], pod_spec(m)) for m in items if pod_spec(m) is not None]
    assert {kind for kind, _ in pods} == {"Deployment", "Job", "Pod"}
    for kind, pod in pods:
        context = pod.get("securityContext", {})
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(context), (kind, context)
        assert context["runAsNonRoot"] is True and context["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in _containers(pod):
            security = container["securityContext"]
            assert not {"runAsUser", "runAsGroup"} & set(security), (kind, container["name"])
            assert security["allowPrivilegeEscalation"] is False and security["capabilities"] == {"drop": ["ALL"]}
            assert "add" not in security["capabilities"] and not security.get("privileged")
        # writable paths are emptyDirs (the download Job writes the model volume, its purpose)
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in _containers(pod):
            for mount in container.get("volumeMounts", []):
                if not mount.get("readOnly") and kind != "Job":
                    assert "emptyDir" in volumes[mount["name"]], (kind, mount)
        assert not restricted_violations(pod), (kind, restricted_violations(pod))
