"""The emitter turns holes into the right template actions (each rule guards a real Helm pitfall)."""

from __future__ import annotations

import pytest

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
