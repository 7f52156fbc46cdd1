"""libyaml (leviathan.cyaml) writes and reads exactly what pure-Python PyYAML would, on everything a
synth dumps and loads: every call is recorded during a synth and replayed through the Python
parser and emitter (with the same representers)."""

from __future__ import annotations

import yaml

from leviathan import cyaml
from leviathan.synth import synth


def python_twin(dumper: type) -> type:
    """The pure-Python SafeDumper with `dumper`'s representers (e.g. Chart.yaml's literal blocks)."""
    return type(f"Python{dumper.__name__}", (yaml.SafeDumper,), {
        "yaml_representers": dumper.yaml_representers, "yaml_multi_representers": dumper.yaml_multi_representers})


def test_libyaml_and_python_yaml_agree_on_everything_synth_writes(tmp_path, monkeypatch):
    dumps, loads = [], []
    dump_all, load = yaml.dump_all, yaml.load

    def recording_dump_all(documents, stream=None, Dumper=yaml.Dumper, **options):
        text = dump_all(documents, stream, Dumper=Dumper, **options)
        dumps.append((list(documents), Dumper, options, text))
        return text

    def recording_load(stream, Loader):
        data = load(stream, Loader=Loader)
        loads.append((stream, Loader, data))
        return data

    monkeypatch.setattr(yaml, "dump_all", recording_dump_all)
    monkeypatch.setattr(yaml, "load", recording_load)
    synth(tmp_path, log=lambda *_: None)
    monkeypatch.undo()

    assert {dumper for _, dumper, _, _ in dumps} >= {cyaml.SafeDumper}
    assert all(issubclass(dumper, yaml.CSafeDumper) for _, dumper, _, _ in dumps), "a dump bypassed libyaml"
    assert len(dumps) > 100 and len(loads) >= 4, (len(dumps), len(loads))
    for documents, dumper, options, text in dumps:
        python = yaml.dump_all(documents, Dumper=python_twin(dumper), **options)
        # The one known difference: after a top-level plain scalar the Python emitter writes a
        # document-end marker, libyaml does not; cyaml.one_line drops it either way.
        if python != text and python == text + "...\n":
            assert cyaml.one_line(documents[0], **options) == text.removesuffix("\n")
            continue
        assert python == text, documents
    for stream, loader, data in loads:
        assert loader is yaml.CSafeLoader
        assert yaml.load(stream, Loader=yaml.SafeLoader) == data
