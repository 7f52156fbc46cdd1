"""Hypothesis strategies that draw Helm values from a chart's values.schema.json.

Each draw changes a few leaves of the defaults at once (fewer, richer draws: every `helm template`
costs ~0.2 s). A leaf's value is drawn around its schema: in range and at the edges, one past each
edge, beyond int32/int64, the wrong type, and strings that break naive templates (spaces, newlines,
quotes, `#`, `:`, `{{ }}`, unicode, very long). Numbers and booleans are sometimes passed with
`--set`, the way users type them (where `0.9` arrives as a string).

Kubernetes objects rendered as given (tolerations, affinity, extraEnv) are drawn from their
Kubernetes schema (embedded in values.schema.json) and, often, in realistic valid shapes, so that
draws also get past the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

# Helm: "must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the
# length must not be longer than 53".
RELEASE = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
RELEASE_EDGES = ["a", "1", "x" * 53, "9" * 53, "a" * 51 + ".b", "a.b", "ktransformers", "vllm", "vllm-api",
                 "ktransformers-ktransformers", "a-" * 26 + "b"]

TRICKY_STRINGS = [
    "", " ", "a b", "two words ", "line\nbreak", "trailing\n", 'a "quoted" word', "it's", "#comment",
    "a: b", "- item", "{{ .Release.Name }}", "{{", "}}", "${HOME}", "$(echo x)", "`id`", "ünïcødé ✓ 模型",
    "x" * 300, "-flag", "--flag", "..", "../etc", "/", "on", "null", "~", "1.0", "0x10", "*", "&a", "!tag",
    "%s %d %!", "\t", "a\\b", "UPPER", "a,b", "a=b", "[a]", "{a: 1}", "😀", "\u2028",
]
INT_EDGES = [0, 1, -1, 2**31 - 1, 2**31, 2**32, 2**53, 2**63 - 1, 2**63, 10**20]
SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t"), max_size=40)

TOLERATIONS = st.lists(st.fixed_dictionaries(
    {"key": st.sampled_from(["nvidia.com/gpu", "node-role.kubernetes.io/control-plane"]),
     "operator": st.just("Exists"), "effect": st.sampled_from(["NoSchedule", "NoExecute"])}), max_size=3)
AFFINITY = st.sampled_from([{}, {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
    "nodeSelectorTerms": [{"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["h100"]}]}]}}}])
EXTRA_ENV = st.lists(st.fixed_dictionaries({"name": st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True),
                                            "value": SAFE_TEXT}), max_size=3)
PASS_THROUGH = {"tolerations": TOLERATIONS, "affinity": AFFINITY, "extraEnv": EXTRA_ENV}


@dataclass
class Leaf:
    path: tuple[str, ...]
    schema: dict

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass
class Draw:
    """One set of values: overrides for a values file, `--set` pairs, and a release name."""

    release: str
    overrides: dict = field(default_factory=dict)
    sets: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


def leaves(schema: dict, path: tuple[str, ...] = ()) -> list[Leaf]:
    found = []
    for key, node in schema.get("properties", {}).items():
        if key == "global":
            continue
        if node.get("type") == "object" and "properties" in node:
            found += leaves(node, (*path, key))
        else:
            found.append(Leaf((*path, key), node))
    return found


def value_for(leaf: Leaf) -> st.SearchStrategy[Any]:
    """Three in four draws fit the schema (so a draw that changes several leaves still often gets
    past it and renders); the rest probe edges, wrong types and tricky strings."""
    fitting = _value(leaf.schema, fitting=True)
    if leaf.path[-1] in PASS_THROUGH and len(leaf.path) == 1:
        fitting = PASS_THROUGH[leaf.path[-1]] | fitting
    return st.one_of(fitting, fitting, fitting, _value(leaf.schema, fitting=False))


def _value(node: dict, fitting: bool) -> st.SearchStrategy[Any]:
    """Values for a schema node: only ones it accepts (`fitting`), or anything around it."""
    if "anyOf" in node:
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return st.one_of([_value({**sub, **rest}, fitting) for sub in node["anyOf"]])
    if "enum" in node:
        return st.sampled_from(node["enum"]) if fitting else st.sampled_from(TRICKY_STRINGS)
    kind = node.get("type")
    if isinstance(kind, list):
        return st.one_of([st.none() if one == "null" else _value({**node, "type": one}, fitting) for one in kind])
    if kind == "integer":
        low, high = node.get("minimum"), node.get("maximum")
        edges = [edge for edge in (low, high) if edge is not None]
        if fitting:
            return st.integers(low, high) | st.sampled_from(edges) if edges else st.integers(low, high)
        edges += [edge + 1 for edge in (high,) if edge is not None] + [edge - 1 for edge in (low,) if edge is not None]
        return st.sampled_from(edges + INT_EDGES) | st.sampled_from([1.5, "12", True])
    if kind == "number":
        low, high = node.get("minimum", node.get("exclusiveMinimum")), node.get("maximum", node.get("exclusiveMaximum"))
        floats = st.floats(low, high, allow_nan=False, allow_infinity=False,
                           exclude_min="exclusiveMinimum" in node, exclude_max="exclusiveMaximum" in node)
        if fitting:
            return floats
        return st.sampled_from([v for v in (low, high) if v is not None] + [-0.1, 0.0, 1e-9, 1.5, 1e300])
    if kind == "string":
        if "pattern" in node or "minLength" in node or "maxLength" in node:
            fitting_strings = (st.from_regex(node["pattern"], fullmatch=True) if "pattern" in node else SAFE_TEXT).filter(
                lambda s: node.get("minLength", 0) <= len(s) <= node.get("maxLength", 10**6))
        else:
            fitting_strings = SAFE_TEXT | st.sampled_from(TRICKY_STRINGS)
        return fitting_strings if fitting else st.sampled_from(TRICKY_STRINGS)
    if kind == "boolean":
        return st.booleans() if fitting else st.sampled_from(["true", 1])
    if kind == "array":
        items = _value(node.get("items", {"type": "string"}), fitting)
        max_items = node.get("maxItems", 20)
        return st.lists(items, max_size=min(4, max_items)) | st.lists(items, min_size=min(9, max_items),
                                                                        max_size=max_items)
    if kind == "object":
        if "properties" in node:
            fields = {key: _value(sub, fitting) for key, sub in node["properties"].items()}
            valid = st.fixed_dictionaries({}, optional=fields)
            return valid if fitting else valid | st.just({"bogus": 1})
        if "patternProperties" in node:
            ((key_pattern, value_schema),) = node["patternProperties"].items()
            keys = st.from_regex(key_pattern, fullmatch=True).filter(lambda k: len(k) < 100)
            if not fitting:
                keys = keys | st.sampled_from(["a b", "#x", "", "x" * 70])
            return st.dictionaries(keys, _value(value_schema, fitting), max_size=3)
        return st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), SAFE_TEXT, max_size=2)
    return SAFE_TEXT


def _set_literal(value: Any) -> str | None:
    """The text a user types after `--set key=` for this value, when there is one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return None


