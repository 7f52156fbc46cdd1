"""values.yaml (commented defaults) and the README values table, from a values model.

Every field must carry a description (a docstring under the attribute); synth fails otherwise,
so a knob can't ship undocumented.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from typing import Any, Iterator

from pydantic import BaseModel

from .. import cyaml


class UndocumentedValue(ValueError):
    pass


@dataclass(frozen=True)
class ValueDoc:
    path: str
    type_name: str
    default: Any
    description: str


def _fields(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, str, Any, str, bool]]:
    """(key, path, default, description, is_section) for each field, depth first."""
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        path = f"{prefix}{key}"
        if not info.description:
            raise UndocumentedValue(f"{type(model).__name__}.{name} ({path}) has no description")
        value = getattr(model, name)
        # docstrings wrap lines for the source's sake; the description is one paragraph
        yield key, path, value, " ".join(info.description.split()), isinstance(value, BaseModel)


def _type_name(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "map"}.get(
        type(value), type(value).__name__)


def docs(model: BaseModel, prefix: str = "") -> list[ValueDoc]:
    rows: list[ValueDoc] = []
    for _, path, value, description, is_section in _fields(model, prefix):
        if is_section:
            rows += docs(value, f"{path}.")
        else:
            dumped = value.value if hasattr(value, "value") else value
            rows.append(ValueDoc(path, _type_name(dumped), dumped, description))
    return rows


def _comment(text: str, pad: str) -> list[str]:
    return [f"{pad}# {line}" for line in textwrap.wrap(text, width=96 - len(pad))]


def _dump_value(value: Any, pad: str, key: str) -> list[str]:
    if isinstance(value, (list, dict)) and value:
        body = cyaml.safe_dump(value, default_flow_style=False, sort_keys=False, width=10**6)
        return [f"{pad}{key}:", *textwrap.indent(body, pad + "  ").rstrip("\n").split("\n")]
    return [f"{pad}{key}: {cyaml.one_line(value, default_flow_style=True, width=10**6)}"]


def values_yaml(model: BaseModel, header: str, indent: int = 0) -> str:
    lines = [*(f"# {line}".rstrip() for line in header.strip().splitlines()), ""] if indent == 0 else []
    pad = " " * indent
    for key, _, value, description, is_section in _fields(model):
        lines += _comment(description, pad)
        if is_section:
            lines += [f"{pad}{key}:", values_yaml(value, header, indent + 2).rstrip("\n")]
        else:
            dumped = json.loads(json.dumps(value, default=lambda v: v.value))
            lines += _dump_value(dumped, pad, key)
        if indent == 0:
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def markdown_table(model: BaseModel) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    rows = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for doc in docs(model):
        default = json.dumps(doc.default)
        rows.append(f"| `{doc.path}` | {doc.type_name} | `{cell(default)}` | {cell(doc.description)} |")
    return "\n".join(rows) + "\n"
