"""Flag manifests (generated from the engines' own parsers) and the `engine.extraArgs` check built on them."""

from __future__ import annotations

import json

import pytest

from leviathan import versions
from leviathan.engines import flag_manifest
from leviathan.helm.holes import Expr, If, Kind, Cond

from .conftest import docs, engine_container


def test_manifests_are_generated_from_the_pinned_engine_versions():
    kt = flag_manifest.load("ktransformers")
    pins = versions.image("ktransformers").args
    assert kt.raw["source"]["commit"] == pins["KTRANSFORMERS_COMMIT"], \
        "ktransformers pin moved: run scripts/engine-flags generate"
    assert kt.raw["source"]["tag"] == pins["KTRANSFORMERS_TAG"]
    vllm = flag_manifest.load("vllm")
    assert vllm.version == versions.image("vllm").args["VLLM_VERSION"], \
        "vllm pin moved: run scripts/engine-flags generate"
    assert vllm.raw["source"]["package"] == f"vllm=={vllm.version}"
    assert len(vllm.raw["source"]["sha256"]) == 64


def test_manifests_hold_the_real_parsers_options():
    kt = flag_manifest.load("ktransformers").options
    assert kt["--cpu_infer"]["type"] == "int"
    assert "--no-use_cuda_graph" in kt and kt["--no-use_cuda_graph"]["dest"] == "use_cuda_graph"
    # The seed's flags: one never existed, one is parsed but never read.
    assert "--cpu_offload_max_threads" not in kt
    assert "--gpu_split" in kt
    vllm = flag_manifest.load("vllm").options
    assert vllm["-tp"]["dest"] == vllm["--tensor-parallel-size"]["dest"] == "tensor_parallel_size"
    assert vllm["--enforce-eager"]["nargs"] == 0


def test_charts_ship_their_manifest_and_what_they_own(charts_dir):
    shipped = json.loads((charts_dir / "ktransformers" / flag_manifest.CHART_FILE).read_text())
    assert shipped["options"] == flag_manifest.load("ktransformers").options
    assert shipped["owned"]["port"] == "engine.port"
    assert shipped["owned"]["host"] == ""
    assert "storage.mountPath" in shipped["owned"]["gguf_path"]
    vllm = json.loads((charts_dir / "vllm" / flag_manifest.CHART_FILE).read_text())
    assert vllm["owned"]["model"] == "model.id"


def test_every_flag_a_chart_writes_must_exist_in_the_manifest():
    kt = flag_manifest.load("ktransformers")
    with pytest.raises(ValueError, match="--cpu_offload_max_threads"):
        flag_manifest.owned_dests(kt, ["--port", Expr(".Values.engine.port", Kind.INT),
                                       If(Cond("true"), ["--cpu_offload_max_threads", "96"])])


def extra(helm, charts_dir, chart, args, field="extraArgs", check=False):
    return helm.run("template", "t", str(charts_dir / chart), "--set-json",
                    f"engine.{field}={json.dumps(args)}", check=check)


@pytest.mark.parametrize(("chart", "args", "problem"), [
    ("ktransformers", ["--cpu_offload_max_threads", "96"],
     'engine.extraArgs[0]: "--cpu_offload_max_threads" is not a flag of ktransformers 0.4.1'),
    ("ktransformers", ["--web", "True", "--port", "9000"],
     'engine.extraArgs[2]: "--port" is already set by the chart from engine.port'),
    ("ktransformers", ["--gguf_path=/elsewhere"],
     'engine.extraArgs[0]: "--gguf_path" is already set by the chart from storage.mountPath, model.gguf.dir, '
     'model.gguf.quant'),
    ("ktransformers", ["--use_cuda_graph"],
     '"--use_cuda_graph" is already set by the chart from engine.useCudaGraph'),
    ("ktransformers", ["--host", "127.0.0.1"], '"--host" is fixed by the chart'),
    ("vllm", ["--max_model_len", "4096"],
     'engine.extraArgs[0]: "--max_model_len" is already set by the chart from engine.maxModelLen'),
    ("vllm", ["--model", "other/model"], '"--model" is already set by the chart from model.id'),
    ("vllm", ["-tp", "2"], '"-tp" is already set by the chart from engine.tensorParallelSize'),
    ("vllm", ["--kv-cache-dtype", "fp8", "--gpu-split", "1"],
     'engine.extraArgs[2]: "--gpu-split" is not a flag of vllm 0.14.1'),
    ("kt-sglang", ["--kt-amx-method", "AMXINT4"], 'engine.extraArgs[0]: "--kt-amx-method" is not a flag of sglang 0.7.2'),
    ("kt-sglang", ["--tp-size", "4"], '"--tp-size" is already set by the chart from engine.tensorParallelSize'),
    ("kt-sglang", ["--kt-method", "FP8"], '"--kt-method" is already set by the chart from cpu.isa, cpu.method'),
])
def test_extra_args_refuse_unknown_and_owned_flags(helm, charts_dir, chart, args, problem):
    result = extra(helm, charts_dir, chart, args)
    assert result.returncode != 0
    assert problem in result.stderr


@pytest.mark.parametrize(("chart", "args"), [
    ("ktransformers", ["--force_think", "--page_size", "256", "--temperature=0.6"]),
    ("vllm", ["--kv-cache-dtype", "fp8", "--max_num_seqs", "8", "--compilation-config.mode", "3",
              "--swap-space", "-1"]),
])
def test_known_extra_args_render_verbatim(helm, charts_dir, chart, args):
    result = extra(helm, charts_dir, chart, args, check=True)
    rendered = engine_container(docs(result.stdout))["args"]
    assert rendered[-len(args):] == args


def test_unchecked_escape_hatch_skips_the_manifest_but_not_owned_flags(helm, charts_dir):
    result = extra(helm, charts_dir, "vllm", ["--my-patched-flag", "1"], field="extraArgsUnchecked", check=True)
    assert engine_container(docs(result.stdout))["args"][-2:] == ["--my-patched-flag", "1"]
    refused = extra(helm, charts_dir, "vllm", ["--port", "1"], field="extraArgsUnchecked")
    assert refused.returncode != 0
    assert 'engine.extraArgsUnchecked[0]: "--port" is already set by the chart' in refused.stderr
