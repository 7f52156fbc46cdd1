"""HelmChart pairs each object with its manifest from one `Chart.to_json()` (one jsii round trip per
chart). Objects added to files in interleaved order, raw and cdk8s-plus alike, must each land in
their own template file, in the order they were added to it."""

from __future__ import annotations

import cdk8s
import pytest
import yaml

from leviathan.config.base import ValuesModel, shape_of
from leviathan.helm.chart import ChartInfo, HelmChart
from leviathan.helm.emitter import EmitError


class Values(ValuesModel):
    port: int = 8000


def interleaved_chart() -> HelmChart:
    chart = HelmChart(cdk8s.App(), ChartInfo("demo", "0.1.0", "1.0", "demo chart"), shape_of(Values))
    chart.add_object("a.yaml", "v1", "Service", chart.name("one"), "api", {"spec": {"port": chart.v.port}})
    chart.add_config_map("b.yaml", chart.name("config"), "config", {"key": "value"})
    chart.add_object("a.yaml", "v1", "Secret", chart.name("two"), "api", {"type": "Opaque"},
                     annotations={"z": "last", "a": "first"})
    chart.add_object("b.yaml", "v1", "ServiceAccount", chart.name("three"), "api", {"automountServiceAccountToken": False})
    return chart


def kinds(text: str) -> list[str]:
    # Template actions aside, each document's kind line is plain YAML.
    return [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("kind: ")]


def test_interleaved_objects_land_in_their_own_files_in_order():
    rendered = interleaved_chart().render_templates()
    assert kinds(rendered["a.yaml"]) == ["Service", "Secret"]
    assert kinds(rendered["b.yaml"]) == ["ConfigMap", "ServiceAccount"]
    assert "port: {{ .Values.port | int64 }}" in rendered["a.yaml"]
    assert "key: value" in rendered["b.yaml"] and "automountServiceAccountToken: false" in rendered["b.yaml"]
    # Annotations keep the order the construct gave them (cdk8s would sort metadata it is handed).
    secret = rendered["a.yaml"].split("kind: Secret", 1)[1]
    assert secret.index("z: last") < secret.index("a: first")


def test_a_manifest_order_other_than_construction_order_is_refused(monkeypatch):
    chart = interleaved_chart()
    reordered = list(reversed(chart.to_json()))
    monkeypatch.setattr(HelmChart, "to_json", lambda self: reordered)
    with pytest.raises(EmitError, match="cdk8s synthesized"):
        chart.render_templates()
