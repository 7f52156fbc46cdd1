"""The emitter turns holes into the right template actions (each rule guards a real Helm pitfall)."""

from __future__ import annotations

import pytest
import yaml

from leviathan.helm.emitter import EmitError, Emitter
from leviathan.helm.holes import Block, Each, Expr, HoleRegistry, If, Kind, Splice


def emit(tree: dict) -> str:
    registry = HoleRegistry()
    return "\n".join(Emitter(registry).document(registry.encode(tree)))


def test_ints_are_int64_strings_are_quoted_and_args_are_stringified():
    port = Expr(".Values.port", Kind.INT)
    text = emit({"containerPort": port, "name": Expr(".Values.name", Kind.STR), "args": [port.as_str()]})
    assert "containerPort: {{ .Values.port | int64 }}" in text
    assert "name: {{ .Values.name | quote }}" in text
    assert "- {{ .Values.port | int64 | toString | quote }}" in text


def test_blocks_use_nindent_of_the_key_column_and_vanish_when_empty():
    text = emit({"spec": {"tolerations": Block(Expr(".Values.tolerations", Kind.LIST))}})
    assert text.splitlines() == [
        "spec:",
        "  {{- with .Values.tolerations }}",
        "  tolerations:",
        "    {{- toYaml . | nindent 4 }}",
        "  {{- end }}",
    ]


def test_conditional_entries_come_after_plain_keys_so_list_items_start_with_a_key():
    item = {"_extra": If(Expr(".Values.x", Kind.BOOL).truthy(), {"extra": 1}), "name": "a"}
    lines = emit({"items": [item]}).splitlines()
    assert lines[1] == "  - name: a"
    assert lines[2].strip() == "{{- if .Values.x }}"


def test_splices_and_ranges():
    text = emit({"labels": {"_l": Splice('include "c.labels" .')},
                 "args": ["a", Each(Expr(".Values.extra", Kind.LIST))]})
    assert '{{- include "c.labels" . | nindent 2 }}' in text
    assert "{{- range .Values.extra }}" in text


def test_literal_braces_in_text_are_escaped_for_helm():
    text = emit({"data": {"tpl": "hello {{ name }}\nbye\n"}})
    assert '{{ "{{" }} name }}' in text
    assert "tpl: |" in text


@pytest.mark.parametrize("bad", [{"a": None}, {"a": "x(@h0@)y"}])
def test_unsupported_values_fail_synth(bad):
    with pytest.raises(EmitError):
        emit(bad)


def test_a_list_cannot_be_rendered_as_a_scalar():
    with pytest.raises(EmitError):
        emit({"a": Expr(".Values.list", Kind.LIST)})


# -- plain text reads back exactly ---------------------------------------------------------------

TRICKY_SCALARS = ["a...", "...", "x...y", "on", "yes", "a: b", "x # y", "#x", "- x", "1.10", "0x1F", "",
                  " lead", "trail ", "é ✓", "null", "~", "'q'", '"q"', "[a]", "{a: 1}", "*ref", "&a", "!t"]


@pytest.mark.parametrize("value", TRICKY_SCALARS)
def test_strings_keys_and_list_items_read_back_exactly(value):
    text = emit({"value": value, value or "empty": "key", "items": [value]})
    assert yaml.safe_load(text) == {"value": value, value or "empty": "key", "items": [value]}


LITERALS = ["a\n", "a", "a\n\n", "a\n\n\n", "  indented first\nthen not\n", "\n  x\n", "x\n  y",
            "a\n\nb\n", "  \n  x\n", " a", "\n\na", "tab\tinside\n"]


@pytest.mark.parametrize("text", LITERALS, ids=repr)
def test_literal_blocks_read_back_exactly(text):
    tree = {"data": {"script": text, "after": 1}, "list": [text, "after"]}
    assert yaml.safe_load(emit(tree)) == tree


# -- conditional-only lists and maps, through the real Helm ----------------------------------------

def helm_render(helm, tmp_path, template: str, values: dict) -> dict:
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(yaml.safe_dump(values))
    (chart / "templates" / "t.yaml").write_text(template + "\n")
    return yaml.safe_load(helm.template(chart).stdout)


@pytest.mark.parametrize("on", [True, False])
def test_a_list_or_map_of_only_conditional_parts_is_left_out_when_empty(helm, tmp_path, on):
    cond = Expr(".Values.on", Kind.BOOL).truthy()
    text = emit({"name": "x", "items": [If(cond, [{"name": "a"}])], "map": {"_a": If(cond, {"k": "v"})},
                 "ranged": [Each(Expr(".Values.more", Kind.LIST))]})
    doc = helm_render(helm, tmp_path, text, {"on": on, "more": []})
    assert doc == ({"name": "x", "items": [{"name": "a"}], "map": {"k": "v"}} if on else {"name": "x"})
