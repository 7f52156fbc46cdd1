"""Publishing to a real OCI registry: Debian's docker-registry (CNCF distribution) on loopback with
TLS from a throwaway CA. Every chart is pushed signed, pulled back with `helm pull --verify`, never
overwritten, and its rendered bundle is fetched as an artifact and checked against its SHA256SUMS.

No Kubernetes cluster is needed: `scripts/e2e -k registry` (or `pytest e2e/tests/test_registry.py
-m e2e`) runs these alone. The install/upgrade/rollback from the registry is test_oci_install.py.
"""

from __future__ import annotations

import dataclasses
import subprocess
import tarfile

import pytest
import yaml

from leviathan.release import ledger
from leviathan.release.oci import Reference, Registry
from leviathan.release.package import helm
from leviathan.release.publish import Target, publish
from leviathan_e2e.publishing import copy_checkout, helm_isolated_env, package_and_publish, throwaway_key
from leviathan_e2e.registry import LocalRegistry

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        for key, value in helm_isolated_env(tmp_path_factory.mktemp("helm-home")).items():
            patch.setenv(key, value)
        yield


@pytest.fixture(scope="module")
def registry(tmp_path_factory, env):
    with LocalRegistry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="module")
def published(tmp_path_factory, registry):
    """The checkout's charts, packaged signed in a copy and published: (layout, target, keyring, log)."""
    with throwaway_key(tmp_path_factory.mktemp("keys") / "gnupg") as (sign_env, keyring):
        layout = copy_checkout(tmp_path_factory.mktemp("checkout"))
        target = Target(f"{registry.url}/charts", str(registry.ca_file))
        status, lines = package_and_publish(layout, sign_env, target)
        assert status == 0, "\n".join(lines)
        yield layout, target, keyring, lines, sign_env


def packages(layout) -> list[tuple[str, str]]:
    entries = yaml.safe_load((layout.dist / "index.yaml").read_text())["entries"]
    return [(chart, item["version"]) for chart in sorted(entries) for item in entries[chart]]


def helm_run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([helm(), *map(str, args)], capture_output=True, text=True)


def test_every_chart_and_bundle_is_published(published):
    layout, target, _, lines, _ = published
    assert len(packages(layout)) == len(layout.chart_names()) >= 2
    for chart, version in packages(layout):
        assert f">> publish: pushed {target.url}/{chart}:{version} with its provenance" in lines
        shown = helm_run("show", "chart", f"{target.url}/{chart}", "--version", version, "--ca-file", target.ca_file)
        assert shown.returncode == 0, shown.stderr
        assert yaml.safe_load(shown.stdout)["version"] == version


def test_helm_pull_verify_checks_the_signature(published, tmp_path):
    layout, target, keyring, _, _ = published
    chart, version = packages(layout)[0]
    pulled = helm_run("pull", f"{target.url}/{chart}", "--version", version, "--ca-file", target.ca_file,
                      "--verify", "--keyring", keyring, "-d", tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    assert "Chart Hash Verified" in pulled.stdout
    archive = f"{chart}-{version}.tgz"
    assert (tmp_path / archive).read_bytes() == (layout.dist / archive).read_bytes()
    # A keyring without the signer's key is refused.
    (tmp_path / "other").mkdir()
    stranger = helm_run("pull", f"{target.url}/{chart}", "--version", version, "--ca-file", target.ca_file,
                        "--verify", "--keyring", "/dev/null", "-d", tmp_path / "other")
    assert stranger.returncode != 0


def test_republishing_never_overwrites(published, tmp_path):
    layout, target, _, _, sign_env = published
    # The same bytes again: nothing is pushed, and the run says so.
    again: list[str] = []
    assert publish(target, layout, log=again.append) == 0
    assert not [line for line in again if "pushed" in line and "not pushed" not in line], again
    assert sum("already published with the same bytes" in line for line in again) == 2 * len(packages(layout))

    # Other bytes under a published version (the same chart packaged on another day): refused, exit 1,
    # and the registry still serves the original.
    other = copy_checkout(tmp_path / "other")
    first_chart, version = packages(layout)[0]
    history = ledger.load(other)
    history[first_chart][-1] = dataclasses.replace(history[first_chart][-1], date="1999-01-01")
    ledger.save(other, history)
    status, lines = package_and_publish(other, sign_env, target)
    assert status == 1
    assert any(line.startswith(f">> publish: REFUSED {target.url}/{first_chart}:{version}: that version is already "
                               "published with other content") for line in lines), lines
    pulled = helm_run("pull", f"{target.url}/{first_chart}", "--version", version, "--ca-file", target.ca_file,
                      "-d", tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    archive = f"{first_chart}-{version}.tgz"
    assert (tmp_path / archive).read_bytes() == (layout.dist / archive).read_bytes()
    assert (tmp_path / archive).read_bytes() != (other.dist / archive).read_bytes()


def test_bundle_artifact_is_fetched_and_its_checksum_verified(published, tmp_path):
    layout, target, _, _, _ = published
    for chart, version in packages(layout):
        bundles = Registry(Reference.parse(target.url).child(f"bundles/{chart}"), target.ca_file)
        files = bundles.pull_artifact(version, tmp_path / chart)
        assert sorted(p.name for p in files) == sorted(["SHA256SUMS", f"{chart}-{version}-rendered.tar.gz"])
        check = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=tmp_path / chart,
                               capture_output=True, text=True)
        assert check.returncode == 0 and ": OK" in check.stdout, check.stdout + check.stderr
        with tarfile.open(tmp_path / chart / f"{chart}-{version}-rendered.tar.gz") as tar:
            tar.extractall(tmp_path / chart, filter="data")
        extracted = tmp_path / chart / f"{chart}-{version}"
        expected = sorted((layout.rendered / chart).glob("*.yaml"))
        assert sorted(p.name for p in extracted.iterdir()) == [p.name for p in expected]
        for path in expected:
            assert (extracted / path.name).read_bytes() == path.read_bytes()
        # A corrupted download fails the check.
        tarball = tmp_path / chart / f"{chart}-{version}-rendered.tar.gz"
        tarball.write_bytes(tarball.read_bytes() + b"\0")
        assert subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=tmp_path / chart,
                              capture_output=True).returncode != 0
