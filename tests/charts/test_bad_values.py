"""Bad input fails before anything is created, with a message that names the field and the fix.

Schema violations come from values.schema.json (both `helm template` and `helm install`); cross-field
mistakes from the chart's `validateValues` rules.
"""

from __future__ import annotations

import json

import pytest
import yaml

from .conftest import CHART_NAMES

SCHEMA_CASES = [
    # (chart, --set-json pairs, text that must appear in the error)
    ("ktransformers", {"gpus.count": "two"}, "gpus/count"),
    ("ktransformers", {"gpus.count": -1}, "gpus/count"),
    ("vllm", {"gpus.count": -1}, "gpus/count"),
    ("ktransformers", {"engine.cpuInfr": 96}, "cpuInfr"),
    ("vllm", {"resources.memory.limitGiB": "400Gi"}, "limitGiB"),
    ("ktransformers", {"image.tag": "latest"}, "image/tag"),
    ("vllm", {"model.id": ""}, "model/id"),
    ("vllm", {"model.id": None}, "id"),
    ("ktransformers", {"model.gguf.quant": ""}, "model/gguf/quant"),
    ("ktransformers", {"service.type": "LoadBalancer"}, "service/type"),
    ("vllm", {"engine.gpuMemoryUtilization": 1.5}, "gpuMemoryUtilization"),
    ("vllm", {"gpus.visibleDevices": ["not-a-uuid"]}, "visibleDevices"),
    ("ktransformers", {"storage.mountPath": "models"}, "storage/mountPath"),
    # a `#` would comment the GPU request out, a newline would add another resource
    ("ktransformers", {"gpus.resourceName": "#gpu"}, "gpus/resourceName"),
    ("vllm", {"gpus.resourceName": "nvidia.com/gpu\nmemory"}, "gpus/resourceName"),
    ("ktransformers", {"gpus.layerSplit": [61, 0]}, "gpus/layerSplit/1"),
    # beyond int64: must be rejected, not wrapped around by `| int64`
    ("ktransformers", {"model.sizeGiB": 1e20}, "model/sizeGiB"),
    ("vllm", {"resources.memory.limitGiB": 2**63}, "limitGiB"),
    # Kubernetes int32 fields
    ("vllm", {"engine.maxModelLen": 2**31}, "engine/maxModelLen"),
    ("ktransformers", {"probes.readiness.failureThreshold": 2**31}, "failureThreshold"),
    ("ktransformers", {"download.backoffLimit": 2**31}, "download/backoffLimit"),
    # object names
    ("vllm", {"nodeName": "Talos Node"}, "nodeName"),
    ("vllm", {"imagePullSecrets": [{"name": "reg cred"}]}, "imagePullSecrets/0/name"),
    ("vllm", {"storage.pvc.existingClaim": "-claim"}, "existingClaim"),
    ("vllm", {"nodeSelector": {"gpu type": "h100"}}, "nodeSelector"),
    ("vllm", {"image.repository": "Vllm/Vllm"}, "image/repository"),
    # Kubernetes objects rendered as given are held to Kubernetes' own schema
    ("vllm", {"tolerations": [{"foo": 1}]}, "tolerations/0"),
    ("ktransformers", {"affinity": {"nodeAffinity": {"bogus": 1}}}, "affinity/nodeAffinity"),
    ("vllm", {"extraEnv": [{"name": "MY VAR", "value": "x"}]}, "extraEnv/0/name"),
    # values the engine's argparse would read as another option
    ("ktransformers", {"model.servedName": "--x"}, "model/servedName"),
    ("vllm", {"model.id": "-x"}, "model/id"),
    ("vllm", {"engine.quantization": "--fp8"}, "engine/quantization"),
    ("ktransformers", {"engine.optimizeConfigPath": "-rules.yaml"}, "engine/optimizeConfigPath"),
    ("kt-sglang", {"cpu.isa": "arm"}, "cpu/isa"),
    ("kt-sglang", {"cpu.method": "AMX_INT4"}, "cpu/method"),
    ("kt-sglang", {"image.tag": "latest"}, "image/tag"),
    # the Hub endpoint: an http(s) URL, without credentials (the token lives in its Secret)
    ("ktransformers", {"download.endpoint": "hf-mirror.example.com"}, "download/endpoint"),
    ("ktransformers", {"download.endpoint": "https://user:pass@hf.example.com"}, "download/endpoint"),
    ("ktransformers", {"download.endpoint": "https://hf.example.com\nHF_TOKEN=x"}, "download/endpoint"),
]

