"""PyYAML's safe load and dump through libyaml, its C parser and emitter.

The constructor, representer and resolver are the same Python classes as in `yaml.safe_load` /
`yaml.safe_dump` (CSafeLoader = CParser + SafeConstructor + Resolver), so the data is the same; the
C emitter is the one PyYAML's Python emitter was ported from, and writes the same text for
everything synth writes (tests/charts/test_cyaml.py compares both on it). Synth loads and dumps a
few thousand small documents (profiles, values.yaml lines, template scalars, Chart.yaml), and the
pure-Python parser and emitter were about a sixth of its CPU time.

No silent fallback: a PyYAML without libyaml would make synth slower, and could make its output
differ, so it fails here with a sentence instead.
"""

from __future__ import annotations

from typing import Any

import yaml

if not getattr(yaml, "__with_libyaml__", False):
    raise ImportError("PyYAML was built without libyaml (yaml.CSafeDumper is missing): "
                      "run `make setup`, which installs the pinned PyYAML wheel that includes it")

SafeDumper = yaml.CSafeDumper


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)


def safe_dump(value: Any, **options: Any) -> str:
    return yaml.dump(value, Dumper=yaml.CSafeDumper, **options)


def one_line(value: Any, **options: Any) -> str:
    """`safe_dump(value, **options)` without its line end, nor the document-end marker ("...") that
    PyYAML's Python emitter writes after a top-level plain scalar (libyaml leaves it out): the text
    of a scalar or a flow collection, for a `key: <text>` line."""
    return safe_dump(value, **options).removesuffix("\n").removesuffix("\n...")
