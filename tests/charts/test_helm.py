"""The official Helm 4 and Helm 3 binaries lint and render every chart with every profile, and the
committed bundles equal `helm template` of that chart with that profile."""

from __future__ import annotations

import pytest
import yaml

from leviathan import versions
from leviathan.synth import ROOT

from .conftest import CHART_NAMES, docs, engine_container, profiles

# Charts whose default image tag follows a value: the pin of the default flavour (kt-sglang: cpu.isa=avx512).
FLAVOURED = {"kt-sglang": "kt-sglang-avx512"}

CASES = [(chart, None) for chart in CHART_NAMES] + [
    (chart, profile) for chart in CHART_NAMES for profile in profiles(chart)]
IDS = [f"{chart}-{profile.stem if profile else 'default'}" for chart, profile in CASES]


@pytest.mark.parametrize(("chart", "profile"), CASES, ids=IDS)
@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_lint_strict(request, binary, chart, profile, charts_dir):
    helm = request.getfixturevalue(binary)
    args = ["lint", "--strict", str(charts_dir / chart)]
    if profile:
        args += ["-f", str(profile)]
    result = helm.run(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(("chart", "profile"), CASES, ids=IDS)
def test_bundle_equals_helm_template(helm, chart, profile):
    """rendered/<chart>/<profile>.yaml is exactly `helm template <release> --skip-tests` with that profile."""
    release = profile.stem if profile else chart
    args = ["template", release, str(ROOT / "charts" / chart), "--skip-tests"]
    if profile:
        args += ["-f", str(profile)]
    rendered = helm.run(*args, check=True).stdout
    assert "helm.sh/hook: test" not in rendered
    name = profile.stem if profile else "default"
    assert (ROOT / "rendered" / chart / f"{name}.yaml").read_text() == rendered


@pytest.mark.parametrize(("chart", "profile"), CASES, ids=IDS)
def test_helm3_renders_the_same_manifests(helm, helm3, charts_dir, chart, profile):
    values = [profile] if profile else []
    assert helm3.template(charts_dir / chart, values=values).stdout == helm.template(
        charts_dir / chart, values=values).stdout


# Chart -> its default engine image in images/versions.yaml, where the names differ (image flavours).
ENGINE_IMAGE = {"llamacpp": "llama-cpp-cuda", **FLAVOURED}


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_chart_yaml_pins_the_engine_version(charts_dir, chart):
    meta = yaml.safe_load((charts_dir / chart / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2"
    assert meta["kubeVersion"] == ">=1.30.0-0"
    major, minor, patch = (int(part) for part in meta["version"].split("."))
    assert (major, minor, patch) >= (0, 1, 0)
    assert meta["appVersion"] == versions.image(ENGINE_IMAGE.get(chart, chart)).app_version


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_default_image_is_the_pinned_build(helm, charts_dir, chart):
    """A chart's default engine image must be exactly the pin in images/versions.yaml."""
    values = yaml.safe_load((charts_dir / chart / "values.yaml").read_text())
    pin = versions.image(ENGINE_IMAGE.get(chart, chart))
    if chart in FLAVOURED:  # empty tag: the pinned build of the flavour the values select
        assert (values["image"]["repository"], values["image"]["tag"]) == (pin.repository, "")
        assert engine_container(docs(helm.template(charts_dir / chart).stdout))["image"] == pin.ref
    else:
        assert (values["image"]["repository"], values["image"]["tag"]) == (pin.repository, pin.tag)
    helper = versions.image("test-client")
    assert (values["helperImage"]["repository"], values["helperImage"]["tag"]) == (helper.repository, helper.tag)
    if "download" in values:
        downloader = versions.image("model-downloader")
        assert values["download"]["image"]["tag"] == downloader.tag


@pytest.mark.parametrize(("chart", "profile"), CASES, ids=IDS)
def test_every_manifest_has_release_scoped_names_and_labels(helm, charts_dir, chart, profile):
    manifests = docs(helm.template(charts_dir / chart, "rel", values=[profile] if profile else []).stdout)
    assert manifests
    for manifest in manifests:
        meta = manifest["metadata"]
        assert meta["name"].startswith(f"rel-{chart}"), meta["name"]
        assert meta["labels"]["app.kubernetes.io/instance"] == "rel"
        assert "namespace" not in meta, "bundles must stay namespace-agnostic for `oc apply -n`"
