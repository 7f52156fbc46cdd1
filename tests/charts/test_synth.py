"""Synth is deterministic, and what is committed under charts/ and rendered/ is what synth writes."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import Future
from pathlib import Path

import pytest

from leviathan import synth as synth_module
from leviathan.helm import bundles
from leviathan.synth import ROOT, synth

# LICENSE and CHANGELOG.md: Helm's conventional chart files, packaged for users (Artifact Hub shows them).
HELM_TOP_LEVEL = {"Chart.yaml", "values.yaml", "values.schema.json", "README.md", ".helmignore", "LICENSE", "CHANGELOG.md"}


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_synths_are_byte_identical(synth_root, tmp_path, monkeypatch):
    """The second one renders the bundles with the helm binary, one process each (synth's renderer
    when helm-batch is not built), so this also proves both renderers write the same."""
    monkeypatch.setenv("LEVIATHAN_HELM_BATCH", "0")
    renderer = bundles.renderer()
    renderer.close()
    assert isinstance(renderer, bundles.HelmProcesses)
    synth(tmp_path, log=lambda *_: None)
    for part in ("charts", "rendered"):
        first, second = tree(synth_root / part), tree(tmp_path / part)
        assert first.keys() == second.keys()
        changed = [name for name in first if first[name] != second[name]]
        assert not changed, f"non-deterministic output: {changed}"


def test_committed_output_is_up_to_date(synth_root):
    """Golden check: a failing diff shows exactly which rendered line changed; run `make synth`."""
    for part in ("charts", "rendered"):
        fresh, committed = tree(synth_root / part), tree(ROOT / part)
        assert fresh.keys() == committed.keys(), (
            f"{part}/ files differ from a fresh synth; run `make synth`: "
            f"missing={sorted(fresh.keys() - committed.keys())} extra={sorted(committed.keys() - fresh.keys())}")
        for name in fresh:
            if fresh[name] != committed[name]:
                diff = difflib.unified_diff(
                    committed[name].decode().splitlines(), fresh[name].decode().splitlines(),
                    f"committed/{part}/{name}", f"fresh/{part}/{name}", lineterm="", n=2)
                raise AssertionError("run `make synth`:\n" + "\n".join(list(diff)[:80]))


def test_chart_directories_have_the_helm_layout(charts_dir):
    for chart in charts_dir.iterdir():
        for required in ("Chart.yaml", "values.yaml", "values.schema.json", "README.md",
                         "templates/_helpers.tpl", "templates/NOTES.txt", "templates/deployment.yaml",
                         "templates/service.yaml", "templates/tests/test-openai-api.yaml"):
            assert (chart / required).is_file(), f"{chart.name}: missing {required}"
        # Nothing else: a stray file would be packaged by `helm package` and shipped to users.
        stray = [str(path.relative_to(chart)) for path in chart.rglob("*")
                 if path.is_file() and not _in_helm_layout(path.relative_to(chart))]
        assert not stray, f"{chart.name}: files outside the Helm chart layout: {stray}"


def _in_helm_layout(path: Path) -> bool:
    if len(path.parts) == 1:
        return path.name in HELM_TOP_LEVEL
    if path.parts[0] == "templates":
        return path.suffix in (".yaml", ".tpl", ".txt")
    if path.parts[0] == "files":  # files the templates read (.Files), e.g. the engine flag manifest
        return path.suffix == ".json"
    return path.parts[0] == "profiles" and len(path.parts) == 2 and path.suffix == ".yaml"


def test_a_failing_synth_leaves_the_previous_output_untouched(synth_root, tmp_path, monkeypatch):
    """A failure halfway (here: helm failing on a later bundle) must not leave charts/ or rendered/
    half deleted or half written."""
    for part in ("charts", "rendered"):
        shutil.copytree(synth_root / part, tmp_path / part)
    before = {part: tree(tmp_path / part) for part in ("charts", "rendered")}
    real_text, calls = synth_module.bundle_text, []

    def fail_on_the_second_bundle(bundle, rendering):
        calls.append(bundle)
        if len(calls) == 2:
            return real_text(bundle, _failed())
        return real_text(bundle, rendering)

    monkeypatch.setattr(synth_module, "bundle_text", fail_on_the_second_bundle)
    with pytest.raises(SystemExit):
        synth(tmp_path, log=lambda *_: None)
    assert len(calls) >= 2
    assert {part: tree(tmp_path / part) for part in ("charts", "rendered")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["charts", "rendered"], "staging left behind"


def _failed() -> Future:
    """A rendering on which helm failed."""
    failed = Future()
    failed.set_result(bundles.Result("", "Error: injected failure", 1))
    return failed


def test_main_py_makes_the_values_files_in_a_second_process_and_writes_the_same(synth_root, tmp_path):
    """`make synth` (main.py) forks the values side; the tests' in-process synth makes it inline."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "--out", str(tmp_path)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "in a second process" in result.stdout
    for part in ("charts", "rendered"):
        assert tree(tmp_path / part) == tree(synth_root / part), part


def run_values_process(tmp_path, setup: str) -> subprocess.CompletedProcess:
    """ValuesProcess in a fresh interpreter (no thread yet, as in main.py), after `setup`."""
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        import leviathan.values_process as values_process
        {setup}
        process = values_process.ValuesProcess()
        try:
            process.shapes()
            process.result()
        except Exception as error:
            print(type(error).__name__ + ": " + str(error))
        finally:
            process.close()
        try:
            os.waitpid(-1, os.WNOHANG)
            print("a child was not reaped")
        except ChildProcessError:
            print("all children reaped")
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)


def test_a_bad_profile_fails_the_forked_synth_naming_the_file(tmp_path):
    profile = tmp_path / "vllm" / "typo.yaml"
    profile.parent.mkdir()
    profile.write_text("engine:\n  gpuMemoryUtilisation: 0.9\n")
    setup = (f"import leviathan.helm.values_files as values_files; "
             f"values_files.PROFILES = Path({str(tmp_path)!r})")
    result = run_values_process(tmp_path, setup)
    assert result.returncode == 0, result.stderr
    assert f"ProfileError: {profile}" in result.stdout
    assert "gpuMemoryUtilisation" in result.stdout
    assert "all children reaped" in result.stdout


def test_a_failure_in_the_values_process_comes_back_with_its_traceback(tmp_path):
    setup = ("def broken():\n            raise KeyError('no such chart')\n"
             "        values_process.all_values_files = broken")
    result = run_values_process(tmp_path, setup)
    assert "RuntimeError: synth's values process failed:" in result.stdout
    assert "KeyError: 'no such chart'" in result.stdout
    assert "all children reaped" in result.stdout


def test_a_values_process_that_dies_is_reported(tmp_path):
    result = run_values_process(tmp_path, "values_process.all_values_files = lambda: os._exit(3)")
    assert "RuntimeError: synth's values process died (exit 3) before it answered" in result.stdout
    assert "all children reaped" in result.stdout
