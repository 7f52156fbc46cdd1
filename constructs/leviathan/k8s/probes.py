"""Probes that fit how each engine really behaves while it loads hundreds of GB of weights.

The startup probe carries the whole load: its budget comes from the weights' size and the volume's
read throughput (`<chart>.startupFailureThreshold`), so a slow load is tolerated and a stuck one is
restarted. Readiness gates the Service endpoints; liveness (active only after startup) restarts a
hung engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..helm.chart import HelmChart
from ..helm.holes import Kind

PORT_NAME = "http"


@dataclass(frozen=True)
class HealthPaths:
    """HTTP paths an engine answers: KTransformers has no /health, so it uses /v1/models."""

    startup: str
    readiness: str
    liveness: str


def engine_probes(chart: HelmChart, paths: HealthPaths) -> dict:
    probes = chart.v.probes

    def http(path: str) -> dict:
        return {"path": path, "port": PORT_NAME}

    return {
        "startupProbe": {
            "httpGet": http(paths.startup),
            "periodSeconds": probes.startup.period_seconds,
            "timeoutSeconds": 5,
            "failureThreshold": chart.include("startupFailureThreshold", Kind.INT),
        },
        "readinessProbe": {
            "httpGet": http(paths.readiness),
            "periodSeconds": probes.readiness.period_seconds,
            "timeoutSeconds": probes.readiness.timeout_seconds,
            "failureThreshold": probes.readiness.failure_threshold,
        },
        "livenessProbe": {
            "httpGet": http(paths.liveness),
            "periodSeconds": probes.liveness.period_seconds,
            "timeoutSeconds": probes.liveness.timeout_seconds,
            "failureThreshold": probes.liveness.failure_threshold,
        },
    }


def add_probe_rules(chart: HelmChart) -> None:
    startup = chart.v.probes.startup
    chart.rule(
        "probes.startup.bounds", startup.ceiling_seconds.lt(startup.floor_seconds),
        f'printf "probes.startup: ceilingSeconds (%d) is below floorSeconds (%d). Raise the ceiling or lower '
        f'the floor." ({startup.ceiling_seconds.go} | int64) ({startup.floor_seconds.go} | int64)')
