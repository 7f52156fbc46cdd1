"""Accepted means valid (issue 8): whatever `helm template` accepts, the API server accepts too.

Regression tests for defects found in review: generated names for any release name Helm accepts and
any revision, the GPU resource name, floats typed with `--set`. The property-based sweep over the
whole schema is `test_values_fuzz.py`.
"""

from __future__ import annotations

import shutil

import kubernetes_validate
import pytest
import yaml

from . import api_server_rules
from .kube_schema import validate_strict
from .conftest import CHART_NAMES, docs, engine_container

# Helm accepts a release name of at most 53 characters matching a DNS subdomain (dots included).
RELEASES = ["a", "1abc", "a.b", "9" * 53, "x" * 53, "a" * 51 + ".b", "ktransformers", "vllm", "a-b.c-d",
            "z" * 45 + ".12345.7"]
EVERY_OBJECT = {"ktransformers": ["gpus.count=2", "engine.backendType=ktransformers"], "vllm": [],
                "llamacpp": ["platform=openshift"], "kt-sglang": ["download.nodeSelector.pool=cpu"]}


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("chart", CHART_NAMES)
def test_generated_names_are_valid_for_any_release_name(helm, charts_dir, chart, release):
    result = helm.run("template", release, str(charts_dir / chart),
                      *[arg for item in EVERY_OBJECT[chart] for arg in ("--set", item)])
    assert result.returncode == 0, result.stderr
    for manifest in docs(result.stdout):
        validate_strict(manifest)
        assert not api_server_rules.errors(manifest), (manifest["kind"], api_server_rules.errors(manifest))


@pytest.fixture(scope="module")
def names_probe(charts_dir, tmp_path_factory):
    """The chart plus a template that renders the download Job's name for huge revisions."""
    chart = tmp_path_factory.mktemp("names") / "ktransformers"
    shutil.copytree(charts_dir / "ktransformers", chart)
    revisions = [1, 99999, 2**31 - 1, 2**63 - 1]
    lines = [f'  r{rev}: {{{{ include "ktransformers.suffixedName" (list . (printf "-download-r%d" {rev})) | quote }}}}'
             for rev in revisions]
    (chart / "templates" / "zz-names.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: names\ndata:\n" + "\n".join(lines) + "\n")
    return chart, revisions


@pytest.mark.parametrize("release", ["x" * 53, "a" * 51 + ".b", "a"])
def test_download_job_name_fits_a_label_for_any_revision(helm, names_probe, release):
    chart, revisions = names_probe
    rendered = docs(helm.template(chart, release).stdout)
    names = next(m for m in rendered if m["metadata"]["name"] == "names")["data"]
    for revision in revisions:
        name = names[f"r{revision}"]
        assert name.endswith(f"-download-r{revision}"), name
        assert api_server_rules.is_label_value(name) and api_server_rules.is_subdomain(name), name


def test_gpu_resource_name_is_quoted_even_past_the_schema(helm, charts_dir):
    """`#gpu` used to turn the GPU request into a comment, and a newline added another resource."""
    for name in ("#gpu", "nvidia.com/gpu\nmemory: 1Gi"):
        result = helm.run("template", "t", str(charts_dir / "vllm"), "--skip-schema-validation",
                          "--set-string", f"gpus.resourceName={name}")
        assert result.returncode == 0, result.stderr
        limits = engine_container(docs(result.stdout))["resources"]["limits"]
        assert limits[name] == 1 and set(limits) == {"memory", name}, limits


@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_floats_work_as_typed_with_set(request, charts_dir, binary):
    """`--set` passes 0.9 as the string "0.9"; the schema used to reject it."""
    helm = request.getfixturevalue(binary)
    ok = helm.run("template", "t", str(charts_dir / "vllm"), "--set", "engine.gpuMemoryUtilization=0.9")
    assert ok.returncode == 0, ok.stderr
    args = engine_container(docs(ok.stdout))["args"]
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.9"
    for bad in ("1.5", "0", "-0.1"):
        result = helm.run("template", "t", str(charts_dir / "vllm"), "--set", f"engine.gpuMemoryUtilization={bad}")
        assert result.returncode != 0
        assert "gpuMemoryUtilization" in result.stderr, result.stderr


def test_api_server_rules_reject_what_the_api_server_rejects():
    """The checker itself can fail (a permissive checker would make every test above pass)."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1a.b"},
               "spec": {"ports": [{"name": "http", "port": 80}], "selector": {"a": "b"}}}
    assert api_server_rules.errors(service)
    job = yaml.safe_load("""
kind: Job
metadata: {name: %s}
spec:
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: i, resources: {limits: {"#gpu": 1}}}]
""" % ("j" * 64))
    assert len(api_server_rules.errors(job)) == 2
