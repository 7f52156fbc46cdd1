"""Chart `llamacpp`: llama-server's command line, the quant table, the memory rule, bad values."""

from __future__ import annotations

import json

import pytest

from leviathan.variants import llamacpp_quants as quants

from .conftest import docs, engine_container, find
from .engine_flags import llamacpp_errors

CHART = "llamacpp"
FITS_EVERY_QUANT = ["resources.memory.limitGiB=600", "model.shards=9"]


def render(helm, charts_dir, *sets: str, check: bool = True):
    return helm.template(charts_dir / CHART, sets=list(sets), check=check)


def args_of(helm, charts_dir, *sets: str, json_sets: dict | None = None) -> list[str]:
    extra = [arg for k, v in (json_sets or {}).items() for arg in ("--set-json", f"{k}={json.dumps(v)}")]
    result = helm.run("template", "t", str(charts_dir / CHART), *[a for s in sets for a in ("--set", s)], *extra,
                      check=True)
    return engine_container(docs(result.stdout))["args"]


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_default_command_line_is_the_corrected_seed(helm, charts_dir):
    args = args_of(helm, charts_dir)
    assert flag(args, "--model") == "/models/kimi-k2-thinking-gguf/UD-TQ1_0/Kimi-K2-Thinking-UD-TQ1_0-00001-of-00006.gguf"
    assert flag(args, "--host") == "0.0.0.0" and flag(args, "--port") == "8080"
    assert flag(args, "--alias") == "kimi-k2-thinking"
    assert flag(args, "--ctx-size") == "16384" and flag(args, "--parallel") == "1"
    assert flag(args, "--override-tensor") == ".ffn_.*_exps.=CPU" and flag(args, "--n-gpu-layers") == "all"
    assert flag(args, "--temp") == "1" and flag(args, "--min-p") == "0.01"
    assert flag(args, "--load-mode") == "none"
    assert "--jinja" in args and "--metrics" in args
    assert not {"--mlock", "--no-mmap", "-t", "--n-cpu-moe"} & set(args)
    assert llamacpp_errors(args) == []


def test_threads_are_the_cpu_request_never_minus_one(helm, charts_dir):
    assert flag(args_of(helm, charts_dir), "--threads") == "8"
    assert flag(args_of(helm, charts_dir, "resources.cpu.request=48"), "--threads") == "48"


def test_switches_and_offload_choices(helm, charts_dir):
    args = args_of(helm, charts_dir, "engine.jinja=false", "engine.overrideTensor=", "engine.nCpuMoe=20",
                   "engine.loadMode=mmap", json_sets={"engine.gpuLayers": "40"})
    assert "--no-jinja" in args and "--jinja" not in args
    assert "--override-tensor" not in args and flag(args, "--n-cpu-moe") == "20"
    assert flag(args, "--load-mode") == "mmap" and flag(args, "--n-gpu-layers") == "40"
    assert llamacpp_errors(args) == []


