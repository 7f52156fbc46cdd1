"""make package: byte-identical packages across runs and checkouts, accepted by the official helm,
a static repository index helm can pull from, and `helm package --sign` with a throwaway key."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import tarfile
import threading

import pytest

from leviathan.release.package import PackageError, helm, package
from leviathan_e2e.publishing import quiet, throwaway_key

from .conftest import copy_layout, set_version


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True, **kwargs)


@pytest.fixture(scope="module")
def two_packagings(tmp_path_factory):
    """The same charts packaged twice from two copies made at different times (other mtimes)."""
    first = copy_layout(tmp_path_factory.mktemp("first"))
    package(first, log=quiet)
    second = copy_layout(tmp_path_factory.mktemp("second"))
    for path in second.charts.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    package(second, log=quiet)
    return first, second


def test_two_packagings_are_byte_identical(two_packagings):
    first, second = two_packagings
    names = sorted(p.name for p in first.dist.iterdir())
    assert names == sorted(p.name for p in second.dist.iterdir())
    assert {"index.yaml", "SHA256SUMS", "vllm-0.1.0.tgz", "vllm-0.1.0-rendered.tar.gz"} <= set(names)
    for name in names:
        assert (first.dist / name).read_bytes() == (second.dist / name).read_bytes(), name


def test_archives_carry_no_time_or_owner_of_the_build(two_packagings):
    for archive in two_packagings[0].dist.glob("*.tgz"):
        assert archive.read_bytes()[4:8] == b"\0\0\0\0"  # gzip MTIME
        with tarfile.open(archive) as tar:
            assert {(m.mtime, m.uid, m.gid) for m in tar.getmembers()} == {(tar.getmembers()[0].mtime, 0, 0)}


def test_helm_accepts_the_packages(two_packagings):
    dist = two_packagings[0].dist
    for archive in sorted(dist.glob("*.tgz")):
        run(helm(), "lint", archive)
        chart = run(helm(), "show", "chart", archive).stdout
        assert "artifacthub.io/license: Apache-2.0" in chart
        name = archive.name.rsplit("-", 1)[0]
        rendered = run(helm(), "template", name, archive, "--skip-tests").stdout
        assert rendered == (two_packagings[0].rendered / name / "default.yaml").read_text()
        run(helm(), "install", name, archive, "--dry-run=client")


def test_sha256sums_cover_every_file(two_packagings):
    dist = two_packagings[0].dist
    run("sha256sum", "--check", "--strict", "SHA256SUMS", cwd=dist)
    listed = {line.split()[1] for line in (dist / "SHA256SUMS").read_text().splitlines()}
    assert listed == {p.name for p in dist.iterdir()} - {"SHA256SUMS"}


def test_helm_pulls_from_the_static_index(two_packagings, tmp_path):
    dist = two_packagings[0].dist
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(dist))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**os.environ, "HELM_CONFIG_HOME": str(tmp_path / "c"), "HELM_CACHE_HOME": str(tmp_path / "k"),
               "HELM_DATA_HOME": str(tmp_path / "d")}
        run(helm(), "pull", "vllm", "--repo", f"http://127.0.0.1:{server.server_port}", "--version", "0.1.0",
            "-d", tmp_path, env=env)
    finally:
        server.shutdown()
    assert (tmp_path / "vllm-0.1.0.tgz").read_bytes() == (dist / "vllm-0.1.0.tgz").read_bytes()


def test_an_unrecorded_version_is_not_packaged(tmp_path):
    layout = copy_layout(tmp_path)
    set_version(layout, "vllm", "0.1.1")
    with pytest.raises(PackageError, match="not recorded in releases/ledger.yaml: vllm 0.1.1"):
        package(layout, log=quiet)


def test_signed_packages_verify_and_keep_their_bytes(two_packagings, tmp_path):
    with throwaway_key(tmp_path / "gnupg") as (sign_env, public):
        layout = copy_layout(tmp_path / "signed")
        package(layout, env=sign_env, log=quiet)
    for archive in sorted(layout.dist.glob("*.tgz")):
        assert archive.with_name(archive.name + ".prov").is_file()
        assert "Chart Hash Verified" in run(helm(), "verify", "--keyring", public, archive).stdout
        assert archive.read_bytes() == (two_packagings[0].dist / archive.name).read_bytes()
    tampered = layout.dist / "vllm-0.1.0.tgz"
    tampered.write_bytes(tampered.read_bytes() + b"\0")
    assert subprocess.run([helm(), "verify", "--keyring", str(public), str(tampered)]).returncode != 0


def test_a_signing_key_without_keyring_is_refused(tmp_path):
    with pytest.raises(PackageError, match="LEVIATHAN_SIGN_KEYRING"):
        package(copy_layout(tmp_path), env={"LEVIATHAN_SIGN_KEY": "x"}, log=quiet)
