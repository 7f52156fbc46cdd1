"""values.schema.json from a values model.

Helm 3.17 validates with draft-07 (gojsonschema) and Helm >= 3.18.5 / 4 with 2020-12, so the schema
uses only keywords both understand: `$ref`s are inlined, titles dropped. Every key is `required`
(values.yaml always provides it, so only a user's `null` - which deletes a key in Helm - trips it),
unknown keys are rejected, and a root `global` property lets the chart be a subchart.

Numbers (floats) also accept a decimal string: `--set engine.gpuMemoryUtilization=0.9` passes the
value as the string "0.9" (only integers and booleans are typed by `--set`). The range of such a
string is checked by a chart rule (`float_range_rule`), since JSON Schema bounds ignore strings.

Values rendered into the pod spec as given (tolerations, affinity, extraEnv) carry Kubernetes' own
schema for their type (`kube_types.py`), so a malformed one fails here, naming its path.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from pydantic.json_schema import GenerateJsonSchema, NoDefault

from .kube_types import MARKER, OVERLAY, kube_type_with


DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$"
BOUND_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _number_or_decimal_string(node: dict[str, Any]) -> dict[str, Any]:
    bounds = {key: node[key] for key in BOUND_KEYWORDS if key in node}
    rest = {key: value for key, value in node.items() if key not in BOUND_KEYWORDS and key != "type"}
    return {**rest, "anyOf": [{"type": "number", **bounds}, {"type": "string", "pattern": DECIMAL}]}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict) and MARKER in node:
        return _kubernetes_field(node)
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            merged = {**_inline(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
            return _inline(merged, defs)
        out = {k: _inline(v, defs) for k, v in node.items() if k not in ("title", "$defs")}
        if isinstance(out.get("description"), str):
            out["description"] = " ".join(out["description"].split())
        if out.get("type") == "number":
            out = _number_or_decimal_string(out)
        if out.get("type") == "object" and "properties" in out:
            out["required"] = list(out["properties"])
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def _kubernetes_field(node: dict[str, Any]) -> dict[str, Any]:
    """A field marked with a Kubernetes type gets that type's own schema (for its items, if a list)."""
    kube = kube_type_with(node)
    out = {key: value for key, value in node.items()
           if key not in (MARKER, OVERLAY, "additionalProperties", "items", "title")}
    out["description"] = " ".join(out.get("description", "").split())
    if out.get("type") == "array":
        return {**out, "items": kube}
    return {**out, **{key: value for key, value in kube.items() if key != "type"}, "type": "object"}


class _ValuesSchema(GenerateJsonSchema):
    def get_default_value(self, schema) -> Any:
        """Nested sections have a default factory (`config.base.section`), whose default pydantic
        leaves out of the schema; this hook (pydantic's documented one) shows it like a plain one."""
        if "default_factory" in schema and not schema.get("default_factory_takes_data"):
            return schema["default_factory"]()
        return schema.get("default", NoDefault)

    def encode_default(self, dft: Any) -> Any:
        """pydantic builds a TypeAdapter, and so a validator, for each default it encodes (about 380
        in a synth, a tenth of a second). Our defaults are JSON scalars, lists, maps and values
        models, which pydantic_core's own serializer encodes the same way, without one."""
        return to_jsonable_python(dft, by_alias=self.by_alias)


def values_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_ValuesSchema)
    schema = _inline(raw, raw.get("$defs", {}))
    schema["properties"]["global"] = {
        "type": "object", "description": "Reserved for parent charts (Helm global values).",
    }
    schema["required"] = [key for key in schema["required"] if key != "global"]
    return {"$schema": "http://json-schema.org/draft-07/schema#", **schema}


def schema_json(model: type[BaseModel]) -> str:
    return json.dumps(values_schema(model), indent=2, sort_keys=False) + "\n"
