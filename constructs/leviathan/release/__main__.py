"""python -m leviathan.release {check,record,notes,package,publish}: see docs/releasing.md."""

from __future__ import annotations

import argparse
import subprocess
import sys

from .errors import ReleaseError
from .ledger import ROOT, Layout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leviathan.release")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="print every versioning problem (what make test enforces)")
    record_cmd = commands.add_parser("record", help="write first changelogs for new charts, synth, record versions")
    record_cmd.add_argument("--amend", action="store_true",
                            help="re-record a chart's latest version whose content changed (never-published only)")
    notes = commands.add_parser("notes", help="release notes between two released versions")
    notes.add_argument("chart")
    notes.add_argument("from_version")
    notes.add_argument("to_version")
    package = commands.add_parser("package", help="dist/: packages, bundles, index.yaml, SHA256SUMS")
    package.add_argument("--url", default="", help="base URL of the static repository (index.yaml urls)")
    publish = commands.add_parser("publish", help="push dist/ to oci://host:port/path, never overwriting")
    publish.add_argument("registry")
    publish.add_argument("--ca-file", default=None)
    publish.add_argument("--plain-http", action="store_true")
    args = parser.parse_args(argv)
    layout = Layout()

    try:
        return COMMANDS[args.command](args, layout)
    except ReleaseError as error:
        print(error, file=sys.stderr)
        return 1


def _check(args: argparse.Namespace, layout: Layout) -> int:
    from .policy import check
    problems = check(layout)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def _record(args: argparse.Namespace, layout: Layout) -> int:
    from .policy import ensure_changelogs, record
    ensure_changelogs(layout)
    # Chart.yaml carries the changelog (artifacthub.io/changes): synth after writing it.
    subprocess.run([sys.executable, str(ROOT / "main.py")], check=True, cwd=ROOT)
    record(layout, amend=args.amend)
    return 0


def _notes(args: argparse.Namespace, layout: Layout) -> int:
    from .notes import release_notes
    print(release_notes(args.chart, args.from_version, args.to_version, layout))
    return 0


def _package(args: argparse.Namespace, layout: Layout) -> int:
    from .package import package
    package(layout, url=args.url)
    return 0


def _publish(args: argparse.Namespace, layout: Layout) -> int:
    from .publish import Target, publish
    return publish(Target(args.registry.rstrip("/"), args.ca_file, args.plain_http), layout)


COMMANDS = {"check": _check, "record": _record, "notes": _notes, "package": _package, "publish": _publish}


if __name__ == "__main__":
    sys.exit(main())
