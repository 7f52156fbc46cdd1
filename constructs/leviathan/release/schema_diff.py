"""Compare a chart's values.schema.json with the last released one, and say how big the change is.

The policy (README "Versioning"):
    major   a value removed or renamed, a type narrowed (fewer types, a stricter bound, fewer enum
            members, a new or changed pattern, unknown keys newly rejected), a new required key
    minor   a new optional value
    patch   anything else (wider types, looser bounds, new defaults, descriptions)

A change the walker cannot judge precisely (a changed `anyOf`/`oneOf`/`not`, `patternProperties`)
counts as narrowing: wrongly calling a breaking change a patch is the failure this module prevents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .semver import Level


@dataclass(frozen=True)
class Change:
    level: Level
    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.level}: `{self.path}` {self.what}"


# keyword -> True when a larger new value narrows what is accepted (lower bounds), False when a
# smaller new value does (upper bounds).
_BOUNDS = {
    "minimum": True, "exclusiveMinimum": True, "minLength": True, "minItems": True, "minProperties": True,
    "maximum": False, "exclusiveMaximum": False, "maxLength": False, "maxItems": False, "maxProperties": False,
}
# Composite keywords compared as a whole (any difference counts as narrowing).
_OPAQUE = ("anyOf", "oneOf", "allOf", "not", "patternProperties", "const", "format", "multipleOf")
_STRUCTURE = {"properties", "required", "items", "additionalProperties", "type", "enum", "pattern",
              *_BOUNDS, *_OPAQUE}


def _types(node: dict) -> set[str] | None:
    kind = node.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def diff(old: dict, new: dict, path: str = "") -> list[Change]:
    """Every change from `old` to `new`, each with the bump it needs."""
    here = path or "(root)"
    changes: list[Change] = []

    def add(level: Level, what: str, at: str = here) -> None:
        changes.append(Change(level, at, what))

    old_types, new_types = _types(old), _types(new)
    if old_types != new_types:
        if new_types is not None and (old_types is None or not new_types >= old_types):
            add(Level.MAJOR, f"type narrowed from {sorted(old_types or ['any'])} to {sorted(new_types)}")
        else:
            add(Level.PATCH, f"type widened from {sorted(old_types or [])} to {sorted(new_types or ['any'])}")

    if "enum" in old or "enum" in new:
        old_enum = {_canonical(v) for v in old["enum"]} if "enum" in old else None
        new_enum = {_canonical(v) for v in new["enum"]} if "enum" in new else None
        if new_enum is not None and (old_enum is None or not new_enum >= old_enum):
            removed = sorted(old_enum - new_enum) if old_enum else ["(any value)"]
            add(Level.MAJOR, f"no longer accepts {', '.join(removed)}")
        elif old_enum != new_enum:
            add(Level.PATCH, "accepts more values")

    for keyword, larger_narrows in _BOUNDS.items():
        before, after = old.get(keyword), new.get(keyword)
        if before == after:
            continue
        narrowed = after is not None and (
            before is None or (after > before if larger_narrows else after < before))
        add(Level.MAJOR if narrowed else Level.PATCH,
            f"{keyword} {'narrowed' if narrowed else 'relaxed'}: {before} -> {after}")

    if old.get("pattern") != new.get("pattern"):
        narrowed = new.get("pattern") is not None
        add(Level.MAJOR if narrowed else Level.PATCH,
            f"pattern {'changed' if narrowed else 'removed'}: {old.get('pattern')!r} -> {new.get('pattern')!r}")

    for keyword in _OPAQUE:
        if _canonical(old.get(keyword)) != _canonical(new.get(keyword)):
            if keyword in new:
                add(Level.MAJOR, f"`{keyword}` changed (treated as narrowing)")
            else:
                add(Level.PATCH, f"`{keyword}` removed")

    changes += _object_changes(old, new, path)

    old_items, new_items = old.get("items"), new.get("items")
    if isinstance(old_items, dict) and isinstance(new_items, dict):
        changes += diff(old_items, new_items, f"{path}[]")
    elif _canonical(old_items) != _canonical(new_items):
        add(Level.MAJOR if new_items is not None else Level.PATCH, "item schema replaced")

    if any(_canonical(old.get(k)) != _canonical(new.get(k))
           for k in set(old) | set(new) if k not in _STRUCTURE):
        add(Level.PATCH, "description, default or annotation changed")
    return changes


def _object_changes(old: dict, new: dict, path: str) -> list[Change]:
    here = path or "(root)"
    changes: list[Change] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for key in old_props:
        if key not in new_props:
            changes.append(Change(Level.MAJOR, _join(path, key), "removed or renamed"))
    for key, schema in new_props.items():
        child = _join(path, key)
        if key not in old_props:
            if key in new_required:
                changes.append(Change(Level.MAJOR, child, "is new and required"))
            else:
                changes.append(Change(Level.MINOR, child, "is a new optional value"))
            continue
        if key in new_required and key not in old_required:
            changes.append(Change(Level.MAJOR, child, "became required"))
        elif key in old_required and key not in new_required:
            changes.append(Change(Level.PATCH, child, "became optional"))
        changes += diff(old_props[key], schema, child)
    closed_before = old.get("additionalProperties", True) is False
    closed_after = new.get("additionalProperties", True) is False
    if closed_after and not closed_before:
        changes.append(Change(Level.MAJOR, here, "rejects unknown keys now"))
    elif closed_before and not closed_after:
        changes.append(Change(Level.PATCH, here, "accepts unknown keys now"))
    else:
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            changes += diff(old_extra, new_extra, f"{path}.*" if path else "*")
        elif _canonical(old_extra) != _canonical(new_extra):
            changes.append(Change(Level.MAJOR, here, "schema of extra keys changed (treated as narrowing)"))
    return changes


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def required_level(changes: list[Change]) -> Level:
    return max((change.level for change in changes), default=Level.NONE)
