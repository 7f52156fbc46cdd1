"""The hand-written changelog of each chart: `releases/<chart>/CHANGELOG.md`.

    ## 1.2.0

    - added: `engine.fooBar`, ...
    - fixed: ...

One `## <version>` section per version, newest first; each entry is `- <kind>: <text>` with one
of Artifact Hub's kinds. `make synth` copies the file into the chart and writes the current
version's entries into Chart.yaml (`artifacthub.io/changes`); the release check requires a section
for every recorded version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ReleaseError

KINDS = ("added", "changed", "deprecated", "removed", "fixed", "security")
_SECTION = re.compile(r"^## (\S+)\s*$")
_ENTRY = re.compile(r"^- (\w+): (.+)$")

HEADER = """\
# Changelog of the `{chart}` chart

Newest first. Each entry is `- <kind>: <text>`, kind one of
{kinds}.
Before `make release-record`, add a `## <version>` section for the version you bumped to
(docs/releasing.md).
"""


class ChangelogError(ReleaseError, ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    kind: str
    description: str


def path_for(releases: Path, chart: str) -> Path:
    return releases / chart / "CHANGELOG.md"


def parse(text: str, where: str = "CHANGELOG.md") -> dict[str, list[Entry]]:
    """version -> entries, in file order. Continuation lines (indented) join the entry above."""
    sections: dict[str, list[Entry]] = {}
    current: list[Entry] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if match := _SECTION.match(line):
            if match.group(1) in sections:
                raise ChangelogError(f"{where}:{number}: version {match.group(1)} has two sections")
            current = sections.setdefault(match.group(1), [])
        elif current is not None and line.startswith("- "):
            match = _ENTRY.match(line)
            if not match or match.group(1) not in KINDS:
                raise ChangelogError(f"{where}:{number}: write entries as `- <kind>: <text>` with kind one of "
                                     f"{', '.join(KINDS)}; got {line!r}")
            current.append(Entry(match.group(1), match.group(2).strip()))
        elif current and line.startswith("  ") and line.strip():
            last = current[-1]
            current[-1] = Entry(last.kind, f"{last.description} {line.strip()}")
    return sections


def load(releases: Path, chart: str) -> dict[str, list[Entry]]:
    path = path_for(releases, chart)
    if not path.exists():
        return {}
    return parse(path.read_text(), str(path))


def first_release(chart: str, version: str, app_version: str) -> str:
    """The changelog `make release-record` writes for a chart it has never seen."""
    return (HEADER.format(chart=chart, kinds=", ".join(KINDS))
            + f"\n## {version}\n\n- added: first release of the `{chart}` chart (engine {app_version})\n")


def artifacthub_changes(entries: list[Entry]) -> list[dict[str, str]]:
    """The `artifacthub.io/changes` annotation's list (kind + description)."""
    return [{"kind": entry.kind, "description": entry.description} for entry in entries]
