"""Turn a manifest tree with holes into Helm template text.

The emitter writes YAML line by line, so it controls exactly where template actions go:

* plain keys first, conditional blocks after them, so a list item never starts with `{{- if }}`;
* ints as `{{ x | int64 }}` (Helm numbers are float64 and would print 1e+06), strings `| quote`d
  (so "on" or "1.10" stay strings), lists and maps as `{{- toYaml x | nindent N }}` with N equal to the
  key's column + 2;
* literal text that contains `{{` is escaped so Helm does not parse it.

A leftover sentinel or an unsupported hole position raises `EmitError` at synth time.
"""

from __future__ import annotations

from typing import Any

import yaml

from .holes import Block, Each, Expr, HoleRegistry, If, Kind, Splice


class EmitError(ValueError):
    pass


def escape_braces(text: str) -> str:
    """Make literal text safe inside a Helm template (`{{` would start an action)."""
    return text.replace("{{", '{{ "{{" }}')


def plain_scalar(value: Any) -> str:
    if isinstance(value, str):
        if "\n" in value:
            raise EmitError("multi-line strings must be emitted as block scalars")
        if "(@h" in value:
            raise EmitError(f"a hole was embedded inside a longer string: {value!r}")
        rendered = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
        rendered = rendered.removesuffix("\n...").removesuffix("...").strip()
        return escape_braces(rendered)
    if value is None:
        raise EmitError("null values are not emitted; leave the key out instead")
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def scalar_action(expr: Expr) -> str:
    if expr.kind is Kind.STR:
        return f"{{{{ {expr.go} | quote }}}}"
    if expr.kind is Kind.INT:
        return f"{{{{ {expr.go} | int64 }}}}"
    if expr.kind in (Kind.BOOL, Kind.FLOAT):
        return f"{{{{ {expr.go} }}}}"
    raise EmitError(f"{expr.go} is a {expr.kind.value}; use Block() for lists and maps")


def literal_block(prefix: str, text: str, indent: int) -> list[str]:
    """A multi-line string as a YAML literal block (`|` keeps the final newline, `|-` strips it)."""
    chomp = "" if text.endswith("\n") else "-"
    body = [f"{' ' * indent}{line}" if line else "" for line in escape_braces(text).splitlines()]
    return [f"{prefix} |{chomp}", *body]


class Emitter:
    def __init__(self, registry: HoleRegistry):
        self.registry = registry

    # -- public ----------------------------------------------------------------------------------
    def document(self, tree: dict) -> list[str]:
        return self.mapping(tree, 0)

    # -- mappings --------------------------------------------------------------------------------
    def mapping(self, mapping: dict, indent: int) -> list[str]:
        plain, conditional = [], []
        # `name` first, as Kubernetes YAML is read (`- name: engine`), whatever order cdk8s kept.
        ordered = sorted(mapping.items(), key=lambda item: item[0] != "name")
        for key, value in ordered:
            hole = self.registry.lookup(key)
            (conditional if hole is not None else plain).append((key, hole, value))
        lines: list[str] = []
        for key, _, value in plain:
            lines += self.entry(key, value, indent)
        for _, hole, _ in conditional:
            lines += self.conditional(hole, indent, self.mapping)
        return lines

    def entry(self, key: str, value: Any, indent: int) -> list[str]:
        pad = " " * indent
        hole = self.hole_of(value)
        if isinstance(hole, Expr):
            return [f"{pad}{key}: {scalar_action(hole)}"]
        if isinstance(hole, Block) and hole.expr.kind is Kind.STR:
            # multi-line text from a helper, as a literal block scalar
            return [f"{pad}{key}: |-", f"{pad}  {{{{- {hole.expr.go} | nindent {indent + 2} }}}}"]
        if isinstance(hole, Block):
            body = f"{pad}  {{{{- toYaml {'.' if hole.omit_empty else hole.expr.go} | nindent {indent + 2} }}}}"
            if hole.omit_empty:
                return [f"{pad}{{{{- with {hole.expr.go} }}}}", f"{pad}{key}:", body, f"{pad}{{{{- end }}}}"]
            return [f"{pad}{key}:", body]
        if hole is not None:
            raise EmitError(f"{type(hole).__name__} cannot be the value of key {key!r}")
        if isinstance(value, dict):
            return [f"{pad}{key}: {{}}"] if not value else [f"{pad}{key}:", *self.mapping(value, indent + 2)]
        if isinstance(value, list):
            return [f"{pad}{key}: []"] if not value else [f"{pad}{key}:", *self.sequence(value, indent + 2)]
        if isinstance(value, str) and "\n" in value:
            return literal_block(f"{pad}{key}:", value, indent + 2)
        return [f"{pad}{key}: {plain_scalar(value)}"]

    # -- sequences -------------------------------------------------------------------------------
    def sequence(self, items: list, indent: int) -> list[str]:
        pad = " " * indent
        lines: list[str] = []
        for item in items:
            hole = self.hole_of(item)
            if isinstance(hole, Expr):
                lines.append(f"{pad}- {scalar_action(hole)}")
            elif isinstance(hole, Each):
                lines += [f"{pad}{{{{- range {hole.expr.go} }}}}", f"{pad}- {{{{ . | toString | quote }}}}",
                          f"{pad}{{{{- end }}}}"]
            elif isinstance(hole, Block):
                lines += [f"{pad}{{{{- with {hole.expr.go} }}}}", f"{pad}{{{{- toYaml . | nindent {indent} }}}}",
                          f"{pad}{{{{- end }}}}"]
            elif isinstance(hole, (If, Splice)):
                lines += self.conditional(hole, indent, self.sequence)
            elif isinstance(item, dict):
                body = self.mapping(item, indent + 2)
                if not body or body[0].lstrip().startswith("{{"):
                    raise EmitError("a list item must start with a plain key")
                lines += [f"{pad}- {body[0].lstrip()}", *body[1:]]
            elif isinstance(item, list):
                raise EmitError("nested lists are not supported")
            elif isinstance(item, str) and "\n" in item:
                lines += literal_block(f"{pad}-", item, indent + 2)
            else:
                lines.append(f"{pad}- {plain_scalar(item)}")
        return lines

    # -- shared ----------------------------------------------------------------------------------
    def conditional(self, hole: If | Splice, indent: int, render) -> list[str]:
        pad = " " * indent
        if isinstance(hole, Splice):
            return [f"{pad}{{{{- {hole.go} | nindent {indent} }}}}"]
        lines = [f"{pad}{{{{- if {hole.cond.go} }}}}", *render(self.registry.encode(hole.then), indent)]
        if hole.otherwise is not None:
            lines += [f"{pad}{{{{- else }}}}", *render(self.registry.encode(hole.otherwise), indent)]
        return [*lines, f"{pad}{{{{- end }}}}"]

    def hole_of(self, value: Any):
        if isinstance(value, (Expr, Block, Each, If, Splice)):
            return value
        return self.registry.lookup(value)
