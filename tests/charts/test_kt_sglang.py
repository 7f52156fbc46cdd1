"""The kt-sglang chart's own rules: `cpu.isa` binds method, image flavour and NFD node affinity
together; health without generation; NUMA binding's one capability; the download Job's own placement;
and the seed's quota failure refused at install (ResourceQuota and LimitRange, via `lookup`).

`lookup` returns nothing under `helm template`, so the quota cases use a copy of the chart whose two
`lookup` calls read `global.fakeQuotas` / `global.fakeLimitRanges` instead (shaped like the API
server's lists); everything else is the chart as shipped. e2e/tests run the same flows against a
real apiserver.
"""

from __future__ import annotations

import json
import shutil

import pytest

from leviathan import versions

from .conftest import docs, engine_container, find, profiles

CHART = "kt-sglang"
NFD = "feature.node.kubernetes.io/cpu-cpuid."
QUOTA_LOOKUP = 'lookup "v1" "ResourceQuota" .Release.Namespace ""'
RANGE_LOOKUP = 'lookup "v1" "LimitRange" .Release.Namespace ""'


def render(helm, charts_dir, *sets: str, values=()):
    return docs(helm.template(charts_dir / CHART, values=list(values), sets=list(sets)).stdout)


def pod(manifests) -> dict:
    return find(manifests, "Deployment")["spec"]["template"]["spec"]


def isa_terms(pod_spec: dict) -> list[list[tuple]]:
    """The NFD expressions of each nodeSelectorTerm, as (flag, operator, values)."""
    terms = pod_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    return [[(e["key"].removeprefix(NFD), e["operator"], e.get("values")) for e in term.get("matchExpressions", [])
             if e["key"].startswith(NFD)] for term in terms]


# avx512 excludes AMX nodes: each ISA value matches exactly one node class (an AMX box runs amx).
AVX512_NODES = [("AVX512F", "In", ["true"]), ("AVX512BW", "In", ["true"]), ("AMXTILE", "DoesNotExist", None)]
AMX_NODES = [("AMXTILE", "In", ["true"]), ("AMXINT8", "In", ["true"])]


def arg(container: dict, flag: str) -> str:
    return container["args"][container["args"].index(flag) + 1]


def test_avx512_selects_rawint4_the_avx512_image_and_avx512_nodes(helm, charts_dir):
    spec = pod(render(helm, charts_dir))
    engine = spec["containers"][0]
    assert engine["image"] == versions.image("kt-sglang-avx512").ref
    assert arg(engine, "--kt-method") == "RAWINT4"
    assert arg(engine, "--kt-weight-path") == arg(engine, "--model-path") == "/models/kimi-k2.5"
    assert isa_terms(spec) == [AVX512_NODES]