CROSS_FIELD_CASES = [
    ("ktransformers", {"gpus.count": 2, "engine.backendType": "ktransformers", "gpus.layerSplit": [20, 20, 21]},
     "gpus.layerSplit has 3 entries but gpus.count is 2"),
    ("ktransformers", {"gpus.count": 2, "engine.backendType": "ktransformers", "gpus.layerSplit": [30, 30]},
     "gpus.layerSplit adds up to 60 layers but model.numLayers is 61"),
    ("ktransformers", {"gpus.count": 2}, "engine.backendType: balance_serve runs a single GPU engine process"),
    ("ktransformers", {"resources.memory.limitGiB": 384},
     "resources.memory.limitGiB=384 is below the 377 GiB of weights + 24 GiB overhead"),
    ("ktransformers", {"storage.hostPath.path": "/var/mnt/data/models"},
     "both storage.hostPath.path and a PVC are set"),
    ("vllm", {"storage.pvc.create": False}, "storage: no model storage"),
    ("ktransformers", {"storage.pvc.existingClaim": "x"}, "existingClaim and create=true are both set"),
    ("ktransformers", {"storage.pvc.sizeGiB": 100}, "storage.pvc.sizeGiB: 100 GiB cannot hold the 377 GiB"),
    ("vllm", {"service.nodePort": 30001}, "service.nodePort=30001 only applies to a NodePort Service"),
    ("vllm", {"engine.tensorParallelSize": 2}, "engine.tensorParallelSize=2 needs that many GPUs"),
    ("vllm", {"gpus.visibleDevices": ["GPU-f4f210c1-5a52-7267-979e-fe922961190a"]},
     "gpus.visibleDevices pins 1 GPU(s) by UUID outside the device plugin"),
    ("ktransformers", {"resources.cpu.limit": 16}, "engine.cpuInfer=32 threads exceeds resources.cpu.limit=16"),
    ("vllm", {"resources.memory.requestGiB": 100}, "resources.memory: requestGiB (100) is above limitGiB (64)"),
    # found by the API server dry run of accepted draws (e2e/tests/test_accepted_values_server_dry_run.py)
    ("vllm", {"resources.cpu.limit": 1}, "resources.cpu: request (8 cores) is above limit (1)"),
    ("ktransformers", {"resources.cpu.request": 4, "resources.cpu.limit": 2}, "resources.cpu: request (4 cores) is above limit (2)"),
    ("vllm", {"probes.startup.ceilingSeconds": 60}, "probes.startup: ceilingSeconds (60) is below floorSeconds"),
    # a hostPath store on a multi-node cluster: the download Job could fill another node's disk
    ("ktransformers", {"storage.hostPath.path": "/var/mnt/data/models", "storage.pvc.create": False},
     "storage.hostPath.path is a directory on one node, but nothing pins the pods to that node"),
    ("ktransformers", {"storage.hostPath.path": "/m", "storage.pvc.create": False,
                       "nodeSelector": {"nvidia.com/gpu.present": "true"}}, "Set nodeName to the node's name"),
    ("vllm", {"storage.hostPath.path": "/data/../etc", "storage.pvc.create": False, "nodeName": "n1"},
     "storage.hostPath.path must not contain a .. element"),
    ("vllm", {"engine.gpuMemoryUtilization": "1.5"}, "engine.gpuMemoryUtilization=1.5 is out of range"),
    # extraArgs arity and value types, as argparse checks them (found by test_values_fuzz: [""])
    ("ktransformers", {"engine.extraArgs": [""]}, 'engine.extraArgs[0]: "" is not a flag'),
    ("ktransformers", {"engine.extraArgs": ["--page_size"]}, 'the last flag, "--page_size", needs a value'),
    ("vllm", {"engine.extraArgs": ["--max-num-seqs", "x"]}, '"--max-num-seqs" takes an integer, not "x"'),
    # kt-sglang: cpu.isa selects method, image and affinity together; values set alone may not contradict it
    ("kt-sglang", {"cpu.method": "AMXINT4"}, "cpu.method=AMXINT4 needs Intel AMX, but cpu.isa=avx512"),
    ("kt-sglang", {"cpu.isa": "amx", "cpu.method": "RAWINT4"}, "cpu.method=RAWINT4 is an AVX512 method, but cpu.isa=amx"),
    ("kt-sglang", {"image.tag": "0.7.2-cu128-amx"}, "image.tag=0.7.2-cu128-amx does not match cpu.isa=avx512"),
    ("kt-sglang", {"cpu.isa": "amx", "model.cpuWeights.repo": "o/w", "image.tag": "0.7.2-cu128-avx512"},
     "image.tag=0.7.2-cu128-avx512 does not match cpu.isa=amx"),
    ("kt-sglang", {"cpu.isa": "amx"}, "model.cpuWeights.repo is empty"),
    ("kt-sglang", {"resources.memory.limitGiB": 480},
     "resources.memory.limitGiB=480 is below the 555 GiB of weights + 48 GiB overhead"),
    ("kt-sglang", {"cpu.ktCpuinfer": 96}, "cpu.ktCpuinfer=96 expert threads exceed resources.cpu.limit=64"),
    ("kt-sglang", {"cpu.numaNodes": 8, "cpu.ktCpuinfer": 4}, "every pool needs at least one thread"),
    ("kt-sglang", {"gpus.count": 1}, "engine.tensorParallelSize=2 needs that many GPUs, but gpus.count=1"),
    ("kt-sglang", {"resources.shmGiB": 1}, "resources.shmGiB=1 is too small for tensorParallelSize=2"),
    ("kt-sglang", {"storage.hostPath.path": "/m", "storage.pvc.create": False, "nodeName": "n",
                   "download.nodeSelector": {"pool": "cpu"}}, "download.nodeSelector places the Job on other nodes"),
]

