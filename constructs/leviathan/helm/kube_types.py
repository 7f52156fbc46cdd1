"""Kubernetes object schemas for values that are rendered as given (tolerations, affinity, extraEnv).

Such a value goes into the pod spec verbatim, so the only honest schema for it is Kubernetes' own:
`tolerations: [{foo: 1}]` must fail `helm template` naming `tolerations/0`, not reach the API
server. The schemas are the strict (unknown fields rejected) OpenAPI definitions of Kubernetes 1.30,
the oldest version the charts support, as shipped by kubernetes-validate; `$ref`s are inlined and
descriptions and formats dropped (Helm 3's validator does not know Kubernetes' formats).
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any

KUBE_VERSION = "1.30.0"
MARKER = "x-leviathan-kubernetes-type"
OVERLAY = "x-leviathan-formats"


@cache
def _definitions() -> dict[str, Any]:
    # The package's folder, found without importing it: its __init__ imports jsonschema, which synth
    # never uses (a twentieth of a second).
    package = Path(importlib.util.find_spec("kubernetes_validate").submodule_search_locations[0])
    folder = package / "kubernetes-json-schema" / f"v{KUBE_VERSION}-local-strict"
    return json.loads((folder / "_definitions.json").read_text())["$defs"]


def kube_type(name: str) -> dict[str, Any]:
    """The inlined JSON schema of a Kubernetes type, e.g. `io.k8s.api.core.v1.Toleration`."""
    return _inline(_definitions()[name])


def _inline(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(_definitions()[node["$ref"].rsplit("/", 1)[-1]])
        return {key: _inline(value) for key, value in node.items() if key not in ("description", "format")}
    if isinstance(node, list):
        return [_inline(item) for item in node]
    return node


def kubernetes(type_name: str, /, **property_formats: dict[str, Any]) -> dict[str, Any]:
    """`json_schema_extra` for a field holding one object of Kubernetes type `type_name` (or a list of
    them). `property_formats` add the formats the API server checks beyond the OpenAPI schema, e.g.
    the pattern of an env var name."""
    return {MARKER: type_name, OVERLAY: property_formats}


def kube_type_with(node: dict[str, Any]) -> dict[str, Any]:
    """The schema a marked field stands for: its Kubernetes type plus the field's format overlay."""
    kube = kube_type(node[MARKER])
    for prop, extra in node.get(OVERLAY, {}).items():
        kube["properties"][prop] = {**kube["properties"][prop], **extra}
    return kube
