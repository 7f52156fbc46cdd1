"""Typed holes: the places in a manifest where a Helm value or template expression goes.

Constructs build ordinary Kubernetes dicts and put holes where runtime knobs belong:

    {"containerPort": v.engine.port}                              # int hole
    {"image": Tpl('include "ktransformers.image" .')}              # string hole from a helper
    {"tolerations": block(v.tolerations)}                        # toYaml block, omitted when empty
    {"_nodePort": If(v.service.type.eq("NodePort"), {...})}       # conditional entries
    {"_labels": Splice('include "x.labels" .')}                   # YAML text from a helper
    ["--flag", If(cond, ["--opt", value]), Each(v.engine.extra_args)]  # conditional/spliced items

A mapping key that starts with `_` holds a conditional or spliced part, not a real key: its name
only keeps parts apart in the Python dict.

cdk8s (jsii) only carries JSON, so holes travel through it as sentinel strings (`(@h12@)`) minted by
a `HoleRegistry`; the emitter swaps them back. Every hole knows its kind, so the emitter can render it
correctly: ints with `int64`, strings with `quote`, lists and maps with `toYaml | nindent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Kind(Enum):
    STR = "string"
    INT = "integer"
    FLOAT = "number"
    BOOL = "boolean"
    LIST = "array"
    MAP = "object"


@dataclass(frozen=True)
class Expr:
    """A Go-template expression (without braces) that yields a value of `kind`."""

    go: str
    kind: Kind

    # -- conversions ---------------------------------------------------------------------------
    def as_str(self) -> "Expr":
        """The value as a string (for command-line args and env values)."""
        if self.kind is Kind.STR:
            return self
        if self.kind is Kind.INT:
            return Expr(f"{self.go} | int64 | toString", Kind.STR)
        return Expr(f"{self.go} | toString", Kind.STR)

    # -- conditions (used by If / When) ----------------------------------------------------------
    def eq(self, other: str | int) -> "Cond":
        literal = f'"{other}"' if isinstance(other, str) else str(other)
        return Cond(f"eq {self._operand()} {literal}")

    def gt(self, other: "int | Expr") -> "Cond":
        return Cond(f"gt ({self.go} | int64) {_int_operand(other)}")

    def lt(self, other: "int | Expr") -> "Cond":
        return Cond(f"lt ({self.go} | int64) {_int_operand(other)}")

    def ne(self, other: "int | Expr") -> "Cond":
        return Cond(f"ne ({self.go} | int64) {_int_operand(other)}")

    def truthy(self) -> "Cond":
        return Cond(self.go)

    def _operand(self) -> str:
        go = self.go
        if self.kind is Kind.INT:
            go = f"{go} | int64"
        return f"({go})" if " " in go else go


def _int_operand(value: "int | Expr") -> str:
    return str(value) if isinstance(value, int) else f"({value.go} | int64)"


@dataclass(frozen=True)
class Cond:
    """A Go-template condition, e.g. `eq .Values.service.type "NodePort"`."""

    go: str

    def __and__(self, other: "Cond") -> "Cond":
        return Cond(f"and ({self.go}) ({other.go})")

    def __or__(self, other: "Cond") -> "Cond":
        return Cond(f"or ({self.go}) ({other.go})")

    def __invert__(self) -> "Cond":
        return Cond(f"not ({self.go})")


def Tpl(go: str, kind: Kind = Kind.STR) -> Expr:  # noqa: N802 - reads like a constructor
    """A raw template expression, e.g. Tpl('include "vllm.fullname" .')."""
    return Expr(go, kind)


def gib(expr: Expr) -> Expr:
    """A Kubernetes quantity from an int GiB value: `printf "%dGi"` ("416Gi")."""
    return Tpl(f'printf "%dGi" ({expr.go} | int64)')


@dataclass(frozen=True)
class Block:
    """A list or map value rendered with toYaml. With `omit_empty`, the key disappears when empty."""

    expr: Expr
    omit_empty: bool = True


@dataclass(frozen=True)
class If:
    """Conditional content: mapping entries (dict) or list items (list), with an optional else."""

    cond: Cond
    then: dict | list
    otherwise: dict | list | None = None


@dataclass(frozen=True)
class Each:
    """List items from a values list, each rendered as a quoted string (e.g. extraArgs)."""

    expr: Expr


@dataclass(frozen=True)
class Splice:
    """A template expression that yields YAML text (e.g. `include "x.labels" .`), spliced into a
    mapping or list at the right indentation with `nindent`."""

    go: str


Hole = Expr | Block | If | Each | Splice

_SENTINEL = re.compile(r"^\(@h(\d+)@\)$")


@dataclass
class HoleRegistry:
    """Mints sentinel strings for holes so they survive the trip through cdk8s/jsii."""

    holes: list[Hole] = field(default_factory=list)

    def sentinel(self, hole: Hole) -> str:
        self.holes.append(hole)
        return f"(@h{len(self.holes) - 1}@)"

    def lookup(self, value: Any) -> Hole | None:
        if isinstance(value, str):
            match = _SENTINEL.match(value)
            if match:
                return self.holes[int(match.group(1))]
        return None

    def encode(self, tree: Any) -> Any:
        """Replace holes in a Python tree by sentinels (keys for `_` parts, items elsewhere)."""
        if isinstance(tree, (Expr, Block, Each, Splice, If)):
            return self.sentinel(tree)
        if isinstance(tree, dict):
            out = {}
            for key, value in tree.items():
                if isinstance(value, (If, Splice)) and isinstance(key, str) and key.startswith("_"):
                    out[self.sentinel(value)] = ""
                else:
                    out[key] = self.encode(value)
            return out
        if isinstance(tree, list):
            return [self.encode(item) for item in tree]
        return tree
