"""Field descriptions from attribute docstrings (the string under a field), as pydantic's
`use_attribute_docstrings` reads them, for less.

pydantic (on Python < 3.13) finds each class's source by walking the interpreter's frames and
tokenizing from the class line, once per class: two thirds of the cost of defining the values
models (0.066 of 0.112 s CPU, in each of synth's two processes). Here each module's source is
parsed once. tests/charts/test_values_models.py checks the result against pydantic's own extraction.
"""

from __future__ import annotations

import ast
import inspect
import sys
from functools import cache


def attribute_docstrings(cls: type) -> dict[str, str]:
    """{attribute: docstring} of the annotated attributes in `cls`'s own body."""
    path = getattr(sys.modules.get(cls.__module__), "__file__", None)
    return _module_docstrings(path).get(cls.__qualname__, {}) if path else {}


@cache
def _module_docstrings(path: str) -> dict[str, dict[str, str]]:
    """{class qualname: its attribute docstrings} for every class in the module."""
    with open(path, encoding="utf-8") as source:
        tree = ast.parse(source.read(), path)
    found: dict[str, dict[str, str]] = {}
    _collect(tree, "", found)
    return found


def _collect(node: ast.AST, prefix: str, found: dict[str, dict[str, str]]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            found[prefix + child.name] = _class_docstrings(child)
            _collect(child, f"{prefix}{child.name}.", found)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _collect(child, f"{prefix}{child.name}.<locals>.", found)
        else:
            _collect(child, prefix, found)


def _class_docstrings(node: ast.ClassDef) -> dict[str, str]:
    # pydantic's rule: a string statement right after an annotated assignment `name: T [= ...]`.
    docs: dict[str, str] = {}
    target: str | None = None
    previous: ast.stmt | None = None
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            target = statement.target.id
        elif (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
              and isinstance(statement.value.value, str) and isinstance(previous, ast.AnnAssign)):
            if target:
                docs[target] = inspect.cleandoc(statement.value.value)
            target = None
        previous = statement
    return docs
