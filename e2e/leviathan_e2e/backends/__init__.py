"""Cluster backends for the e2e suite.

    local     real single-node cluster on this host (leviathan_e2e.backends.local)
    kind      kind cluster (leviathan_e2e.backends.kind)
    existing  whatever $KUBECONFIG points at (leviathan_e2e.backends.existing)

Use :func:`get_backend` to construct one by name; modules are imported lazily.
"""

from __future__ import annotations

from .base import ClusterBackend

__all__ = ["ClusterBackend", "get_backend", "BACKENDS"]

BACKENDS = ("local", "kind", "existing")


def get_backend(name: str, **kwargs) -> ClusterBackend:
    """Construct the backend called *name* (local | kind | existing)."""
    if name == "local":
        from .local import LocalBackend

        return LocalBackend(**kwargs)
    if name == "existing":
        from .existing import ExistingBackend

        return ExistingBackend(**kwargs)
    if name == "kind":
        from .kind_offline import kind_backend  # offline here unless LEVIATHAN_KIND_NODE_IMAGE says otherwise

        return kind_backend(**kwargs)
    raise ValueError(f"unknown e2e backend {name!r}; expected one of {', '.join(BACKENDS)}")
