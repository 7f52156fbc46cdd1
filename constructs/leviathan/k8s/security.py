"""Security settings shared by the chart's helper containers (wait-for-model, the `helm test` pod).

They only run busybox `sh`/`wget`, so they meet PodSecurity `restricted` on their own: a fixed
non-root UID (the busybox image has no user of its own, so `runAsNonRoot` alone could not be
checked by the kubelet), no capabilities, no privilege escalation, the runtime's seccomp profile.
"""

from __future__ import annotations

HELPER_UID = 65532

HELPER_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "runAsUser": HELPER_UID,
    "runAsGroup": HELPER_UID,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