@st.composite
def draws(draw, schema: dict, max_changes: int = 8) -> Draw:
    all_leaves = leaves(schema)
    chosen = draw(st.lists(st.sampled_from(all_leaves), min_size=1, max_size=max_changes,
                           unique_by=lambda leaf: leaf.path))
    release = draw(st.sampled_from(RELEASE_EDGES)
                   | st.from_regex(RELEASE, fullmatch=True).filter(lambda name: len(name) <= 53))
    result = Draw(release)
    for leaf in chosen:
        value = draw(value_for(leaf), label=leaf.dotted)
        result.changed.append(leaf.dotted)
        typed = _set_literal(value)
        if typed is not None and draw(st.booleans()):
            result.sets.append(f"{leaf.dotted}={typed}")
            continue
        node = result.overrides
        for part in leaf.path[:-1]:
            node = node.setdefault(part, {})
        node[leaf.path[-1]] = value
    return result


def schema_paths(schema: dict, path: tuple[str, ...] = ()) -> set[str]:
    """Every values path, dotted (`engine.port`, as rules name it) and slashed (`/engine/port`, as
    Helm's schema errors name it)."""
    found = set()
    for key, node in schema.get("properties", {}).items():
        here = (*path, key)
        found |= {".".join(here), "/" + "/".join(here)}
        found |= schema_paths(node, here)
    return found
