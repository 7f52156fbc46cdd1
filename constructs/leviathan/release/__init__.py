"""Versioned releases of the charts: the ledger and its semver policy, changelogs, reproducible
packages, and publishing to an OCI registry. Entry point: `python -m leviathan.release` (the
Makefile's release-record, release-notes, package and publish targets); docs/releasing.md.

    semver.py       versions and bump sizes
    schema_diff.py  how big a values-schema change is
    changelog.py    releases/<chart>/CHANGELOG.md
    ledger.py       releases/ledger.yaml and the per-version snapshots
    policy.py       check (make test) and record (make release-record)
    notes.py        release notes between two versions
    annotations.py  Chart.yaml's Artifact Hub annotations, CHANGELOG.md and LICENSE in each chart
    package.py      dist/: reproducible (signed) packages, bundles, index.yaml, SHA256SUMS
    oci.py          the OCI distribution calls that push and fetch the bundle artifacts
    publish.py      make publish
"""
