"""The versioning policy, enforced on the charts as they are and on the ledger as recorded.

    check(layout)   every problem, as sentences that say what to do (`make test` fails on any)
    record(layout)  append each chart's current version to the ledger, or refuse with the problems

A chart's version must move when its content moves; the step must be at least as big as the values
schema change requires (schema_diff.py), and at least minor when the engine (appVersion) changes;
each released version needs a changelog section.
"""

from __future__ import annotations

import datetime as dt

from . import changelog, schema_diff
from .errors import ReleaseError
from .ledger import ChartState, Entry, Layout, latest, load, save, sha256, snapshot_schema, write_snapshot
from .semver import Level, Version, bump_level

HOW_TO_BUMP = ("bump the chart's VERSION (constructs/leviathan/variants/), add a `## {next}` section to "
               "releases/{chart}/CHANGELOG.md, then run `make synth release-record`")


class RecordError(ReleaseError, RuntimeError):
    pass


def needed_bump(old_schema: dict, new_schema: dict, old_app: str, new_app: str) -> tuple[Level, list[str]]:
    """The smallest bump a content change needs (at least patch), with the reasons."""
    changes = schema_diff.diff(old_schema, new_schema)
    level = max(schema_diff.required_level(changes), Level.PATCH)
    reasons = [str(c) for c in sorted(changes, key=lambda c: -c.level) if c.level >= Level.MINOR]
    if old_app != new_app:
        level = max(level, Level.MINOR)
        reasons.insert(0, f"engine (appVersion) {old_app} -> {new_app} needs at least a minor bump")
    return level, reasons


def _reasons(reasons: list[str], limit: int = 8) -> str:
    shown = "; ".join(reasons[:limit])
    return shown + (f"; and {len(reasons) - limit} more" if len(reasons) > limit else "")


def step_problems(chart: str, old: Entry, old_schema: dict, new_version: str, new_app: str,
                  new_schema: dict, sections: dict | None) -> list[str]:
    """Problems with the step from the released `old` to `new_version`."""
    problems = []
    old_v, new_v = Version.parse(old.version), Version.parse(new_version)
    step = bump_level(old_v, new_v)
    if step is Level.NONE:
        return [f"{chart}: version {new_version} is not above the released {old.version}"]
    needed, reasons = needed_bump(old_schema, new_schema, old.appVersion, new_app)
    if step < needed:
        problems.append(f"{chart}: {old.version} -> {new_version} is a {step} bump, but the change needs a "
                        f"{needed} bump (use {old_v.bump(needed)} or higher): {_reasons(reasons)}")
    if sections is not None and not sections.get(new_version):
        problems.append(f"{chart}: releases/{chart}/CHANGELOG.md has no entries under `## {new_version}`: "
                        f"say what changed before recording it")
    return problems


def _current_problems(layout: Layout, state: ChartState, entries: list[Entry], sections: dict) -> list[str]:
    """Problems of the chart as it is now, against its last recorded version."""
    last = entries[-1]
    if state.version in {e.version for e in entries[:-1]} or Version.parse(state.version) < Version.parse(last.version):
        return [f"{state.name}: Chart.yaml says {state.version}, but {last.version} is already released: "
                f"versions only go up"]
    old_schema = snapshot_schema(layout, state.name, last.version)
    if state.version == last.version:
        if state.digest == last.digest:
            return []
        needed, reasons = needed_bump(old_schema, state.schema, last.appVersion, state.app_version)
        next_version = Version.parse(last.version).bump(needed)
        return [f"{state.name}: charts/{state.name} changed since {last.version} was recorded, but its version "
                f"is still {last.version}: " + HOW_TO_BUMP.format(next=next_version, chart=state.name)
                + f" (the change needs a {needed} bump, to {next_version} or higher"
                + (f": {_reasons(reasons)})" if reasons else ")")]
    return step_problems(state.name, last, old_schema, state.version, state.app_version, state.schema, sections)


