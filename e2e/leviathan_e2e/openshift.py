"""OpenShift's API in a plain Kubernetes e2e cluster: the Route CRD of github.com/openshift/api at the
revision e2e/versions.env pins (downloaded through the Go module proxy by scripts/openshift-api)."""

from __future__ import annotations

import json
import subprocess

from .release import REPO, wait_for

ROUTE_CRD_NAME = "routes.route.openshift.io"


def _established(kubectl) -> bool:
    result = kubectl("get", "customresourcedefinition", ROUTE_CRD_NAME, "-o", "json", check=False)
    if result.returncode != 0:
        return False
    conditions = (json.loads(result.stdout).get("status") or {}).get("conditions") or []  # null until the first sync
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


def install_route_crd(kubectl) -> None:
    """Apply the Route CRD (server-side, idempotent across tests) and wait until it is served.
    Polled rather than `kubectl wait`: right after the apply, `kubectl wait` can fail at once instead
    of waiting (seen in e2e)."""
    crd = subprocess.run([str(REPO / "scripts" / "openshift-api"), "route-crd"], capture_output=True, text=True,
                         check=True).stdout.strip()
    kubectl("apply", "--server-side", "--force-conflicts", "-f", crd)
    wait_for(f"CRD {ROUTE_CRD_NAME} established", lambda: _established(kubectl), 60, interval=0.5)
