"""Which platform a chart renders for: plain Kubernetes or OpenShift.

A chart opts in by having a `platform` value (config/platform.py). Its `<chart>.platform` helper
resolves an empty value from the cluster itself: OpenShift serves `route.openshift.io/v1`. On
OpenShift the restricted-v2 SCC assigns every pod a UID (and fsGroup) from the namespace's range
and refuses any other, so the building blocks then leave `runAsUser`/`runAsGroup`/`fsGroup` out;
charts without the value render exactly as before.
"""

from __future__ import annotations

from ..helm.chart import HelmChart
from ..helm.holes import Cond

OPENSHIFT_API = "route.openshift.io/v1"


def has_platform(chart: HelmChart) -> bool:
    return "platform" in chart.values.fields


def helper(chart: str) -> str:
    return f'''{{{{/*
The platform: .Values.platform, or "openshift" when the cluster serves {OPENSHIFT_API}
(`helm template` without a cluster sees no OpenShift API: set platform explicitly there).
*/}}}}
{{{{- define "{chart}.platform" -}}}}
{{{{- .Values.platform | default (ternary "openshift" "kubernetes" (.Capabilities.APIVersions.Has "{OPENSHIFT_API}")) -}}}}
{{{{- end }}}}
'''


def is_openshift(chart: HelmChart) -> Cond:
    return Cond(f'eq (include "{chart.info.name}.platform" .) "openshift"')


def arbitrary_uid(chart: HelmChart) -> Cond | None:
    """True where the platform assigns the UID (OpenShift); None for charts without a platform value."""
    return is_openshift(chart) if has_platform(chart) else None
