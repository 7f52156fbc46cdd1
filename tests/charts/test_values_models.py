"""The values models as synth's two processes use them: the construct side reads their fields only
(no pydantic validator is built there), and what the fast paths compute equals what pydantic itself
would (attribute docstrings, float bounds, section defaults in the schema)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest
from pydantic import BaseModel, Field
from pydantic._internal._docs_extraction import extract_docstrings_from_cls

from leviathan.config import base, charts
from leviathan.config.base import ValuesModel, section, shape_of
from leviathan.config.docstrings import attribute_docstrings
from leviathan.config.shape import float_fields
from leviathan.helm.schema import values_schema
from leviathan.synth import ROOT


def all_models() -> list[type[ValuesModel]]:
    found, stack = [], list(ValuesModel.__subclasses__())
    while stack:
        model = stack.pop()
        if model.__module__.startswith("leviathan.config."):
            found.append(model)
        stack += model.__subclasses__()
    return sorted(found, key=lambda model: (model.__module__, model.__qualname__))


def test_every_chart_module_defines_models():
    modules = {model.__module__ for model in all_models()}
    assert {"leviathan.config.common", "leviathan.config.kt_sglang", "leviathan.config.ktransformers",
            "leviathan.config.llamacpp", "leviathan.config.vllm"} <= modules


@pytest.mark.parametrize("model", all_models(), ids=lambda model: f"{model.__module__}.{model.__qualname__}")
def test_attribute_docstrings_are_read_as_pydantic_reads_them(model):
    assert attribute_docstrings(model) == extract_docstrings_from_cls(model, use_inspect=True)


def test_each_field_gets_its_own_docstring_and_an_explicit_description_wins():
    class Demo(ValuesModel):
        plain: int = 1
        """The plain one,
        on two lines."""
        explicit: int = Field(2, description="given")
        """ignored"""
        undocumented: int = 3

    fields = Demo.model_fields
    assert fields["plain"].description == "The plain one,\non two lines."
    assert fields["explicit"].description == "given"
    assert fields["undocumented"].description is None


def test_float_bounds_equal_the_json_schema_bounds():
    checked = 0
    for model in all_models():
        schema = model.model_json_schema(by_alias=True)
        for path, bounds in float_fields(shape_of(model)):
            if path.count(".") != 2:  # a nested model's fields are checked with that model
                continue
            prop = schema["properties"][path.rsplit(".", 1)[1]]
            keywords = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
            assert bounds == {key: prop[key] for key in keywords if key in prop}, (model, path)
            checked += 1
    assert checked >= 4


def test_float_bounds_keep_the_schema_keyword_order():
    class Fraction(ValuesModel):
        share: float = Field(0.5, lt=1, ge=0)
        """A share."""

    assert list(float_fields(shape_of(Fraction))[0][1].items()) == [("minimum", 0), ("exclusiveMaximum", 1)]


def test_a_section_default_is_in_the_schema_as_a_plain_default_would_be():
    class Inner(ValuesModel):
        size: int = 4
        """A size."""

    class WithSection(ValuesModel):
        inner: Inner = section(lambda: Inner(size=8))
        """A section."""

    class WithInstance(BaseModel):  # pydantic's own rendering of a plain default
        inner: Inner = Inner(size=8)

    assert values_schema(WithSection)["properties"]["inner"]["default"] == {"size": 8}
    assert WithInstance.model_json_schema(by_alias=True)["properties"]["inner"]["default"] == {"size": 8}


@pytest.mark.parametrize("name", list(charts.VALUES))
def test_every_section_default_of_a_chart_is_in_its_schema(name):
    values = charts.VALUES[name]
    defaults = values().model_dump(mode="json", by_alias=True)
    properties = values_schema(values)["properties"]
    for key, value in defaults.items():
        if isinstance(value, dict) and properties[key].get("type") == "object" and "properties" in properties[key]:
            assert properties[key]["default"] == value, key


def test_sections_are_made_per_values_object():
    first, second = charts.VALUES["vllm"](), charts.VALUES["vllm"]()
    assert first.storage == second.storage and first.storage is not second.storage


def test_the_construct_side_imports_no_pydantic():
    """synth's first process builds every chart from the shapes its values process sends; pydantic
    there (an import, a validator) would be CPU taken from jsii's start-up."""
    script = textwrap.dedent("""
        import json, sys
        from leviathan.values_process import ValuesProcess
        values = ValuesProcess()
        from leviathan.synth import build_charts
        names = [variant.name for variant, chart in build_charts(shapes=values.shapes())]
        values.result()
        values.close()
        print(json.dumps({"charts": names, "pydantic": sorted(m for m in sys.modules if m.startswith("pydantic"))}))
    """)
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["charts"] == list(charts.VALUES)
    assert answer["pydantic"] == [], f"the construct side imported {answer['pydantic']}"


def test_making_the_shapes_builds_no_pydantic_validator():
    """The values process sends the shapes before its heavy work; making them only reads fields."""
    script = textwrap.dedent("""
        import json
        import pydantic._internal._model_construction as construction
        import pydantic.plugin._schema_validator as validator
        built = []
        real = validator.create_schema_validator
        def counting(schema, schema_type, *args, **kwargs):
            built.append(getattr(schema_type, "__qualname__", str(schema_type)))
            return real(schema, schema_type, *args, **kwargs)
        validator.create_schema_validator = construction.create_schema_validator = counting
        from leviathan.config.charts import shapes
        shapes()
        print(json.dumps(built))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_shapes_pickle():
    shapes = charts.shapes()
    assert pickle.loads(pickle.dumps(shapes)) == shapes


def test_registry_and_values_agree():
    import cdk8s

    from leviathan.variants import REGISTRY

    app = cdk8s.App()
    assert [variant.name for variant in REGISTRY] == list(charts.VALUES)
    for variant in REGISTRY:
        assert variant.chart(app).values == shape_of(charts.VALUES[variant.name])


def test_values_models_are_deferred():
    assert base.ValuesModel.model_config["defer_build"] is True
