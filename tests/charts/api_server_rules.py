"""The API server's own checks on the fields these charts generate, beyond the OpenAPI schema.

kubernetes-validate checks types and field names against the OpenAPI schema, but the API server
also checks formats: object names by kind, label keys and values, container, port, volume and env
names, resource names and quantities, int32 ranges, hostPath backsteps. A manifest that passes
kubernetes-validate but fails one of these is still refused by `kubectl apply`. The rules follow
k8s.io/apimachinery/pkg/util/validation and pkg/apis/core/validation (Kubernetes 1.34).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
QUALIFIED_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
QUANTITY = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|n|u|m|k|M|G|T|P|E)?")
STANDARD_RESOURCES = {"cpu", "memory", "ephemeral-storage", "storage"}
INT32_MAX = 2**31 - 1


def is_subdomain(name: Any) -> bool:
    return isinstance(name, str) and len(name) <= 253 and bool(DNS_SUBDOMAIN.fullmatch(name))


def is_label(name: Any) -> bool:
    return isinstance(name, str) and len(name) <= 63 and bool(DNS_LABEL.fullmatch(name))


def is_qualified_name(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    prefix, _, name = key.rpartition("/")
    if "/" in key and not is_subdomain(prefix):
        return False
    return len(name) <= 63 and bool(QUALIFIED_NAME_PART.fullmatch(name))


def is_label_value(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(LABEL_VALUE.fullmatch(value))


def errors(manifest: dict) -> list[str]:
    """Every reason the API server would refuse `manifest` (empty when it would accept it)."""
    kind, meta = manifest["kind"], manifest["metadata"]
    found = list(_metadata(kind, meta))
    spec = manifest.get("spec", {})
    if kind == "Deployment":
        found += _labels("spec.selector.matchLabels", spec["selector"]["matchLabels"])
        found += _labels("spec.template.metadata.labels", spec["template"]["metadata"].get("labels", {}))
        found += _annotations("spec.template", spec["template"]["metadata"].get("annotations", {}))
        found += _pod("spec.template.spec", spec["template"]["spec"])
    elif kind == "Job":
        found += _int32("spec.backoffLimit", spec.get("backoffLimit", 6), 0)
        found += _labels("spec.template.metadata.labels", spec["template"]["metadata"].get("labels", {}))
        found += _pod("spec.template.spec", spec["template"]["spec"])
    elif kind == "Pod":
        found += _pod("spec", spec)
    elif kind == "Service":
        found += _labels("spec.selector", spec.get("selector", {}))
        for port in spec["ports"]:
            found += _int32("port", port["port"], 1, 65535) + _int32("nodePort", port.get("nodePort", 0), 0, 65535)
            if not _port_name_ok(port.get("name", "x")):
                found.append(f"service port name {port.get('name')!r}")
    elif kind == "ConfigMap":
        found += [f"ConfigMap key {key!r}" for key in manifest.get("data", {}) if not CONFIG_KEY.fullmatch(key)]
    elif kind == "PersistentVolumeClaim":
        found += _quantity("storage", spec["resources"]["requests"]["storage"])
        if "storageClassName" in spec and not is_subdomain(spec["storageClassName"]):
            found.append(f"storageClassName {spec['storageClassName']!r}")
    return found


def _metadata(kind: str, meta: dict) -> Iterator[str]:
    name = meta["name"]
    if kind == "Service":
        if not (len(name) <= 63 and DNS_1035_LABEL.fullmatch(name)):
            yield f"Service name {name!r} is not a DNS-1035 label"
    elif not is_subdomain(name):
        yield f"{kind} name {name!r} is not a DNS subdomain"
    if kind == "Job" and not is_label_value(name):
        yield f"Job name {name!r} cannot be the job-name label of its pods (<= 63 characters)"
    yield from _labels("metadata.labels", meta.get("labels", {}))
    yield from _annotations("metadata", meta.get("annotations", {}))


def _labels(where: str, labels: dict) -> list[str]:
    return [f"{where}: label {key!r}={value!r}" for key, value in labels.items()
            if not (is_qualified_name(key) and is_label_value(value))]


def _annotations(where: str, annotations: dict | None) -> list[str]:
    return [f"{where}: annotation key {key!r}" for key in (annotations or {}) if not is_qualified_name(key)]


def _int32(where: str, value: Any, low: int, high: int = INT32_MAX) -> list[str]:
    ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    return [] if ok else [f"{where}={value!r} is not an integer in [{low}, {high}]"]


def _quantity(where: str, value: Any) -> list[str]:
    return [] if isinstance(value, (int, float)) or QUANTITY.fullmatch(str(value)) else [
        f"{where} {value!r} is not a quantity"]


def _port_name_ok(name: str) -> bool:
    return len(name) <= 15 and bool(PORT_NAME.fullmatch(name)) and "--" not in name and bool(
        re.search("[a-z]", name))


def _pod(where: str, pod: dict) -> list[str]:
    found: list[str] = []
    for field in ("nodeName", "runtimeClassName", "priorityClassName"):
        if field in pod and not is_subdomain(pod[field]):
            found.append(f"{where}.{field} {pod[field]!r} is not a DNS subdomain")
    found += _labels(f"{where}.nodeSelector", pod.get("nodeSelector") or {})
    found += _int32(f"{where}.terminationGracePeriodSeconds", pod.get("terminationGracePeriodSeconds", 30), 0,
                    2**63 - 1)
    found += [f"imagePullSecret {ref!r}" for ref in pod.get("imagePullSecrets") or [] if not is_subdomain(ref.get("name"))]
    found += _security_context(f"{where}.securityContext", pod.get("securityContext") or {})
    volumes = {}
    for volume in pod.get("volumes") or []:
        volumes[volume["name"]] = volume
        if not is_label(volume["name"]):
            found.append(f"volume name {volume['name']!r}")
        if "hostPath" in volume:
            path = volume["hostPath"]["path"]
            if not path or ".." in path.split("/"):
                found.append(f"hostPath {path!r} must not contain '..'")
        if "configMap" in volume and not is_subdomain(volume["configMap"]["name"]):
            found.append(f"configMap volume {volume['configMap']['name']!r}")
        if "persistentVolumeClaim" in volume and not is_subdomain(volume["persistentVolumeClaim"]["claimName"]):
            found.append(f"claimName {volume['persistentVolumeClaim']['claimName']!r}")
    containers = [*(pod.get("initContainers") or []), *pod["containers"]]
    names = [container["name"] for container in containers]
    if len(set(names)) != len(names):
        found.append(f"duplicate container names {names}")
    for container in containers:
        found += _container(f"{where}.containers[{container['name']}]", container, volumes)
    return found


def _security_context(where: str, context: dict) -> list[str]:
    found = []
    for field in ("runAsUser", "runAsGroup", "fsGroup"):
        if field in context:
            found += _int32(f"{where}.{field}", context[field], 0)
    return found


def _container(where: str, container: dict, volumes: dict) -> list[str]:
    found: list[str] = []
    if not is_label(container["name"]):
        found.append(f"{where}: container name")
    image = container.get("image", "")
    if not image or image != image.strip():
        found.append(f"{where}: image {image!r} is empty or has surrounding whitespace")
    for port in container.get("ports") or []:
        found += _int32(f"{where}.containerPort", port["containerPort"], 1, 65535)
        if "name" in port and not _port_name_ok(port["name"]):
            found.append(f"{where}: port name {port['name']!r}")
    for env in container.get("env") or []:
        if not ENV_NAME.fullmatch(env["name"]):
            found.append(f"{where}: env name {env['name']!r}")
        secret = (env.get("valueFrom") or {}).get("secretKeyRef")
        if secret and not (is_subdomain(secret["name"]) and CONFIG_KEY.fullmatch(secret["key"])):
            found.append(f"{where}: secretKeyRef {secret!r}")
    resources = container.get("resources") or {}
    for section in ("requests", "limits"):
        for name, value in (resources.get(section) or {}).items():
            if name not in STANDARD_RESOURCES and not name.startswith("hugepages-") and not (
                    "/" in name and is_qualified_name(name)):
                found.append(f"{where}: resource name {name!r}")
            found += _quantity(f"{where}.resources.{section}.{name}", value)
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    for name, value in requests.items():
        if "/" in name and limits.get(name) != value:
            found.append(f"{where}: extended resource {name} must have equal request and limit")
    for mount in container.get("volumeMounts") or []:
        if mount["name"] not in volumes:
            found.append(f"{where}: volumeMount of unknown volume {mount['name']!r}")
        if not mount.get("mountPath"):
            found.append(f"{where}: empty mountPath")
    for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container.get(probe_name)
        if probe:
            for field in ("periodSeconds", "timeoutSeconds", "failureThreshold"):
                found += _int32(f"{where}.{probe_name}.{field}", probe.get(field, 1), 1)
    found += _security_context(f"{where}.securityContext", container.get("securityContext") or {})
    return found
