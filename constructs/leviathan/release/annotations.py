"""What `make synth` adds to each chart for its releases: Artifact Hub annotations in Chart.yaml,
and the chart's CHANGELOG.md and LICENSE beside it.

    artifacthub.io/images    every image the chart runs by default, at its pinned tag
    artifacthub.io/changes   this version's entries from releases/<chart>/CHANGELOG.md
    artifacthub.io/license   the SPDX id of the repository's LICENSE (a test checks they agree)
    artifacthub.io/links     the seed-deployment problems the chart fixes (its README's section)
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .. import cyaml, versions
from . import changelog
from .ledger import ROOT

LICENSE_FILE = ROOT / "LICENSE"
LICENSE_SPDX = "Apache-2.0"
FIXES_HEADING = re.compile(r"^## (How this chart fixes the seed deployments?)\s*$", re.MULTILINE)
FIX_BULLET = re.compile(r"^\* \*\*(.+?)\.?\*\*", re.MULTILINE)


def pinned_images(values: dict, path: str = "") -> list[dict[str, str]]:
    """{name: value path, image: repository:tag} for every image block in the default values. An
    empty default tag means the chart picks the pinned flavour at render time (kt-sglang's CPU
    ISA): every pin of that repository in images/versions.yaml is listed then."""
    found = []
    if {"repository", "tag"} <= set(values):
        if values["tag"]:
            found.append({"name": path, "image": f"{values['repository']}:{values['tag']}"})
        else:
            found += [{"name": f"{path} ({pin.flavour or pin.name})", "image": pin.ref}
                      for pin in versions.images().values() if pin.repository == values["repository"]]
    for key, value in values.items():
        if isinstance(value, dict):
            found += pinned_images(value, f"{path}.{key}" if path else key)
    return found


def slug(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub, Artifact Hub) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")


def fix_links(home: str, readme_notes: str) -> list[dict[str, str]]:
    heading = FIXES_HEADING.search(readme_notes)
    if not heading:
        return []
    section = readme_notes[heading.end():].split("\n## ", 1)[0]
    url = f"{home}#{slug(heading.group(1))}"
    return [{"name": f"Fixes: {title}", "url": url} for title in FIX_BULLET.findall(section)]


def chart_annotations(name: str, version: str, home: str, values: dict, readme_notes: str,
                      releases: Path = ROOT / "releases") -> dict[str, str]:
    entries = changelog.load(releases, name).get(version, [])
    annotations = {}
    if entries:
        annotations["artifacthub.io/changes"] = _yaml(changelog.artifacthub_changes(entries))
    annotations["artifacthub.io/images"] = _yaml(pinned_images(values))
    annotations["artifacthub.io/license"] = LICENSE_SPDX
    links = fix_links(home, readme_notes)
    if links:
        annotations["artifacthub.io/links"] = _yaml(links)
    return annotations


def release_files(name: str, releases: Path = ROOT / "releases") -> dict[str, str]:
    """Files packaged with the chart: its changelog (when it has one) and the license."""
    files = {"LICENSE": LICENSE_FILE.read_text()}
    log = changelog.path_for(releases, name)
    if log.exists():
        files["CHANGELOG.md"] = log.read_text()
    return files


class _LiteralDumper(cyaml.SafeDumper):
    """Multi-line strings (the annotations' embedded YAML) as `|` blocks, readable in Chart.yaml."""


_LiteralDumper.add_representer(
    str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def _yaml(value) -> str:
    return cyaml.safe_dump(value, sort_keys=False, width=1000)


def dump_chart_yaml(doc: dict) -> str:
    return yaml.dump(doc, Dumper=_LiteralDumper, sort_keys=False, width=120)
