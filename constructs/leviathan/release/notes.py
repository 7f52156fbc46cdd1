"""`make release-notes CHART=x FROM=a TO=b`: what changed between two released versions.

For each version after FROM up to TO: its date, engine and bump (from the ledger), its changelog
entries, and the values-schema changes computed from the recorded snapshots, so that the notes
cannot forget a renamed value that the changelog did.
"""

from __future__ import annotations

from . import changelog, schema_diff
from .errors import ReleaseError
from .ledger import Layout, load, snapshot_schema
from .semver import Level, Version


class NotesError(ReleaseError, ValueError):
    pass


def release_notes(chart: str, from_version: str, to_version: str, layout: Layout = Layout()) -> str:
    entries = load(layout).get(chart)
    if not entries:
        raise NotesError(f"{chart} has no releases in releases/ledger.yaml")
    known = [e.version for e in entries]
    for version in (from_version, to_version):
        if version not in known:
            raise NotesError(f"{chart} {version} is not released; released: {', '.join(known)}")
    low, high = Version.parse(from_version), Version.parse(to_version)
    if high <= low:
        raise NotesError(f"TO ({to_version}) must be above FROM ({from_version})")
    sections = changelog.load(layout.releases, chart)
    lines = [f"# {chart} {from_version} -> {to_version}", ""]
    for previous, entry in zip(entries, entries[1:]):
        if not low < Version.parse(entry.version) <= high:
            continue
        engine = (f"engine {previous.appVersion} -> {entry.appVersion}" if previous.appVersion != entry.appVersion
                  else f"engine {entry.appVersion}")
        lines += [f"## {entry.version} ({entry.date}, {entry.bump} bump, {engine})", ""]
        lines += [f"- {e.kind}: {e.description}" for e in sections.get(entry.version, [])]
        changes = schema_diff.diff(snapshot_schema(layout, chart, previous.version),
                                   snapshot_schema(layout, chart, entry.version))
        visible = [c for c in changes if c.level >= Level.MINOR]
        if visible:
            lines += ["", "Values changes (from the schemas):"]
            lines += [f"- {change}" for change in sorted(visible, key=lambda c: (-c.level, c.path))]
        minor_edits = len(changes) - len(visible)
        if minor_edits:
            lines += [f"- and {minor_edits} patch-level schema edits (descriptions, defaults, wider types)"]
        lines.append("")
    return "\n".join(lines)
