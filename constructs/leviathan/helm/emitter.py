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

from functools import lru_cache
from typing import Any

from .. import cyaml
from .holes import Block, Each, Expr, HoleRegistry, If, Kind, Splice


class EmitError(ValueError):
    pass


def escape_braces(text: str) -> str:
    """Make literal text safe inside a Helm template (`{{` would start an action)."""
    return text.replace("{{", '{{ "{{" }}')


# Memoised: the same keys and values recur across objects and charts, and a yaml.safe_dump per scalar
# was a tenth of synth's time. typed=True keeps True, 1 and 1.0 apart (they hash alike).
@lru_cache(maxsize=None, typed=True)
def plain_scalar(value: Any) -> str:
    """One YAML scalar on one line (quoted when YAML would read it as something else)."""
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise EmitError("multi-line strings must be emitted as block scalars")
        if "(@h" in value:
            raise EmitError(f"a hole was embedded inside a longer string: {value!r}")
    elif value is None:
        raise EmitError("null values are not emitted; leave the key out instead")
    rendered = cyaml.one_line(value, default_flow_style=True, width=10**6, allow_unicode=True)
    if "\n" in rendered:
        raise EmitError(f"{value!r} does not fit on one line")
    return escape_braces(rendered) if isinstance(value, str) else rendered


def scalar_action(expr: Expr) -> str:
    if expr.kind is Kind.STR:
        return f"{{{{ {expr.go} | quote }}}}"
    if expr.kind is Kind.INT:
        return f"{{{{ {expr.go} | int64 }}}}"
    if expr.kind in (Kind.BOOL, Kind.FLOAT):
        return f"{{{{ {expr.go} }}}}"
    raise EmitError(f"{expr.go} is a {expr.kind.value}; use Block() for lists and maps")


def literal_block(prefix: str, text: str, indent: int) -> list[str]:
    """A multi-line string as a YAML literal block that reads back as exactly `text`.

    Chomping: `|-` strips a missing final newline, `|` keeps one, `|+` keeps several. An explicit
    indentation indicator is needed when the first non-empty line starts with a space, or YAML would
    take that space as indentation.
    """
    if "\r" in text:
        raise EmitError("carriage returns cannot be kept in a literal block")
    chomp = "+" if text.endswith("\n\n") else "" if text.endswith("\n") else "-"
    lines = escape_braces(text).removesuffix("\n").split("\n") if text.endswith("\n") else \
        escape_braces(text).split("\n")
    first = next((line for line in lines if line.strip(" ")), "")
    indicator = "2" if first.startswith(" ") else ""
    if first == "" and any(lines):
        raise EmitError("a literal block of only spaces cannot be read back")
    body = [f"{' ' * indent}{line}" if line else "" for line in lines]
    return [f"{prefix} |{indicator}{chomp}", *body]


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
        # An entry whose value may render empty is wrapped in its own `if`; like the other
        # conditional parts it goes after the plain keys.
        guards = {key: self.emptiness_guard(value) for key, _, value in plain}
        for key, _, value in plain:
            if guards[key] is None:
                lines += self.entry(key, value, indent)
        pad = " " * indent
        for key, _, value in plain:
            if guards[key] is not None:
                lines += [f"{pad}{{{{- if {guards[key]} }}}}", *self.entry(key, value, indent), f"{pad}{{{{- end }}}}"]
        for _, hole, _ in conditional:
            lines += self.conditional(hole, indent, self.mapping)
        return lines

    def emptiness_guard(self, value: Any) -> str | None:
        """For a list or map made only of conditional parts, the condition under which it has any
        content (else it would render as `key:` with a null value); None when it always has some."""
        if isinstance(value, list) and value:
            parts = [self.hole_of(item) for item in value]
        elif isinstance(value, dict) and value:
            parts = [self.registry.lookup(key) for key in value]
        else:
            return None
        conditions = []
        for part in parts:
            if isinstance(part, If) and part.otherwise is None:
                conditions.append(part.cond.go)
            elif isinstance(part, (Each, Block)):
                conditions.append(part.expr.go)
            else:
                return None
        return conditions[0] if len(conditions) == 1 else "or " + " ".join(f"({c})" for c in conditions)

    def entry(self, key: str, value: Any, indent: int) -> list[str]:
        pad = " " * indent
        # Keys are scalars too: `on` would read back as a bool, `a: b` as a nested mapping.
        key = plain_scalar(key)
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
