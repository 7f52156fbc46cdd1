"""`make package`: the recorded charts as byte-reproducible, optionally signed packages in dist/.

    dist/<chart>-<version>.tgz            `helm package` (official helm 4) [+ .prov with --sign]
    dist/<chart>-<version>-rendered.tar.gz  the plain bundles rendered/<chart>/*.yaml of that version
    dist/index.yaml                        a static chart repository index
    dist/SHA256SUMS                        every file above but the .prov signatures

Helm 4 writes each file's own mtime into the archive (and a zero gzip mtime), so the packages are
byte-identical when the chart files are: the charts are staged with every mtime set to the day the
version was recorded (the ledger's date) and fixed modes, then packaged. `canonical_problems()`
re-reads each archive to prove it. Only recorded versions are packaged: a package's version must
name exactly the content the ledger recorded for it.

Signing (`helm package --sign`) takes its key from the environment:
    LEVIATHAN_SIGN_KEY              the key's name (uid) in the keyring
    LEVIATHAN_SIGN_KEYRING          the secret keyring (legacy format: `gpg --export-secret-keys > secring.gpg`)
    LEVIATHAN_SIGN_PASSPHRASE_FILE  optional, for a key with a passphrase
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import yaml

from .. import tools
from .errors import ReleaseError
from .ledger import ROOT, ChartState, Layout, load


class PackageError(ReleaseError, RuntimeError):
    pass


def helm() -> str:
    try:
        return tools.helm_binary()
    except tools.ToolNotFound as error:
        raise PackageError(str(error)) from error


def epoch_of(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc).timestamp())


def sign_args(env: dict = os.environ) -> list[str]:
    key = env.get("LEVIATHAN_SIGN_KEY")
    if not key:
        return []
    keyring = env.get("LEVIATHAN_SIGN_KEYRING", "")
    if not keyring or not Path(keyring).is_file():
        raise PackageError(f"LEVIATHAN_SIGN_KEY is set but LEVIATHAN_SIGN_KEYRING ({keyring or 'unset'}) is not a "
                           f"file: export the secret key with `gpg --export-secret-keys > secring.gpg`")
    args = ["--sign", "--key", key, "--keyring", keyring]
    if env.get("LEVIATHAN_SIGN_PASSPHRASE_FILE"):
        args += ["--passphrase-file", env["LEVIATHAN_SIGN_PASSPHRASE_FILE"]]
    return args


def stage(source: Path, dest: Path, epoch: int) -> None:
    """Copy a chart with fixed modes and mtimes: what the archive records is then the content only."""
    shutil.copytree(source, dest)
    for path in sorted(dest.rglob("*"), reverse=True):
        path.chmod(0o755 if path.is_dir() else 0o644)
        os.utime(path, (epoch, epoch))
    os.utime(dest, (epoch, epoch))


def canonical_problems(archive: Path, epoch: int) -> list[str]:
    data = archive.read_bytes()
    problems = []
    if data[4:8] != b"\0\0\0\0":
        problems.append(f"{archive.name}: gzip header carries a timestamp")
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    for member in members:
        if member.mtime != epoch or member.uid or member.gid:
            problems.append(f"{archive.name}: {member.name} has mtime {member.mtime} uid {member.uid}")
    return problems


def bundle_tarball(rendered: Path, dest: Path, prefix: str, epoch: int) -> None:
    """A tar.gz of rendered/<chart>/*.yaml whose bytes depend on their content only."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        folder = tarfile.TarInfo(prefix)
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, epoch
        tar.addfile(folder)
        for path in sorted(rendered.glob("*.yaml")):
            info = tarfile.TarInfo(f"{prefix}/{path.name}")
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, epoch
            tar.addfile(info, io.BytesIO(data))
    with dest.open("wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())


def sha256_hex(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def index_entry(chart_yaml: dict, archive: Path, day: str, url: str) -> dict:
    entry = {**chart_yaml, "created": f"{day}T00:00:00Z", "digest": sha256_hex(archive),
             "urls": [f"{url.rstrip('/')}/{archive.name}" if url else archive.name]}
    return entry


def package(layout: Layout = Layout(), url: str = "", env: dict = os.environ, log=print) -> list[Path]:
    """Package every chart into layout.dist (emptied first). Returns the files written."""
    ledger = load(layout)
    unrecorded = []
    charts = []
    for chart in layout.chart_names():
        state = ChartState.read(layout, chart)
        last = (ledger.get(chart) or [None])[-1]
        if last is None or last.version != state.version or last.digest != state.digest:
            unrecorded.append(f"{chart} {state.version}")
        else:
            charts.append((chart, last))
    if unrecorded:
        raise PackageError(f"not recorded in releases/ledger.yaml: {', '.join(unrecorded)}. Only recorded versions "
                           f"are packaged: run `make test` to see why, then `make release-record`")
    signing = sign_args(env)
    dist = layout.dist
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir(parents=True)
    index: dict[str, list] = {}
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="leviathan-package-") as tmp:
        for chart, entry in charts:
            epoch = epoch_of(entry.date)
            staged = Path(tmp) / chart
            stage(layout.charts / chart, staged, epoch)
            result = subprocess.run([helm(), "package", str(staged), "-d", str(dist), *signing],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise PackageError(f"helm package {chart} failed:\n{result.stderr}")
            archive = dist / f"{chart}-{entry.version}.tgz"
            problems = canonical_problems(archive, epoch)
            if problems:
                raise PackageError("helm wrote a non-reproducible archive: " + "; ".join(problems))
            bundle = dist / f"{chart}-{entry.version}-rendered.tar.gz"
            bundle_tarball(layout.rendered / chart, bundle, f"{chart}-{entry.version}", epoch)
            meta = yaml.safe_load((layout.charts / chart / "Chart.yaml").read_text())
            index.setdefault(chart, []).append(index_entry(meta, archive, entry.date, url))
            written += [archive, bundle] + ([archive.with_name(archive.name + ".prov")] if signing else [])
            log(f">> package: {archive.name} sha256:{sha256_hex(archive)}{' (signed)' if signing else ''}")
    generated = max((e["created"] for entries in index.values() for e in entries), default="")
    (dist / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": index, "generated": generated},
                                                    sort_keys=False, width=120))
    written.append(dist / "index.yaml")
    # .prov files stay out: a signature differs at every signing, the sums should not.
    sums = "".join(f"{sha256_hex(p)}  {p.name}\n" for p in sorted(written) if p.suffix != ".prov")
    (dist / "SHA256SUMS").write_text(sums)
    log(f">> package: {len(charts)} charts, index.yaml and SHA256SUMS in {dist}")
    return written + [dist / "SHA256SUMS"]
