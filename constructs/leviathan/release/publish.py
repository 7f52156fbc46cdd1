"""`make publish REGISTRY=oci://host:port/path [CA_FILE=...]`: push the packaged releases in dist/.

    <REGISTRY>/<chart>:<version>           the chart (helm push; its .prov too when signed)
    <REGISTRY>/bundles/<chart>:<version>   the rendered bundles: <chart>-<version>-rendered.tar.gz
                                           and a SHA256SUMS for it, as one OCI artifact

A published version is never overwritten. Before each push, `helm pull` (for a chart) or the
manifest (for a bundle) tells whether the version is already there: with the same bytes, nothing
is pushed and the run says so; with different bytes, the run refuses it, says so, and exits 1
(a chart changed without a version bump would otherwise replace what users pinned).
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from .ledger import Layout
from .oci import TITLE, OciError, Reference, Registry, digest_of
from .package import helm, sha256_hex


@dataclass(frozen=True)
class Target:
    url: str
    ca_file: str | None = None
    plain_http: bool = False

    def helm_flags(self) -> list[str]:
        return (["--ca-file", self.ca_file] if self.ca_file else []) + (["--plain-http"] if self.plain_http else [])


def published_chart(target: Target, chart: str, version: str, into: Path) -> Path | None:
    """The chart archive already at <url>/<chart>:<version>, pulled into `into`; None when absent."""
    into.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([helm(), "pull", f"{target.url}/{chart}", "--version", version, "-d", str(into),
                             *target.helm_flags()], capture_output=True, text=True)
    if result.returncode == 0:
        return into / f"{chart}-{version}.tgz"
    if result.stderr.strip().endswith("not found"):
        return None
    raise OciError(f"cannot tell whether {chart} {version} is published: {result.stderr.strip()}")


def _packages(dist: Path) -> list[tuple[str, str]]:
    index = dist / "index.yaml"
    if not index.exists():
        raise OciError(f"{index} is missing: run `make package` first")
    entries = yaml.safe_load(index.read_text())["entries"]
    return [(chart, item["version"]) for chart in sorted(entries) for item in entries[chart]]


def publish_chart(target: Target, dist: Path, chart: str, version: str, work: Path, log) -> bool:
    """Push one chart unless that version is there; False when it is there with other bytes."""
    archive = dist / f"{chart}-{version}.tgz"
    ref = f"{target.url}/{chart}:{version}"
    existing = published_chart(target, chart, version, work / chart)
    if existing is not None:
        if existing.read_bytes() == archive.read_bytes():
            log(f">> publish: {ref} is already published with the same bytes: not pushed (never overwritten)")
            return True
        log(f">> publish: REFUSED {ref}: that version is already published with other content "
            f"(sha256:{sha256_hex(existing)}, ours sha256:{sha256_hex(archive)}); a published version is never "
            f"overwritten: bump the chart version")
        return False
    result = subprocess.run([helm(), "push", str(archive), target.url, *target.helm_flags()],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise OciError(f"helm push {archive.name} failed: {result.stderr.strip()}")
    log(f">> publish: pushed {ref}{' with its provenance' if archive.with_name(archive.name + '.prov').exists() else ''}")
    return True


def publish_bundle(target: Target, dist: Path, chart: str, version: str, work: Path, log) -> bool:
    tarball = dist / f"{chart}-{version}-rendered.tar.gz"
    sums = work / f"{chart}-{version}" / "SHA256SUMS"
    sums.parent.mkdir(parents=True, exist_ok=True)
    sums.write_text(f"{sha256_hex(tarball)}  {tarball.name}\n")
    bundle_ref = Reference.parse(target.url).child(f"bundles/{chart}")
    registry = Registry(bundle_ref, target.ca_file, target.plain_http)
    wanted = {tarball.name: digest_of(tarball.read_bytes()), "SHA256SUMS": digest_of(sums.read_bytes())}
    existing = registry.manifest(version)
    if existing is not None:
        there = {layer["annotations"][TITLE]: layer["digest"] for layer in existing.get("layers", [])}
        if there == wanted:
            log(f">> publish: {bundle_ref}:{version} is already published with the same bytes: not pushed")
            return True
        log(f">> publish: REFUSED {bundle_ref}:{version}: already published with other content; a published "
            f"version is never overwritten: bump the chart version")
        return False
    registry.push_artifact(version, [tarball, sums], {
        "org.opencontainers.image.title": f"{chart}-{version}-rendered",
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.description": f"plain manifests of the {chart} chart {version} "
                                                f"(rendered/{chart}/*.yaml), for kubectl/oc apply",
    })
    log(f">> publish: pushed {bundle_ref}:{version} ({tarball.name} + SHA256SUMS)")
    return True


def publish(target: Target, layout: Layout = Layout(), log=print) -> int:
    """Publish every package in dist/; 0 when all are there afterwards, 1 when any was refused."""
    refused = 0
    with tempfile.TemporaryDirectory(prefix="leviathan-publish-") as tmp:
        for chart, version in _packages(layout.dist):
            work = Path(tmp) / f"{chart}-{version}"
            refused += not publish_chart(target, layout.dist, chart, version, work, log)
            refused += not publish_bundle(target, layout.dist, chart, version, work, log)
    if refused:
        log(f">> publish: {refused} refused (see above): nothing was overwritten")
    return 1 if refused else 0
