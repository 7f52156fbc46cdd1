"""The base of every chart's typed values, and the shape of a model that the constructs read.

One pydantic model per chart is the single source of values.yaml (defaults + comments),
values.schema.json (types, bounds, unknown keys rejected) and the chart README's values table.
Field names are snake_case in Python and camelCase in Helm values (`cpu_infer` -> `cpuInfer`).
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any, Callable, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ..helm.holes import Kind
from .docstrings import attribute_docstrings
from .shape import FieldShape, ValuesShape


class ValuesModel(BaseModel):
    """Base for values models: camelCase keys, unknown keys rejected, defaults validated.

    Validators are built on first use (`defer_build`): the constructs read only a model's shape
    (`shape_of`, config/shape.py), so only synth's values process builds them (values_process.py)."""

    # regex_engine: Python's `re` compiles the fields' patterns in a fraction of the time of pydantic's
    # default (Rust regex): 0.07 s of CPU in synth's values process. It is laxer in one place (`$` also
    # matches before a final newline); that cannot reach a user: Helm checks every value again against
    # values.schema.json, with Go's regexp, at install and in every bundle synth renders.
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, validate_default=True,
        defer_build=True, regex_engine="python-re",
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Each field's docstring is its description, as with pydantic's `use_attribute_docstrings`
        (see config/docstrings.py). Set before any schema is built: the classes are deferred."""
        super().__pydantic_init_subclass__(**kwargs)
        docs = attribute_docstrings(cls)
        for name, field in cls.model_fields.items():
            if field.description is None and name in docs:
                field.description = docs[name]


Section = TypeVar("Section", bound=ValuesModel)


def section(factory: Callable[[], Section]) -> Section:
    """Default of a nested values section: made when a values object is, not when the class is
    defined (an instance in the class body would build the section's validator at import).
    values.schema.json still shows it as the default (helm/schema.py)."""
    return Field(default_factory=factory)


def kind_of(annotation: Any) -> Kind:
    """Map a field annotation to the JSON kind Helm will see."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return kind_of(get_args(annotation)[0])
    if origin in (list, tuple, set):
        return Kind.LIST
    if origin is dict or annotation is dict:
        return Kind.MAP
    if origin is Literal:
        return Kind.INT if isinstance(get_args(annotation)[0], int) else Kind.STR
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"union values are not supported in Helm values: {annotation}")
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return Kind.MAP
        if issubclass(annotation, bool):
            return Kind.BOOL
        if issubclass(annotation, int):
            return Kind.INT
        if issubclass(annotation, float):
            return Kind.FLOAT
        if issubclass(annotation, (str, Enum)):
            return Kind.STR
    raise TypeError(f"unsupported values annotation {annotation!r}")


def shape_of(model: type[BaseModel]) -> ValuesShape:
    """What the constructs need to know of a values model (config/shape.py)."""
    fields = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        section = shape_of(annotation) if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        kind = kind_of(annotation)
        bounds = {}
        if kind is Kind.FLOAT:
            # The annotated_types constraints that `Field(ge=..., lt=...)` records, as JSON-Schema keywords.
            found = {keyword: getattr(constraint, attribute) for constraint in info.metadata
                     for attribute, keyword in _BOUND_KEYWORDS.items() if hasattr(constraint, attribute)}
            bounds = dict(sorted(found.items(), key=lambda item: _BOUND_ORDER.index(item[0])))
        fields[name] = FieldShape(info.alias or name, kind, bounds, section)
    return ValuesShape(model.__name__, fields)


_BOUND_KEYWORDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
_BOUND_ORDER = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
