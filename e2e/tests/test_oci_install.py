"""Users' path through a release: `helm install` a chart version from the OCI registry into the e2e
cluster, `helm upgrade` to the next published version, `helm rollback`. Needs the cluster (mock
engine, fake GPUs); the cluster-free publishing checks are test_registry.py.

The next version is cut in a copy of the checkout as a maintainer would (bump, changelog entry,
record), so the registry holds two real, signed versions of the chart.
"""

from __future__ import annotations

import json

import pytest

from leviathan.release.ledger import ChartState
from leviathan.release.publish import Target
from leviathan_e2e.publishing import (copy_checkout, cut_patch_release, helm_isolated_env, package_and_publish,
                                      throwaway_key)
from leviathan_e2e.registry import LocalRegistry
from leviathan_e2e.release import REPO, Release, wait_for

pytestmark = pytest.mark.e2e
CHART = "ktransformers"


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """The chart's recorded version and a patch release after it, both published: (target, old, new)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in helm_isolated_env(tmp_path_factory.mktemp("helm-home")).items():
            patch.setenv(key, value)
        with (LocalRegistry(tmp_path_factory.mktemp("registry")) as registry,
              throwaway_key(tmp_path_factory.mktemp("keys") / "gnupg") as (sign_env, _)):
            target = Target(f"{registry.url}/charts", str(registry.ca_file))
            layout = copy_checkout(tmp_path_factory.mktemp("checkout"))
            old = ChartState.read(layout, CHART).version
            status, lines = package_and_publish(layout, sign_env, target)
            assert status == 0, lines
            major, minor, patch_level = (int(part) for part in old.split("."))
            new = f"{major}.{minor}.{patch_level + 1}"
            cut_patch_release(layout, CHART, new)
            status, lines = package_and_publish(layout, sign_env, target)
            assert status == 0, lines
            assert f">> publish: pushed {target.url}/{CHART}:{new} with its provenance" in lines
            yield target, old, new


def one_ready_engine_pod(release: Release) -> bool:
    pods = [p for p in release.engine_pods() if not p["metadata"].get("deletionTimestamp")]
    return len(pods) == 1 and release.ready(pods[0])


def deployed_chart(release: Release) -> str:
    listed = json.loads(release.helm("list", "-o", "json").stdout)
    return next(item["chart"] for item in listed if item["name"] == release.name)


def test_install_upgrade_rollback_from_the_registry(two_versions, kubectl, namespace, mock_engine_image, fake_gpus):
    target, old, new = two_versions
    release = Release(name="leviathan", chart=CHART, namespace=namespace, kubectl=kubectl)
    source = [f"{target.url}/{CHART}", "--ca-file", target.ca_file, "-f", str(REPO / "e2e" / "values" / f"{CHART}.yaml"),
              "--wait", "--timeout", "4m"]
    release.helm("install", release.name, *source, "--version", old)
    assert deployed_chart(release) == f"{CHART}-{old}"
    wait_for("the engine of the installed version ready", lambda: one_ready_engine_pod(release), timeout=120)

    release.helm("upgrade", release.name, *source, "--version", new)
    assert deployed_chart(release) == f"{CHART}-{new}"
    wait_for("the engine of the upgraded version ready", lambda: one_ready_engine_pod(release), timeout=120)

    release.helm("rollback", release.name, "1", "--wait", "--timeout", "4m")
    assert deployed_chart(release) == f"{CHART}-{old}"
    history = json.loads(release.helm("history", release.name, "-o", "json").stdout)
    assert [(h["revision"], h["chart"]) for h in history] == [
        (1, f"{CHART}-{old}"), (2, f"{CHART}-{new}"), (3, f"{CHART}-{old}")]
    release.helm("uninstall", release.name, "--wait", "--timeout", "2m")
