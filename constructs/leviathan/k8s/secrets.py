"""An environment variable read from a Secret the user names (e.g. the Hugging Face token).

The Secret's name is checked by a chart rule instead of a schema pattern, because Helm's schema
errors quote the value: someone who pastes the token where the name belongs must get an error
that tells them what to do, without the token printed in their terminal or CI log.
"""

from __future__ import annotations

from ..config.shape import ValuesRef
from ..config.bounds import DNS_SUBDOMAIN, SECRET_KEY
from ..helm.chart import HelmChart
from ..helm.holes import Cond, If


def secret_env(chart: HelmChart, ref: ValuesRef, env_name: str) -> If:
    """`env_name` from the Secret `ref.name` (key `ref.key`); nothing when no name is set."""
    path = ref.go.removeprefix(".Values.")
    name, key = ref.name.go, ref.key.go
    chart.rule(
        f"{path}.name", ref.name.truthy() & ~_matches(DNS_SUBDOMAIN, name, 253),
        f'"{path}.name must be the name of a Secret (lowercase letters, digits, - and .), not the token '
        f'itself. Put the token in a Secret, e.g. kubectl create secret generic hf-token '
        f'--from-literal={env_name}=<token>, and set {path}.name=hf-token. (The value is not shown here.)"')
    chart.rule(
        f"{path}.key", ~_matches(SECRET_KEY, key, 253),
        f'"{path}.key must be a key inside the Secret (letters, digits, -, _ and .), e.g. {env_name}. '
        f'(The value is not shown here.)"')
    return If(ref.name.truthy(), [{
        "name": env_name,
        "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
    }])


def _matches(pattern: str, go: str, max_length: int) -> Cond:
    escaped = pattern.replace("\\", "\\\\")
    return Cond(f'and (le (len {go}) {max_length}) (regexMatch "{escaped}" {go})')