@pytest.mark.parametrize("quant", quants.QUANTS, ids=lambda q: q.name)
def test_the_quant_table_drives_pvc_startup_budget_and_shard(helm, charts_dir, quant):
    manifests = docs(render(helm, charts_dir, f"model.quant={quant.name}", *FITS_EVERY_QUANT,
                            "storage.readMiBps=100").stdout)
    pvc = find(manifests, "PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == f"{quant.min_pvc_gib}Gi"
    deployment = find(manifests, "Deployment")
    annotations = deployment["metadata"]["annotations"]
    assert annotations["leviathan.dev/weights-gib"] == str(quant.size_gib)
    # 2 x size / 100 MiB/s, within the default floor (600 s) and ceiling (7200 s)
    assert annotations["leviathan.dev/startup-budget-seconds"] == str(min(7200, max(600, 2 * quant.size_gib * 1024 // 100)))
    assert flag(engine_container(manifests)["args"], "--model").endswith(
        f"/{quant.name}/Kimi-K2-Thinking-{quant.name}-00001-of-00009.gguf")  # model.shards=9 wins
    default = args_of(helm, charts_dir, f"model.quant={quant.name}", "resources.memory.limitGiB=600",
                      f"model.shards={quant.shards or 7}")
    assert flag(default, "--model").endswith(f"-00001-of-{quant.shards or 7:05d}.gguf")
    job = find(manifests, "Job")
    sources = json.loads(next(e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
                              if e["name"] == "DOWNLOAD_SOURCES"))
    assert sources[0]["allowPatterns"] == [f"{quant.name}/*"]


def test_the_table_records_the_seeds_pvc_minimums():
    assert {q.name: q.min_pvc_gib for q in quants.QUANTS} == {"UD-TQ1_0": 300, "UD-Q2_K_XL": 450, "UD-Q4_K_XL": 650}
    assert all(q.min_pvc_gib > q.size_gib for q in quants.QUANTS)
    assert "| `UD-Q4_K_XL` | 548 | 650 | 564 |" in quants.markdown(16)


@pytest.mark.parametrize(("quant", "size"), [(q.name, q.size_gib) for q in quants.QUANTS])
def test_memory_rule_holds_the_whole_gguf_plus_overhead(helm, charts_dir, quant, size):
    base = [f"model.quant={quant}", "model.shards=9"]
    assert render(helm, charts_dir, *base, f"resources.memory.limitGiB={size + 16}", check=False).returncode == 0
    refused = render(helm, charts_dir, *base, f"resources.memory.limitGiB={size + 15}", check=False)
    assert refused.returncode != 0
    assert f"resources.memory.limitGiB={size + 15} is below the {size} GiB of {quant} weights + 16 GiB" in refused.stderr
    assert f"--set resources.memory.limitGiB={size + 16}" in refused.stderr


def test_memory_rule_follows_an_explicit_size_and_overhead(helm, charts_dir):
    ok = render(helm, charts_dir, "model.file=tiny.gguf", "model.sizeGiB=1", "model.hostOverheadGiB=1",
                "resources.memory.limitGiB=2")
    assert flag(engine_container(docs(ok.stdout))["args"], "--model") == "/models/kimi-k2-thinking-gguf/tiny.gguf"
    refused = render(helm, charts_dir, "model.sizeGiB=300", check=False)
    assert "limitGiB=256 is below the 300 GiB" in refused.stderr


BAD_SCHEMA = [
    ({"model.quant": "Q8_0"}, "model/quant"),
    ({"engine.loadMode": "mlock"}, "engine/loadMode"),
    ({"engine.loadMode": "mmap+mlock"}, "engine/loadMode"),
    ({"engine.gpuLayers": "-1"}, "engine/gpuLayers"),
    ({"engine.parallel": 0}, "engine/parallel"),
    ({"engine.parallel": -1}, "engine/parallel"),
    ({"engine.flashAttn": True}, "engine/flashAttn"),
    ({"engine.overrideTensor": "--mlock"}, "engine/overrideTensor"),
    ({"model.file": "../etc/passwd.gguf"}, "model/file"),
    ({"platform": "okd"}, "platform"),
    ({"openshift.route.host": "a" * 64 + ".example.com"}, "openshift/route/host"),
    ({"openshift.route.timeout": "5 minutes"}, "openshift/route/timeout"),
]


@pytest.mark.parametrize(("sets", "where"), BAD_SCHEMA, ids=lambda x: str(x)[:40])
def test_schema_refuses(helm, charts_dir, sets, where):
    result = helm.run("template", "t", str(charts_dir / CHART),
                      *[arg for k, v in sets.items() for arg in ("--set-json", f"{k}={json.dumps(v)}")])
    assert result.returncode != 0 and where in result.stderr, result.stderr


BAD_RULES = [
    ({"model.quant": "UD-Q2_K_XL", "resources.memory.limitGiB": 400},
     "model.shards: the chart does not know how many shards UD-Q2_K_XL has"),
    ({"engine.nCpuMoe": 10}, "engine.nCpuMoe=10 and engine.overrideTensor are both set"),
    ({"engine.parallel": 128}, "engine.parallel=128 slots share engine.ctxSize=16384 tokens: 128 tokens per request"),
    ({"model.quant": "UD-Q4_K_XL", "model.shards": 13, "resources.memory.limitGiB": 600, "storage.pvc.sizeGiB": 600},
     "storage.pvc.sizeGiB=600 is below the 650 GiB that UD-Q4_K_XL needs"),
    ({"engine.extraArgs": ["--mlock"]}, '"--mlock" is not a flag of llamacpp b11312'),
    ({"engine.extraArgs": ["--no-mmap"]}, '"--no-mmap" is not a flag of llamacpp b11312'),
    ({"engine.extraArgs": ["--temp=0.6"]},
     '"--temp=0.6": llamacpp b11312 does not read --flag=value. Give the value as the next item: ["--temp", "0.6"]'),
    ({"engine.extraArgs": ["-t", "-1"]}, '"-t" is already set by the chart from resources.cpu.request'),
    ({"engine.extraArgs": ["--n_gpu_layers", "10"]}, '"--n_gpu_layers" is already set by the chart from engine.gpuLayers'),
    ({"engine.extraArgs": ["--host", "127.0.0.1"]}, '"--host" is fixed by the chart'),
    ({"engine.extraArgs": ["-ngl"]}, 'the last flag, "-ngl", needs a value'),
    ({"engine.extraArgs": ["--api-key-file", "/k"]}, '"--api-key-file" is already set by the chart from engine.apiKeySecret'),
    ({"engine.apiKeySecret.name": "sk-abcdefghijklmnop_QRST"}, "engine.apiKeySecret.name must be the name of a Secret"),
]


@pytest.mark.parametrize(("sets", "message"), BAD_RULES, ids=lambda x: str(x)[:40])
def test_rules_refuse_with_a_sentence(helm, charts_dir, sets, message):
    result = helm.run("template", "t", str(charts_dir / CHART),
                      *[arg for k, v in sets.items() for arg in ("--set-json", f"{k}={json.dumps(v)}")])
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_real_extra_args_pass_and_reach_the_command_line(helm, charts_dir):
    args = args_of(helm, charts_dir, json_sets={"engine.extraArgs": ["--seed", "3407", "-fit", "off", "--no-warmup"]})
    assert args[-5:] == ["--seed", "3407", "-fit", "off", "--no-warmup"]
    assert llamacpp_errors(args) == []


def test_the_emulated_parser_refuses_what_llama_server_refuses():
    assert llamacpp_errors(["--mlock"]) == ["error: invalid argument: --mlock"]
    assert llamacpp_errors(["--port=8080"]) == ["error: invalid argument: --port=8080"]
    assert llamacpp_errors(["--ctx-size", "big"]) == ["--ctx-size: std::stoi refuses 'big'"]
    assert llamacpp_errors(["--ctx_size", "4096", "-ngl"]) == ["-ngl: expected value for argument"]


def test_the_api_key_comes_from_a_secret_and_helm_test_sends_it(helm, charts_dir):
    items = docs(render(helm, charts_dir, "engine.apiKeySecret.name=llama-key").stdout)
    engine = engine_container(items)
    assert {"name": "LLAMA_API_KEY", "valueFrom": {"secretKeyRef": {"name": "llama-key", "key": "LLAMA_API_KEY"}}} \
        in engine["env"]
    assert not {"--api-key", "--api-key-file"} & set(engine["args"])
    test = find(items, "Pod")["spec"]["containers"][0]
    assert {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "llama-key", "key": "LLAMA_API_KEY"}}} in test["env"]
    script = test["command"][2]
    assert script.count('--header "Authorization: Bearer $API_KEY"') == 2
    without = docs(render(helm, charts_dir).stdout)
    assert "Authorization" not in find(without, "Pod")["spec"]["containers"][0]["command"][2]
    assert not [e for e in engine_container(without)["env"] if e["name"] == "LLAMA_API_KEY"]
