"""The shape of a chart's values (each field's camelCase key, JSON kind, number bounds and nested
section) and `ValuesRef`, the `.Values` proxy the constructs build templates with.

That is all the constructs need from the pydantic models, and it pickles: synth's construct process
gets the shapes from its values process and never imports pydantic (leviathan/synth.py).
`config.base.shape_of` makes a shape from a values model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..helm.holes import Block, Each, Expr, Kind


@dataclass(frozen=True)
class FieldShape:
    key: str  # the key in values.yaml (camelCase)
    kind: Kind
    bounds: dict[str, float] = field(default_factory=dict)  # JSON-Schema bounds of a number
    section: ValuesShape | None = None  # a nested values section


@dataclass(frozen=True)
class ValuesShape:
    name: str  # the model's class name, for messages
    fields: dict[str, FieldShape]  # by Python field name (snake_case)


class ValuesRef:
    """`.Values` as typed holes: `ValuesRef(shape).engine.port` is an int Expr for the template.

    Attribute names are the Python field names; the template path uses the camelCase keys.
    A reference to a nested section is itself a ValuesRef; `.block()` renders it whole with toYaml.
    """

    def __init__(self, shape: ValuesShape, path: tuple[str, ...] = ()):
        self._shape = shape
        self._path = path

    @property
    def go(self) -> str:
        return ".Values" + "".join(f".{part}" for part in self._path)

    def block(self, omit_empty: bool = True) -> Block:
        return Block(Expr(self.go, Kind.MAP), omit_empty)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        found = self._shape.fields.get(name)
        if found is None:
            raise AttributeError(f"{self._shape.name} has no field {name!r}")
        path = (*self._path, found.key)
        if found.section is not None:
            return ValuesRef(found.section, path)
        return Expr(ValuesRef(self._shape, path).go, found.kind)


def block(expr: Expr, omit_empty: bool = True) -> Block:
    """A list/map value from values, rendered with toYaml (omitted when empty by default)."""
    if expr.kind not in (Kind.LIST, Kind.MAP):
        raise TypeError(f"{expr.go} is a {expr.kind.value}, not a list or map")
    return Block(expr, omit_empty)


def each(expr: Expr) -> Each:
    """Items of a values list spliced into a list as quoted strings."""
    if expr.kind is not Kind.LIST:
        raise TypeError(f"{expr.go} is not a list")
    return Each(expr)


def float_fields(shape: ValuesShape, prefix: str = ".Values") -> list[tuple[str, dict[str, float]]]:
    """(Go path, JSON-Schema bounds) of every float field, depth first."""
    found = []
    for value in shape.fields.values():
        path = f"{prefix}.{value.key}"
        if value.section is not None:
            found += float_fields(value.section, path)
        elif value.kind is Kind.FLOAT:
            found.append((path, value.bounds))
    return found