TOKEN = "hf_QmVyeVNlY3JldFRva2VuVGhhdE11c3ROZXZlckxlYWs"
SECRET_CASES = [
    ("ktransformers", "download.hfTokenSecret.name", TOKEN),
    ("vllm", "model.hfTokenSecret.name", TOKEN),
    ("vllm", "model.hfTokenSecret.name", TOKEN.lower() + "x" * 250),
    ("vllm", "model.hfTokenSecret.key", TOKEN + " "),
]


def sets(pairs: dict) -> list[str]:
    return [arg for key, value in pairs.items() for arg in ("--set-json", f"{key}={json.dumps(value)}")]


@pytest.mark.parametrize(("chart", "pairs", "message"), SCHEMA_CASES, ids=lambda x: str(x)[:40])
@pytest.mark.parametrize("command", ["template", "install"])
def test_schema_rejects_bad_values(helm, charts_dir, command, chart, pairs, message):
    args = [command, "bad", str(charts_dir / chart), *sets(pairs)]
    if command == "install":
        args.append("--dry-run=client")
    result = helm.run(*args)
    assert result.returncode != 0, f"{pairs} was accepted"
    assert "schema" in result.stderr.lower(), result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(("chart", "pairs", "message"), CROSS_FIELD_CASES, ids=lambda x: str(x)[:40])
def test_cross_field_mistakes_fail_with_an_actionable_message(helm, charts_dir, chart, pairs, message):
    result = helm.run("template", "bad", str(charts_dir / chart), *sets(pairs))
    assert result.returncode != 0, f"{pairs} was accepted"
    assert "VALUES VALIDATION" in result.stderr
    assert message in result.stderr, result.stderr
    assert "---" not in result.stdout, "something was half-rendered"


@pytest.mark.parametrize(("chart", "pairs", "message"), CROSS_FIELD_CASES[:3], ids=lambda x: str(x)[:40])
def test_helm3_reports_the_same_cross_field_mistakes(helm3, charts_dir, chart, pairs, message):
    result = helm3.run("template", "bad", str(charts_dir / chart), *sets(pairs))
    assert result.returncode != 0 and message in result.stderr, result.stderr


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_unknown_top_level_key_is_rejected_but_global_is_allowed(helm, charts_dir, chart):
    bad = helm.run("template", "x", str(charts_dir / chart), "--set", "replicas=2")
    assert bad.returncode != 0 and "replicas" in bad.stderr
    ok = helm.run("template", "x", str(charts_dir / chart), "--set", "global.foo=bar")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize(("chart", "path", "token"), SECRET_CASES, ids=lambda x: str(x)[:30])
@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_a_token_pasted_as_a_secret_reference_fails_without_being_printed(request, charts_dir, binary, chart,
                                                                          path, token):
    helm = request.getfixturevalue(binary)
    result = helm.run("template", "t", str(charts_dir / chart), "--set-string", f"{path}={token}")
    assert result.returncode != 0, "a token was accepted as a Secret reference"
    assert f"{path} must be" in result.stderr, result.stderr
    assert token not in result.stderr + result.stdout and token[:12] not in result.stderr


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_a_real_secret_reference_is_accepted(helm, charts_dir, chart):
    path = "download.hfTokenSecret" if chart in ("ktransformers", "llamacpp", "kt-sglang") else "model.hfTokenSecret"
    result = helm.run("template", "t", str(charts_dir / chart), "--set", f"{path}.name=hf-token.v2",
                      "--set", f"{path}.key=HF_TOKEN.v2")
    assert result.returncode == 0, result.stderr
    assert 'name: "hf-token.v2"' in result.stdout and 'key: "HF_TOKEN.v2"' in result.stdout


@pytest.mark.parametrize("endpoint", ["https://hf.example.com", "http://fake-hub.ns.svc:8080/api/hf/"])
def test_the_hub_endpoint_reaches_the_download_job_as_hf_endpoint(helm, charts_dir, endpoint):
    def job_env(*args: str) -> dict:
        out = helm.run("template", "t", str(charts_dir / "ktransformers"), *args, check=True).stdout
        (job,) = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "Job"]
        return {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}

    assert "HF_ENDPOINT" not in job_env()  # huggingface_hub's own default: https://huggingface.co
    assert job_env("--set-string", f"download.endpoint={endpoint}")["HF_ENDPOINT"] == endpoint
