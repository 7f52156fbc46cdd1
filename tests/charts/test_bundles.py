"""helm-batch (synth's bundle renderer) is the official helm binary's code: the same version stamps,
and byte for byte the same output, errors and exit codes on every bundle."""

from __future__ import annotations

import pytest

from leviathan.helm import bundles

from .conftest import CHART_NAMES, profiles


@pytest.fixture(scope="module")
def batch():
    path = bundles.binary()
    assert path.exists(), f"helm-batch is not built for these sources ({path}): run `make setup` (needs Go)"
    renderer = bundles.HelmBatch(path)
    yield renderer
    renderer.close()


def official(helm, *args: str) -> bundles.Result:
    result = helm.run(*args)
    return bundles.Result(result.stdout, result.stderr, result.returncode)


def test_synth_renders_with_helm_batch_when_it_is_built(batch):
    renderer = bundles.renderer()
    renderer.close()
    assert isinstance(renderer, bundles.HelmBatch)


def test_helm_batch_is_the_pinned_helm_release(helm, batch):
    """Same Helm version, commit, Go version and client-go (hence .Capabilities) as the binary."""
    assert batch.submit(["version"]).result() == official(helm, "version")
    assert f'Version:"{bundles.helm_version()}"' in official(helm, "version").stdout


CASES = [[chart] for chart in CHART_NAMES] + [[chart, str(p)] for chart in CHART_NAMES for p in profiles(chart)]


@pytest.mark.parametrize("case", CASES, ids=["-".join(c[:1] + [c[-1].rsplit("/", 1)[-1]]) for c in CASES])
def test_helm_batch_renders_every_bundle_like_the_binary(helm, batch, charts_dir, case):
    args = ["template", "r", str(charts_dir / case[0]), "--skip-tests"] + (["-f", case[1]] if len(case) > 1 else [])
    assert batch.submit(args).result() == official(helm, *args)


@pytest.mark.parametrize("bad", [["--set", "gpus.count=-5"], ["--set", "engine.extraArgs={--no-such-flag}"],
                                 ["--no-such-option"]])
def test_helm_batch_fails_like_the_binary(helm, batch, charts_dir, bad):
    args = ["template", "r", str(charts_dir / "vllm"), *bad]
    result = batch.submit(args).result()
    assert result.exit != 0 and result.stderr.startswith("Error: ")
    assert result == official(helm, *args)
    # the process lives on after a failed command
    assert batch.submit(["template", "r", str(charts_dir / "vllm")]).result().exit == 0
