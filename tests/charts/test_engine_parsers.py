"""Every command line the charts render is accepted by the pinned engine's argument parser.

- vLLM: the real `vllm serve` parser of vLLM 0.14.1, from its wheel, in the environment
  `scripts/engine-flags venv vllm` builds (`make test` builds it once into ~/.cache/leviathan).
  Nothing is stubbed; the parse and `ServeSubcommand.validate` run as in `vllm serve`.
- KTransformers: no package registry carries the v0.4.1 source, so `make test` cannot import its
  `server/args.py`. The parser is rebuilt from the flag manifest that the engine's own `args.py`
  produced at the pinned commit (scripts/engine-flags: option strings, types, nargs, actions;
  the server's parser is plain argparse). The real parser ran on a GPU machine with the chart's
  args (images/ktransformers/GPU-PROOF.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess

import pytest
import yaml

from leviathan.engines import flag_manifest
from leviathan.synth import ROOT

from .conftest import docs, engine_container

ENGINE_FLAGS = ROOT / "scripts" / "engine-flags"


def bundle_args(chart: str) -> list[tuple[str, list[str]]]:
    found = []
    for bundle in sorted((ROOT / "rendered" / chart).glob("*.yaml")):
        deployment = next(d for d in yaml.safe_load_all(bundle.read_text()) if d and d["kind"] == "Deployment")
        found.append((bundle.name, deployment["spec"]["template"]["spec"]["containers"][0]["args"]))
    assert found, f"no bundles for {chart}"
    return found


def engine_python(engine: str) -> str:
    """The interpreter of the pinned engine environment (`scripts/engine-flags venv ENGINE`, built once)."""
    result = subprocess.run([str(ENGINE_FLAGS), "venv", engine], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def parse_with_engine(python: str, engine: str, argvs: list[list[str]], work) -> list[dict]:
    """The engine's real parser over many command lines at once (one engine import): one verdict
    per argv, from scripts/engine_flags/<engine>_parser.py."""
    (work / "argvs.json").write_text(json.dumps(argvs))
    result = subprocess.run([python, str(ROOT / "scripts" / "engine_flags" / f"{engine}_parser.py"), "parse",
                             str(work / "argvs.json")], capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT / "scripts" / "engine_flags"), "PATH": "/usr/bin:/bin",
                                 "HOME": str(work)})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def vllm_python() -> str:
    return engine_python("vllm")


SEED_FLAG = ["/models/m", "--gpu-split", "90000,30000"]


@pytest.fixture(scope="session")
def vllm_verdicts(vllm_python, helm, charts_dir, tmp_path_factory) -> list[dict]:
    """One run of vLLM's parser (importing vLLM takes most of a minute) over every command line."""
    argvs = [args for _, args in bundle_args("vllm")]
    argvs.append(engine_container(docs(helm.template(charts_dir / "vllm").stdout))["args"])
    extra = helm.template(charts_dir / "vllm", sets=["engine.maxModelLen=8192", "engine.enforceEager=true",
                                                     "engine.trustRemoteCode=true", "engine.quantization=awq"])
    argvs.append(engine_container(docs(extra.stdout))["args"])
    argvs.append(SEED_FLAG)
    return parse_with_engine(vllm_python, "vllm", argvs, tmp_path_factory.mktemp("vllm-parse"))


def test_vllm_accepts_every_rendered_command_line(vllm_verdicts):
    rendered = [v for v in vllm_verdicts if v["argv"] != SEED_FLAG]
    assert len(rendered) >= 4
    for verdict in rendered:
        assert verdict["accepted"], verdict
        assert verdict["port"] == int(verdict["argv"][verdict["argv"].index("--port") + 1])


def test_vllm_parser_refuses_what_the_seed_got_wrong(vllm_verdicts):
    # Proof that the parser is live: a flag that does not exist exits 2 with argparse's message.
    seed = next(v for v in vllm_verdicts if v["argv"] == SEED_FLAG)
    assert not seed["accepted"] and seed["exit"] == 2
    assert "unrecognized arguments: --gpu-split" in seed["message"]


def kt_parser() -> argparse.ArgumentParser:
    """The KTransformers server's parser, rebuilt from the manifest its own args.py produced."""
    manifest = flag_manifest.load("ktransformers")
    parser = argparse.ArgumentParser(prog="kvcache.ai", exit_on_error=False)
    types = {"str": str, "int": int, "float": float, "bool": bool, "list": list, None: None}
    by_dest: dict[str, list[tuple[str, dict]]] = {}
    for option, spec in manifest.options.items():
        by_dest.setdefault((spec["dest"], spec["action"]), []).append((option, spec))
    for (dest, action), entries in by_dest.items():
        options = sorted(option for option, _ in entries)
        spec = entries[0][1]
        if action == "help":
            continue
        if action == "BooleanOptionalAction":
            positive = [o for o in options if not o.startswith("--no-")]
            parser.add_argument(*positive, dest=dest, action=argparse.BooleanOptionalAction)
        else:
            parser.add_argument(*options, dest=dest, type=types[spec["type"]], nargs=None if spec["nargs"] == 1
                                else spec["nargs"], choices=spec.get("choices"))
    return parser


def test_ktransformers_parser_rebuilt_from_the_manifest_is_faithful():
    parser = kt_parser()
    options = {o for action in parser._actions for o in action.option_strings}
    assert options == set(flag_manifest.load("ktransformers").options)


def test_ktransformers_accepts_every_rendered_command_line(helm, charts_dir):
    parser = kt_parser()
    argvs = bundle_args("ktransformers")
    argvs.append(("default render", engine_container(docs(helm.template(charts_dir / "ktransformers").stdout))["args"]))
    multi = helm.template(charts_dir / "ktransformers", sets=["gpus.count=2", "engine.backendType=ktransformers",
                                                             "engine.useCudaGraph=false"])
    argvs.append(("two GPUs", engine_container(docs(multi.stdout))["args"]))
    for name, argv in argvs:
        args = parser.parse_args(argv)
        assert args.port and args.gguf_path and args.model_path, name


def test_ktransformers_parser_refuses_the_seeds_flags():
    with pytest.raises(SystemExit):
        kt_parser().parse_args(["--port", "30000", "--cpu_offload_max_threads", "96"])
