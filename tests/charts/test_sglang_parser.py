"""Every command line the kt-sglang chart renders is accepted by sglang-kt 0.7.2's own parser.

The parser is sglang's `ServerArgs.add_cli_args` from the pinned sglang-kt wheel (sha256 in
manifests/sglang.json), in the environment `scripts/engine-flags venv sglang` builds: the wheel with
--no-deps on top of the pinned vLLM environment (same torch 2.9.1) plus orjson, IPython and
traitlets. Nothing in the parser is stubbed. What does not run: `ServerArgs.__post_init__`, which
reads the model's config.json and probes the GPUs (scripts/engine_flags/sglang_parser.py maps the
parsed namespace onto ServerArgs' fields the way `from_cli_args` does, without constructing it).
"""

from __future__ import annotations


import pytest

from leviathan import versions
from leviathan.engines import flag_manifest
from leviathan.synth import ROOT

from .conftest import docs, engine_container
from .test_engine_parsers import bundle_args, engine_python, parse_with_engine

ENGINE_FLAGS = ROOT / "scripts" / "engine-flags"
# The pre-November-2025 names (upstream PR #12834 renamed them): they must not parse any more.
OLD_NAMES = ["--model-path", "/m", "--kt-amx-weight-path", "/m", "--kt-amx-method", "AMXINT4"]
RENDERS = {
    "default": [],
    "amx": ["cpu.isa=amx", "model.cpuWeights.repo=org/cpu-weights"],
    "amx int8, one GPU": ["cpu.isa=amx", "cpu.method=AMXINT8", "download.enabled=false", "gpus.count=1",
                          "engine.tensorParallelSize=1", "engine.watchdogTimeoutSeconds=900"],
    "fp8 with extra args": ["cpu.method=FP8", "engine.extraArgs={--enable-mixed-chunk,--kt-expert-placement-strategy,frequency}"],
}


@pytest.fixture(scope="session")
def sglang_python() -> str:
    return engine_python("sglang")


@pytest.fixture(scope="session")
def sglang_verdicts(sglang_python, helm, charts_dir, tmp_path_factory) -> dict[str, dict]:
    argvs = dict(bundle_args("kt-sglang"))
    for name, sets in RENDERS.items():
        argvs[name] = engine_container(docs(helm.template(charts_dir / "kt-sglang", sets=sets).stdout))["args"]
    argvs["old names"] = OLD_NAMES
    verdicts = parse_with_engine(sglang_python, "sglang", list(argvs.values()), tmp_path_factory.mktemp("sglang-parse"))
    return dict(zip(argvs, verdicts))


def test_manifest_comes_from_the_pinned_wheel():
    manifest = flag_manifest.load("sglang")
    pins = versions.image("kt-sglang-avx512").args
    assert manifest.version == pins["SGLANG_KT_VERSION"] == versions.image("kt-sglang-amx").args["SGLANG_KT_VERSION"]
    assert manifest.raw["source"]["package"] == f"sglang-kt=={manifest.version}"
    assert len(manifest.raw["source"]["sha256"]) == 64
    options = manifest.options
    assert options["--kt-method"]["type"] == "str" and options["--kt-threadpool-count"]["type"] == "int"
    assert options["--tp-size"]["dest"] == options["--tensor-parallel-size"]["dest"]
    assert not [flag for flag in options if flag.startswith("--kt-amx")]


def test_sglang_accepts_every_rendered_command_line(sglang_verdicts):
    rendered = {name: v for name, v in sglang_verdicts.items() if name != "old names"}
    assert len(rendered) >= len(RENDERS) + 2
    for name, verdict in rendered.items():
        assert verdict["accepted"], (name, verdict)
        values, argv = verdict["values"], verdict["argv"]
        assert values["host"] == "0.0.0.0" and values["port"] == int(argv[argv.index("--port") + 1]), name
        assert values["kt_weight_path"] and values["kt_method"] in ("RAWINT4", "FP8", "AMXINT4", "AMXINT8"), name
        assert values["trust_remote_code"] and values["enable_metrics"], name
        assert values["watchdog_timeout"] >= 300, name


def test_the_parser_reads_the_isa_choices(sglang_verdicts):
    assert sglang_verdicts["default.yaml"]["values"]["kt_method"] == "RAWINT4"
    amx = sglang_verdicts["amx"]["values"]
    assert amx["kt_method"] == "AMXINT4" and amx["kt_weight_path"] == "/models/kimi-k2.5-cpu-weights"
    assert sglang_verdicts["amx int8, one GPU"]["values"]["tp_size"] == 1
    assert sglang_verdicts["fp8 with extra args"]["values"]["kt_expert_placement_strategy"] == "frequency"
    ice = sglang_verdicts["ice.yaml"]["values"]
    assert (ice["kt_cpuinfer"], ice["kt_threadpool_count"], ice["tp_size"], ice["port"]) == (124, 2, 2, 31245)
    assert ice["enable_p2p_check"] and ice["kt_weight_path"] == ice["model_path"]


def test_sglang_parser_refuses_the_old_kt_amx_names(sglang_verdicts):
    # Proof that the parser is live: the renamed flags exit 2 with argparse's message.
    old = sglang_verdicts["old names"]
    assert not old["accepted"] and old["exit"] == 2
    assert "unrecognized arguments: --kt-amx-weight-path" in old["message"]
