"""Bounds and formats of values, taken from the consumer each value ends up in.

A value the schema accepts must also be accepted by the API server and the engine, so integer
fields carry the range of the field they fill (Kubernetes int32 for ports, probe and Job fields),
names carry the format of the object they name, and sizes stay small enough that every product the
templates compute (GiB -> MiB, x 2 for the startup budget) fits in Helm's int64.
"""

from __future__ import annotations

INT32_MAX = 2**31 - 1
"""Kubernetes int32 fields: probe timings and thresholds, backoffLimit, container ports."""

GIB_MAX = 2**20
"""1 PiB. No node or volume is larger, and GiB x 1024 x 1024 x 2 stays far inside int64."""

CORES_MAX = 4096
"""CPU cores of one pod (the largest machines have a few hundred)."""

SECONDS_MAX = 7 * 24 * 3600
"""A week: the longest wait (startup budget, grace period, progress interval) that makes sense."""

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
"""Names of most Kubernetes objects (Secrets, PVCs, nodes, classes): RFC 1123 subdomain, <= 253."""

OPTIONAL_DNS_SUBDOMAIN = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$"
"""A DNS subdomain, or empty for "not set"."""

EXTENDED_RESOURCE = (r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
                     r"/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
"""A device-plugin resource: `<domain>/<name>`, e.g. `nvidia.com/gpu`, `amd.com/gpu`."""

SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
"""A key inside a Secret or ConfigMap."""

IMAGE_REGISTRY = r"^([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*(:[0-9]{1,5})?)?$"
"""`host[:port]` of a registry, or empty."""

IMAGE_REPOSITORY = r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
"""Path of an image repository (lowercase components separated by `/`)."""

ABSOLUTE_PATH = r"^/[^\n\r\t\x00]*$"
"""A path inside a container or on a node: absolute, one line."""

LABEL_KEY = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
             r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
"""A label or annotation key: `[prefix/]name`."""

LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
"""A label value (<= 63 characters)."""

ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
"""An environment variable name as Kubernetes accepts it."""

NOT_AN_OPTION = r"^[^-]"
"""A value the engine reads after its flag (or as its positional model argument): argparse takes
one that starts with "-" for another option and exits ("expected one argument")."""

HUB_ENDPOINT = r"^(https?://[^\s/?#@]+(/[^\s?#@]*)?)?$"
"""Empty, or an http(s) URL without user info, query or fragment (huggingface_hub appends /api/...
and /<repo>/resolve/...). User info is refused: a token belongs in the token Secret, never in a value
that `helm get values` and the Job's log print."""
