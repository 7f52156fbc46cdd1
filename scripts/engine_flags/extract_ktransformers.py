"""Run inside a scratch dir holding KTransformers' `ktransformers/server/args.py` at the pinned commit:
build the server's real argparse parser and print it as JSON (one entry per option string).

`ArgumentParser.parse_args()` at v0.4.1 builds its `argparse.ArgumentParser` and parses sys.argv
in one method, then loads the model config. We let the engine's own code build the parser and
stop it at `parse_args`, so every `add_argument` call that runs is the engine's.

Stubbed, because building the parser never touches them (they are imported at module top, used only
after parsing): `ktransformers.server.backend.args`, `ktransformers.util.utils` (torch),
`transformers.AutoConfig` and the `ktransformers.models.configuration_*` classes. The `cfg` object
gives `None` for every default: defaults are not part of the manifest.
"""

import argparse
import json
import sys
import types

from parser_spec import describe


class _Captured(Exception):
    def __init__(self, parser):
        self.parser = parser


def _stub(name: str, **attrs) -> None:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module


class _AnyConfig:
    def __getattr__(self, name):
        return None


def main() -> None:
    for package in ("ktransformers", "ktransformers.server", "ktransformers.server.backend",
                    "ktransformers.util", "ktransformers.models"):
        _stub(package, __path__=[])
    _stub("ktransformers.server.backend.args", ConfigArgs=object, default_args=None)
    _stub("ktransformers.util.utils", get_free_ports=None)
    _stub("transformers", AutoConfig=None)
    for cls, mod in (("Qwen3MoeConfig", "configuration_qwen3_moe"), ("Qwen3NextConfig", "configuration_qwen3_next"),
                     ("SmallthinkerConfig", "configuration_smallthinker"), ("Glm4MoeConfig", "configuration_glm4_moe")):
        _stub(f"ktransformers.models.{mod}", **{cls: None})

    def capture(self, args=None, namespace=None):
        raise _Captured(self)

    argparse.ArgumentParser.parse_args = capture
    import importlib.util
    spec = importlib.util.spec_from_file_location("ktransformers_server_args", "ktransformers/server/args.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.ArgumentParser(_AnyConfig()).parse_args()
    except _Captured as captured:
        json.dump(describe(captured.parser), sys.stdout, indent=1, sort_keys=True)
        return
    raise SystemExit("ktransformers ArgumentParser.parse_args returned without parsing: the extractor is stale")


if __name__ == "__main__":
    main()