def _ledger_problems(layout: Layout, chart: str, entries: list[Entry], sections: dict) -> list[str]:
    """Re-check the recorded history: snapshots present and intact, every step within the policy."""
    problems = []
    for index, entry in enumerate(entries):
        path = layout.snapshot(chart, entry.version) / "values.schema.json"
        if not path.exists() or sha256(path.read_bytes()) != entry.schema:
            problems.append(f"{chart}: {path.relative_to(layout.root)} is missing or differs from the schema "
                            f"recorded for {entry.version}")
            continue
        if not sections.get(entry.version):
            problems.append(f"{chart}: releases/{chart}/CHANGELOG.md has no entries under `## {entry.version}`")
        if index:
            previous = entries[index - 1]
            try:
                old_schema = snapshot_schema(layout, chart, previous.version)
            except FileNotFoundError:
                continue  # reported for `previous` above
            # sections=None: the changelog of each recorded version is checked once, above.
            problems += step_problems(chart, previous, old_schema, entry.version, entry.appVersion,
                                      snapshot_schema(layout, chart, entry.version), None)
    return problems


def check(layout: Layout = Layout()) -> list[str]:
    problems: list[str] = []
    ledger = load(layout)
    for chart in layout.chart_names():
        try:
            sections = changelog.load(layout.releases, chart)
        except changelog.ChangelogError as error:
            problems.append(str(error))
            continue
        state = ChartState.read(layout, chart)
        entries = ledger.get(chart)
        if not entries:
            problems.append(f"{chart}: charts/{chart} is not in releases/ledger.yaml: run `make release-record` "
                            f"to record its first release ({state.version})")
            continue
        problems += _ledger_problems(layout, chart, entries, sections)
        try:
            problems += _current_problems(layout, state, entries, sections)
        except FileNotFoundError:
            continue  # the missing snapshot is reported by _ledger_problems
        if state.version != entries[-1].version:
            problems.append(f"{chart}: {state.version} is not recorded in releases/ledger.yaml yet: run "
                            f"`make release-record`")
    return problems


def record(layout: Layout = Layout(), today: str | None = None, log=print, amend: bool = False) -> list[str]:
    """Append every chart's current version that is not recorded yet. All or nothing: on any problem
    nothing is written and RecordError lists them. Returns the `chart version` strings recorded.

    amend=True re-records the latest version of a chart whose content changed without a bump,
    replacing its entry: only for a version that was never published (e.g. when merged branches
    changed a chart before its first release went out)."""
    today = today or dt.datetime.now(dt.timezone.utc).date().isoformat()
    ledger = load(layout)
    problems: list[str] = []
    recorded: list[tuple[str, Entry]] = []
    for chart in layout.chart_names():
        state = ChartState.read(layout, chart)
        sections = changelog.load(layout.releases, chart)
        last = latest(ledger, chart)
        entry = Entry(state.version, state.app_version, today, state.digest, state.schema_digest, "first")
        if last is None:
            if not sections.get(state.version):
                problems.append(f"{chart}: releases/{chart}/CHANGELOG.md has no entries under `## {state.version}`")
            recorded.append((chart, entry))
            continue
        if state.version == last.version and state.digest == last.digest:
            continue
        if amend and state.version == last.version:
            ledger[chart].pop()
            previous = latest(ledger, chart)
            bump = "first" if previous is None else last.bump
            recorded.append((chart, Entry(**{**entry.__dict__, "date": last.date, "bump": bump})))
            log(f">> release-record: re-recording {chart} {last.version} (amend: it must never have been published)")
            continue
        current = _current_problems(layout, state, ledger[chart], sections)
        if current:
            problems += current
            continue
        old_schema = snapshot_schema(layout, chart, last.version)
        needed, _ = needed_bump(old_schema, state.schema, last.appVersion, state.app_version)
        recorded.append((chart, Entry(**{**entry.__dict__, "bump": str(needed)})))
    if problems:
        raise RecordError("nothing recorded:\n  " + "\n  ".join(problems))
    for chart, entry in recorded:
        ledger.setdefault(chart, []).append(entry)
        write_snapshot(layout, chart, entry.version)
        log(f">> release-record: {chart} {entry.version} (appVersion {entry.appVersion}, {entry.bump})")
    if recorded:
        save(layout, ledger)
    else:
        log(">> release-record: every chart's current version is already recorded")
    return [f"{chart} {entry.version}" for chart, entry in recorded]


def ensure_changelogs(layout: Layout = Layout(), log=print) -> list[str]:
    """Give a chart that has never been released its first changelog (so that synth can annotate it)."""
    written = []
    ledger = load(layout)
    for chart in layout.chart_names():
        path = changelog.path_for(layout.releases, chart)
        if chart in ledger or path.exists():
            continue
        state = ChartState.read(layout, chart)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(changelog.first_release(chart, state.version, state.app_version))
        log(f">> release-record: wrote {path.relative_to(layout.root)} (first release); edit it if you like")
        written.append(chart)
    return written
