"""A release cut end to end for the registry e2e: a copy of the checkout, a throwaway signing key,
`make package` (signed) and `make publish` to a LocalRegistry, all through leviathan.release.

The copy keeps the tests off the checkout's ledger and dist/; a second version of a chart is cut
in the copy the way a maintainer would (bump, changelog entry, synth-equivalent, record).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import yaml

from leviathan.release.ledger import Layout
from leviathan.release.package import package
from leviathan.release.policy import record
from leviathan.release.publish import Target, publish

from .release import REPO


def quiet(*_) -> None:
    pass


def copy_checkout(dest: Path) -> Layout:
    for part in ("charts", "rendered", "releases"):
        shutil.copytree(REPO / part, dest / part)
    return Layout(dest)


@contextmanager
def throwaway_key(home: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A fresh GnuPG key without passphrase: (the LEVIATHAN_SIGN_* environment, the public keyring).
    gpg starts a gpg-agent daemon for the home; it is stopped when the block ends."""
    home.mkdir(mode=0o700, parents=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    try:
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
                        "Leviathan E2E <e2e@leviathan.invalid>", "rsa2048", "sign", "never"],
                       env=env, check=True, capture_output=True)
        # helm reads the legacy keyring format, which `--export-secret-keys` writes.
        for name, flag in (("secring.gpg", "--export-secret-keys"), ("pubring.gpg", "--export")):
            (home / name).write_bytes(subprocess.run(["gpg", flag], env=env, check=True, capture_output=True).stdout)
        yield ({"LEVIATHAN_SIGN_KEY": "Leviathan E2E", "LEVIATHAN_SIGN_KEYRING": str(home / "secring.gpg")},
               home / "pubring.gpg")
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)


def cut_patch_release(layout: Layout, chart: str, version: str) -> None:
    """Bump `chart` to `version` with a changelog entry and record it, as `make release-record` does."""
    chart_yaml = layout.charts / chart / "Chart.yaml"
    meta = yaml.safe_load(chart_yaml.read_text())
    meta["version"] = version
    chart_yaml.write_text(yaml.safe_dump(meta, sort_keys=False))
    log = layout.releases / chart / "CHANGELOG.md"
    text = log.read_text()
    first = text.index("\n## ")
    log.write_text(f"{text[:first]}\n## {version}\n\n- changed: e2e patch release\n{text[first:]}")
    shutil.copy(log, layout.charts / chart / "CHANGELOG.md")
    record(layout, log=quiet)


def package_and_publish(layout: Layout, sign_env: dict[str, str], target: Target) -> tuple[int, list[str]]:
    lines: list[str] = []
    package(layout, env=sign_env, log=quiet)
    return publish(target, layout, log=lines.append), lines


def helm_isolated_env(base: Path) -> dict[str, str]:
    """helm's config, cache and data (registry logins, pulled charts) under `base`, never ~/."""
    return {"HELM_CONFIG_HOME": str(base / "config"), "HELM_CACHE_HOME": str(base / "cache"),
            "HELM_DATA_HOME": str(base / "data")}
