"""make test's versioning gate: the checkout passes it, and each way of breaking the policy fails it
with a sentence that says what to do. Every case works on a copy (conftest.layout)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from leviathan.release import changelog
from leviathan.release.ledger import Layout, load
from leviathan.release.notes import release_notes
from leviathan.release.policy import RecordError, check, ensure_changelogs, record

from .conftest import add_changelog, edit_schema, set_version


def new_optional_value(schema: dict) -> None:
    schema["properties"]["service"]["properties"]["loadBalancerClass"] = {"type": "string", "default": ""}


def remove_value(schema: dict) -> None:
    del schema["properties"]["service"]["properties"]["nodePort"]


def test_every_chart_is_released_as_it_is():
    """The gate itself: a chart whose content changed without a bump, a bump without a changelog
    entry or too small for its schema change, or an unrecorded chart fails here."""
    assert check(Layout()) == []


def test_a_content_change_without_a_bump_fails(layout):
    service = layout.charts / "vllm" / "templates" / "service.yaml"
    service.write_text(service.read_text() + "# a change\n")
    problems = check(layout)
    assert len(problems) == 1
    assert "charts/vllm changed since 0.1.0 was recorded, but its version is still 0.1.0" in problems[0]
    assert "make synth release-record" in problems[0] and "patch bump, to 0.1.1" in problems[0]
    with pytest.raises(RecordError, match="version is still 0.1.0"):
        record(layout, log=lambda *_: None)


def test_a_bump_without_a_changelog_entry_fails(layout):
    set_version(layout, "vllm", "0.1.1")
    problems = check(layout)
    assert any("has no entries under `## 0.1.1`" in p for p in problems), problems
    with pytest.raises(RecordError, match="no entries under `## 0.1.1`"):
        record(layout, log=lambda *_: None)


def test_removing_a_value_needs_a_major_bump(layout):
    edit_schema(layout, "vllm", remove_value)
    set_version(layout, "vllm", "0.2.0")
    add_changelog(layout, "vllm", "0.2.0", "- removed: service.nodePort")
    problems = check(layout)
    assert any("0.1.0 -> 0.2.0 is a minor bump, but the change needs a major bump (use 1.0.0 or higher)" in p
               and "`service.nodePort` removed or renamed" in p for p in problems), problems


def test_a_new_optional_value_needs_a_minor_bump(layout):
    edit_schema(layout, "vllm", new_optional_value)
    set_version(layout, "vllm", "0.1.1")
    add_changelog(layout, "vllm", "0.1.1", "- added: service.loadBalancerClass")
    problems = check(layout)
    assert any("is a patch bump, but the change needs a minor bump (use 0.2.0" in p for p in problems), problems


def test_an_engine_bump_needs_a_minor_bump(layout):
    set_version(layout, "vllm", "0.1.1", app_version="0.15.0")
    add_changelog(layout, "vllm", "0.1.1", "- changed: vLLM 0.15.0")
    problems = check(layout)
    assert any("engine (appVersion) 0.14.1 -> 0.15.0 needs at least a minor bump" in p for p in problems), problems


def test_a_big_enough_bump_records_and_passes(layout):
    edit_schema(layout, "vllm", new_optional_value)
    set_version(layout, "vllm", "0.2.0")
    add_changelog(layout, "vllm", "0.2.0", "- added: `service.loadBalancerClass`")
    assert check(layout) == ["vllm: 0.2.0 is not recorded in releases/ledger.yaml yet: run `make release-record`"]
    assert record(layout, today="2030-01-02", log=lambda *_: None) == ["vllm 0.2.0"]
    assert check(layout) == []
    entry = load(layout)["vllm"][-1]
    assert (entry.version, entry.bump, entry.date) == ("0.2.0", "minor", "2030-01-02")
    assert (layout.snapshot("vllm", "0.2.0") / "values.schema.json").is_file()
    notes = release_notes("vllm", "0.1.0", "0.2.0", layout)
    assert "## 0.2.0 (2030-01-02, minor bump, engine 0.14.1)" in notes
    assert "- added: `service.loadBalancerClass`" in notes
    assert "minor: `service.loadBalancerClass` is a new optional value" in notes


def test_a_recorded_history_that_breaks_the_policy_fails(layout):
    """The ledger is re-checked from its snapshots: a hand-edited history cannot hide a breaking step."""
    edit_schema(layout, "vllm", remove_value)
    set_version(layout, "vllm", "1.0.0")
    add_changelog(layout, "vllm", "1.0.0", "- removed: service.nodePort")
    record(layout, log=lambda *_: None)
    ledger_text = layout.ledger.read_text().replace("version: 1.0.0", "version: 0.1.1")
    layout.ledger.write_text(ledger_text)
    (layout.snapshot("vllm", "1.0.0")).rename(layout.snapshot("vllm", "0.1.1"))
    assert any("0.1.0 -> 0.1.1 is a patch bump, but the change needs a major bump" in p for p in check(layout))


def test_a_new_chart_must_be_recorded_and_one_command_does_it(layout):
    shutil.copytree(layout.charts / "vllm", layout.charts / "newchart")
    meta_path = layout.charts / "newchart" / "Chart.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    meta["name"] = "newchart"
    meta_path.write_text(yaml.safe_dump(meta))
    assert check(layout) == ["newchart: charts/newchart is not in releases/ledger.yaml: run `make release-record` "
                             "to record its first release (0.1.0)"]
    assert ensure_changelogs(layout, log=lambda *_: None) == ["newchart"]
    assert changelog.load(layout.releases, "newchart")["0.1.0"][0].kind == "added"
    assert record(layout, log=lambda *_: None) == ["newchart 0.1.0"]
    assert check(layout) == []


def test_amend_re_records_an_unpublished_version(layout):
    service = layout.charts / "vllm" / "templates" / "service.yaml"
    service.write_text(service.read_text() + "# merged change\n")
    assert record(layout, log=lambda *_: None, amend=True) == ["vllm 0.1.0"]
    assert check(layout) == []
    assert [e.version for e in load(layout)["vllm"]] == ["0.1.0"]


def test_a_missing_snapshot_is_reported_not_raised(layout):
    (layout.snapshot("vllm", "0.1.0") / "values.schema.json").unlink()
    assert check(layout) == ["vllm: releases/vllm/0.1.0/values.schema.json is missing or differs from the schema "
                             "recorded for 0.1.0"]
