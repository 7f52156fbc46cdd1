"""The mock engines reject what the real engines reject: their flag tables (images/mock-engine/
engines.go) hold only options that the pinned engines' own parsers have, with the same arity.

The flag manifests are generated from the real parsers (scripts/engine-flags). A mock that accepted
a flag the engine lacks would let a chart pass e2e and fail on a GPU node.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leviathan.engines import flag_manifest

ENGINES_GO = Path(__file__).resolve().parents[2] / "images" / "mock-engine" / "engines.go"
# vLLM's FlexibleArgumentParser rewrites -O<n> / -O <n> into --optimization-level before parsing.
PREPROCESSED = {"vllm": {"-O"}}


def mock_table(function: str) -> list[tuple[str, str]]:
    source = ENGINES_GO.read_text()
    body = source[source.index(f"func {function}() *engine"):]
    body = body[body.index("flags := []flagSpec{"):]  # after any helper closures
    body = body[:body.index("\n\t}\n")]
    table = []
    for kind, names in re.findall(r'opt\("[^"]+",\s*(\w+),\s*\w+,\s*([^)]*)\)', body):
        table += [(name, kind) for name in re.findall(r'"([^"]+)"', names)]
    assert len(table) > 20, f"could not read the {function} table"
    return table


@pytest.mark.parametrize(("engine", "function"), [("ktransformers", "ktransformersEngine"), ("vllm", "vllmEngine"),
                                                ("llamacpp", "llamaEngine"), ("sglang", "sglangEngine")])
def test_mock_flags_exist_in_the_real_parser_with_the_same_arity(engine, function):
    options = flag_manifest.load(engine).options
    for name, kind in mock_table(function):
        if name in PREPROCESSED.get(engine, set()):
            continue
        assert name in options, f"mock {engine} accepts {name}, which {engine}'s parser does not have"
        spec = options[name]
        if kind == "storeTrue":
            assert spec["nargs"] == 0, name
        elif kind == "boolOptional":
            assert spec["action"] == "BooleanOptionalAction", name
        elif kind == "takesValue":
            assert spec["nargs"] not in (0, "+", "*"), name