@pytest.mark.parametrize("method", ["", "AMXINT8"])
def test_amx_selects_an_amx_method_the_amx_image_amx_nodes_and_converted_weights(helm, charts_dir, method):
    sets = ["cpu.isa=amx", "model.cpuWeights.repo=org/kimi-cpu-weights"] + ([f"cpu.method={method}"] if method else [])
    manifests = render(helm, charts_dir, *sets)
    spec = pod(manifests)
    engine = spec["containers"][0]
    assert engine["image"] == versions.image("kt-sglang-amx").ref
    assert arg(engine, "--kt-method") == (method or "AMXINT4")
    assert arg(engine, "--kt-weight-path") == "/models/kimi-k2.5-cpu-weights"
    assert isa_terms(spec) == [AMX_NODES]
    # the Job fetches the converted weights too, and the engine waits for both
    job_env = {e["name"]: e.get("value") for e in find(manifests, "Job")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert [s["repo"] for s in json.loads(job_env["DOWNLOAD_SOURCES"])] == ["moonshotai/Kimi-K2.5", "org/kimi-cpu-weights"]
    assert "/models/kimi-k2.5-cpu-weights/.leviathan-complete.json" in spec["initContainers"][0]["command"]


def matches(expressions: list[tuple], labels: dict) -> bool:
    """The scheduler's reading of one term's In/DoesNotExist expressions against a node's labels."""
    ops = {"In": lambda key, values: labels.get(key) in values, "DoesNotExist": lambda key, _: key not in labels}
    return all(ops[op](NFD + flag, values) for flag, op, values in expressions)


NODE_CLASSES = {  # NFD cpuid labels (NFD writes only present flags, as "true")
    "AMD EPYC 9654 (Zen 4)": ["AVX512F", "AVX512BW"],
    "Intel Ice Lake-SP": ["AVX512F", "AVX512BW"],
    "Intel Sapphire Rapids": ["AVX512F", "AVX512BW", "AMXTILE", "AMXINT8", "AMXBF16"],
    "AMD EPYC 7763 (Zen 3)": ["AVX2"],
}


def test_each_isa_value_selects_exactly_one_node_class(helm, charts_dir):
    selected = {}
    for isa in ("avx512", "amx"):
        sets = [f"cpu.isa={isa}"] + (["model.cpuWeights.repo=org/kimi-cpu-weights"] if isa == "amx" else [])
        (term,) = isa_terms(pod(render(helm, charts_dir, *sets)))
        selected[isa] = {node for node, flags in NODE_CLASSES.items()
                         if matches(term, {NFD + flag: "true" for flag in flags})}
    assert selected == {"avx512": {"AMD EPYC 9654 (Zen 4)", "Intel Ice Lake-SP"}, "amx": {"Intel Sapphire Rapids"}}


def test_the_isa_is_added_to_every_term_of_the_users_own_affinity(helm, charts_dir):
    terms = [{"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["h100"]}]},
             {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}},
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}
    result = helm.run("template", "t", str(charts_dir / CHART), "--set-json", f"affinity={json.dumps(affinity)}")
    spec = pod(docs(result.stdout))
    assert isa_terms(spec) == [AVX512_NODES] * 2
    rendered = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert rendered[0]["matchExpressions"][0]["key"] == "gpu" and rendered[1]["matchFields"] == terms[1]["matchFields"]
    assert "podAntiAffinity" in spec["affinity"]


def test_health_never_submits_a_generation(helm, charts_dir):
    engine = pod(render(helm, charts_dir))["containers"][0]
    assert {"name": "SGLANG_ENABLE_HEALTH_ENDPOINT_GENERATION", "value": "0"} in engine["env"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert engine[probe]["httpGet"]["path"] == "/health"


@pytest.mark.parametrize(("sets", "watchdog"), [
    ([], "326"),                                                      # 2 x 8192 / 50 tok/s
    (["engine.chunkedPrefillSize=32768", "engine.cpuPrefillTokensPerSecond=20"], "3276"),
    (["engine.chunkedPrefillSize=1024"], "300"),                      # never below sglang's own 300 s
    (["engine.watchdogTimeoutSeconds=1200"], "1200"),
])
def test_watchdog_covers_a_full_prefill_chunk_on_the_cpu(helm, charts_dir, sets, watchdog):
    assert arg(pod(render(helm, charts_dir, *sets))["containers"][0], "--watchdog-timeout") == watchdog


def test_numa_memory_binding_adds_only_sys_nice(helm, charts_dir):
    assert "add" not in pod(render(helm, charts_dir))["containers"][0]["securityContext"]["capabilities"]
    caps = pod(render(helm, charts_dir, "cpu.numaMemoryBinding=true"))["containers"][0]["securityContext"]["capabilities"]
    assert caps == {"drop": ["ALL"], "add": ["SYS_NICE"]}


def test_p2p_check_only_with_tensor_parallelism(helm, charts_dir):
    assert "--enable-p2p-check" in pod(render(helm, charts_dir))["containers"][0]["args"]
    single = pod(render(helm, charts_dir, "gpus.count=1", "engine.tensorParallelSize=1"))["containers"][0]
    assert "--enable-p2p-check" not in single["args"]


def test_the_download_job_can_run_elsewhere_and_the_engine_keeps_its_placement(helm, charts_dir):
    (ice,) = profiles(CHART)
    manifests = render(helm, charts_dir, "download.nodeSelector.accelerator=nvidia-rtx-2080ti", values=[ice])
    job = find(manifests, "Job")["spec"]["template"]["spec"]
    assert job["nodeSelector"] == {"accelerator": "nvidia-rtx-2080ti"} and "affinity" not in job
    assert pod(manifests)["nodeSelector"] == {"accelerator": "nvidia-h100"}
    same = find(render(helm, charts_dir, values=[ice]), "Job")["spec"]["template"]["spec"]
    assert same["nodeSelector"] == {"accelerator": "nvidia-h100"}


def test_ice_profile_fixes_the_seed_numbers(helm, charts_dir):
    (ice,) = profiles(CHART)
    manifests = render(helm, charts_dir, values=[ice])
    spec = pod(manifests)
    engine = spec["containers"][0]
    assert engine["resources"]["limits"] == {"cpu": "128", "memory": "650Gi", "nvidia.com/gpu": 2}
    assert {v["name"]: v for v in spec["volumes"]}["shm"]["emptyDir"]["sizeLimit"] == "128Gi"
    pvc = find(manifests, "PersistentVolumeClaim")["spec"]
    assert pvc["storageClassName"] == "rook-ceph-rbd" and pvc["resources"]["requests"]["storage"] == "700Gi"
    assert spec["nodeSelector"] == {"accelerator": "nvidia-h100"}
    assert (arg(engine, "--kt-method"), arg(engine, "--kt-threadpool-count"), arg(engine, "--kt-cpuinfer"),
            arg(engine, "--tensor-parallel-size"), arg(engine, "--port")) == ("RAWINT4", "2", "124", "2", "31245")
    assert "--host" in engine["args"] and arg(engine, "--host") == "0.0.0.0"


# -- the seed's quota, refused at install --------------------------------------------------------------
@pytest.fixture(scope="module")
def probe_chart(charts_dir, tmp_path_factory):
    chart = tmp_path_factory.mktemp("quota") / CHART
    shutil.copytree(charts_dir / CHART, chart)
    helpers = chart / "templates" / "_helpers.tpl"
    text = helpers.read_text()
    assert text.count(QUOTA_LOOKUP) == 1 and text.count(RANGE_LOOKUP) == 1
    text = text.replace(QUOTA_LOOKUP, '(index (.Values.global | default dict) "fakeQuotas")')
    helpers.write_text(text.replace(RANGE_LOOKUP, '(index (.Values.global | default dict) "fakeLimitRanges")'))
    return chart


def install(helm, chart, fake: dict):
    (ice,) = profiles(CHART)
    return helm.run("template", "kimi", str(chart), "-n", "aic", "-f", str(ice),
                    *[arg for key, items in fake.items() for arg in ("--set-json", f"global.{key}={json.dumps(items)}")])


def quota(memory: str) -> dict:
    hard = {"limits.memory": memory, "requests.memory": memory}
    return {"fakeQuotas": {"items": [{"metadata": {"name": "aic-quota", "namespace": "aic"}, "spec": {"hard": hard},
                                      "status": {"hard": hard, "used": {}}}]}}


def limit_range(memory: str) -> dict:
    return {"fakeLimitRanges": {"items": [{"metadata": {"name": "aic-limits", "namespace": "aic"},
                                           "spec": {"limits": [{"type": "Container", "max": {"memory": memory}}]}}]}}


def test_the_seeds_500gi_quota_is_refused_with_its_name_and_numbers(helm, probe_chart):
    result = install(helm, probe_chart, quota("500Gi"))
    assert result.returncode != 0
    assert ("ResourceQuota aic-quota leaves 500 GiB of limits.memory in namespace aic, but the engine pod needs "
            "650 GiB") in result.stderr, result.stderr
    assert "leaves 500 GiB of requests.memory" in result.stderr


def test_the_same_values_install_once_the_quota_is_700gi(helm, probe_chart):
    result = install(helm, probe_chart, quota("700Gi"))
    assert result.returncode == 0, result.stderr


def test_a_limit_range_below_the_pod_is_refused(helm, probe_chart):
    result = install(helm, probe_chart, {**quota("700Gi"), **limit_range("512Gi")})
    assert result.returncode != 0
    assert ("LimitRange aic-limits allows at most 512 GiB of memory per Container in namespace aic, but the engine "
            "pod's limit is 650 GiB") in result.stderr, result.stderr
    assert install(helm, probe_chart, {**quota("700Gi"), **limit_range("1Ti")}).returncode == 0
