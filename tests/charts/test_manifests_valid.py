"""Every rendered manifest validates strictly against the Kubernetes 1.34 schemas, and no sentinel,
placeholder or template error leaks into charts or bundles."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

from leviathan.synth import ROOT

from . import api_server_rules
from .kube_schema import validate_strict
from .conftest import docs

BUNDLES = sorted((ROOT / "rendered").rglob("*.yaml"))
E2E_VALUES = sorted((ROOT / "e2e" / "values").glob("*.yaml"))
LEAKS = re.compile(r"\(@h\d+@\)|<no value>|%!\w|\bNone\b|: null$|PLACEHOLDER|TODO|CHANGEME", re.M)


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_bundle_validates_against_kubernetes_1_34(bundle):
    manifests = docs(bundle.read_text())
    assert manifests
    for manifest in manifests:
        validate_strict(manifest)
        assert not api_server_rules.errors(manifest), api_server_rules.errors(manifest)


@pytest.mark.parametrize("values", E2E_VALUES, ids=lambda p: p.stem)
def test_e2e_values_render_valid_manifests(helm, charts_dir, values):
    for manifest in docs(helm.template(charts_dir / values.stem, values=[values]).stdout):
        validate_strict(manifest)
        assert not api_server_rules.errors(manifest), api_server_rules.errors(manifest)


def test_strict_validation_catches_a_bad_field():
    """The validator is really strict (guards against a silently permissive check)."""
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"bogus": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.34.0", strict=True)


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_no_placeholder_leaks_in_bundles(path):
    text = path.read_text()
    # the downloader script in its ConfigMap legitimately contains Python `None`
    text = re.sub(r"hf_download\.py: \|\n(    .*\n|\n)*", "", text)
    assert not LEAKS.findall(text)


def test_no_sentinels_in_templates(charts_dir):
    for path in charts_dir.rglob("*"):
        if path.is_file():
            assert "(@h" not in path.read_text(), path
