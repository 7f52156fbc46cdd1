"""Strict validation against the Kubernetes 1.34 OpenAPI schemas that kubernetes-validate ships, with
the validator built once per kind: `kubernetes_validate.validate` re-reads the 2 MB definitions file
on every call (~40 ms a manifest), too slow for a property test that checks thousands."""

from __future__ import annotations

import re
from functools import cache

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import schema_contents
from referencing import Registry, Resource

from . import openshift_schema

VERSION = "1.34.0"


@cache
def _validator(kind: str, api_version: str) -> jsonschema.protocols.Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = "kubernetes-json-schema/v1.34.0-local-strict"
    schema = schema_contents(f"{folder}/{kind.lower()}-{group_version}.json", VERSION)
    definitions = schema_contents(f"{folder}/_definitions.json", VERSION)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate_strict(manifest: dict) -> None:
    """Raise kubernetes_validate.ValidationError, exactly like `validate(manifest, 1.34, strict=True)`.
    OpenShift kinds are validated against openshift/api's CRD schemas instead (openshift_schema.py)."""
    try:
        if openshift_schema.is_openshift_kind(manifest):
            openshift_schema.validate(manifest)
            return
        _validator(manifest["kind"], manifest["apiVersion"]).validate(manifest)
    except jsonschema.ValidationError as error:
        raise kubernetes_validate.ValidationError(error, version="1.34") from error
