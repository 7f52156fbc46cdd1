"""The top-level `constructs/` folder must never shadow the PyPI `constructs` package cdk8s imports."""

import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_constructs_folder_is_not_a_package():
    assert not (ROOT / "constructs" / "__init__.py").exists(), (
        "constructs/__init__.py would shadow the `constructs` library that cdk8s imports")


def test_constructs_resolves_to_the_library():
    constructs = importlib.import_module("constructs")
    assert hasattr(constructs, "Construct"), "`import constructs` did not load the jsii library"
    assert "site-packages" in str(Path(constructs.__file__)), constructs.__file__


def test_project_package_is_importable_by_its_own_name():
    leviathan = importlib.import_module("leviathan")
    assert Path(leviathan.__file__).parent == ROOT / "constructs" / "leviathan"
