"""Security settings shared by the chart's helper containers (wait-for-model, the `helm test` pod).

They only run busybox `sh`/`wget`, so they meet PodSecurity `restricted` on their own: a fixed
non-root UID (the busybox image has no user of its own, so `runAsNonRoot` alone could not be
checked by the kubelet), no capabilities, no privilege escalation, the runtime's seccomp profile.
"""

from __future__ import annotations

from ..helm.holes import Cond, If

HELPER_UID = 65532

HELPER_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "runAsUser": HELPER_UID,
    "runAsGroup": HELPER_UID,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def fixed_uid(uid, arbitrary: Cond | None, keys: tuple[str, ...] = ("runAsUser", "runAsGroup")) -> dict:
    """`runAsUser: uid` (and the other `keys`), left out where the platform assigns the UID (OpenShift's
    restricted-v2 SCC refuses a UID outside the namespace's range)."""
    fixed = {key: uid for key in keys}
    return fixed if arbitrary is None else {"_uid": If(~arbitrary, fixed)}


def helper_security_context(arbitrary: Cond | None) -> dict:
    """HELPER_SECURITY_CONTEXT, without the fixed UID where the platform assigns one."""
    if arbitrary is None:
        return HELPER_SECURITY_CONTEXT
    plain = {k: v for k, v in HELPER_SECURITY_CONTEXT.items() if k not in ("runAsUser", "runAsGroup")}
    return {**plain, **fixed_uid(HELPER_UID, arbitrary)}
