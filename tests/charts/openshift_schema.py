"""Strict validation of OpenShift kinds against the CRD schemas of github.com/openshift/api, at the
revision e2e/versions.env pins (downloaded through the Go module proxy by scripts/openshift-api).

A CRD's `openAPIV3Schema` prunes unknown fields instead of refusing them; `kubectl apply
--validate=strict` (and server-side field validation) refuses them, so objects here are closed
(`additionalProperties: false`) wherever the schema lists properties and does not preserve unknown
fields. Defaults are applied first, as the apiserver does. CEL rules (`x-kubernetes-validations`) are not evaluated by jsonschema; the tests assert
the Route's three rules on the chart's shape separately (test_llamacpp_platform.py).
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
# apiVersion -> the scripts/openshift-api argument that prints its CRD manifest
CRDS = {"route.openshift.io/v1": "route-crd"}


def is_openshift_kind(manifest: dict) -> bool:
    return manifest.get("apiVersion", "").split("/")[0].endswith(".openshift.io")


@cache
def crd(api_version: str) -> dict:
    if api_version not in CRDS:
        raise AssertionError(f"no openshift/api CRD known for {api_version}: add it to CRDS")
    path = subprocess.run([str(ROOT / "scripts" / "openshift-api"), CRDS[api_version]], capture_output=True,
                          text=True, check=True).stdout.strip()
    return yaml.safe_load(Path(path).read_text())


def _closed(schema: dict) -> dict:
    # `anyOf: null` (written by the generator) means no anyOf; int-or-string is Kubernetes' own type.
    schema = {key: value for key, value in schema.items() if value is not None}
    if schema.get("x-kubernetes-int-or-string") and "anyOf" not in schema:
        schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in schema:
        schema["properties"] = {key: _closed(value) for key, value in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    if isinstance(schema.get("items"), dict):
        schema["items"] = _closed(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = _closed(schema["additionalProperties"])
    return schema


@cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    definition = crd(api_version)
    group, version = api_version.split("/")
    assert definition["spec"]["group"] == group and definition["spec"]["names"]["kind"] == kind, (api_version, kind)
    (served,) = [v for v in definition["spec"]["versions"] if v["name"] == version and v["served"]]
    return jsonschema.validators.Draft202012Validator(_closed(served["schema"]["openAPIV3Schema"]))


def _defaulted(value, schema: dict):
    """The value with the schema's `default`s filled in, as the apiserver defaults a custom resource
    before validating it (the Route's `wildcardPolicy: None` default satisfies one of its rules)."""
    if isinstance(value, dict) and "properties" in schema:
        value = dict(value)
        for key, sub in schema["properties"].items():
            if key not in value and "default" in sub:
                value[key] = sub["default"]
            if key in value:
                value[key] = _defaulted(value[key], sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [_defaulted(item, schema["items"]) for item in value]
    return value


def validate(manifest: dict) -> None:
    """Raise jsonschema.ValidationError when the manifest does not fit its openshift/api CRD."""
    validator = _validator(manifest["apiVersion"], manifest["kind"])
    validator.validate(_defaulted(manifest, validator.schema))
