"""The chart-generated KTransformers optimize rules, checked against the pinned KTransformers source.

What comes from the engine (engines/manifests/ktransformers.json, written by scripts/engine-flags at
the pinned commit): the classes its modules define, and the module tree of its real
`DeepseekV3ForCausalLM`, built on the meta device from a small config of DeepSeek-V3's shape (dense
layers first, then MoE layers). Here that tree is widened to DeepSeek-V3's 61 layers (3 dense), and
the rules are applied with the semantics of `gen_optimize_config` in
`ktransformers/optimize/optimize.py` at v0.4.1: modules in pre-order, the first rule whose `class`
(isinstance) and `name` (re.search) both match wins, `recursive: False` stops the descent, and an
unmatched module defaults to cuda:0.
"""

from __future__ import annotations

import re

import pytest
import yaml

from leviathan.engines import flag_manifest

from .conftest import docs, find

MANIFEST = flag_manifest.load("ktransformers").raw
LAYERS, DENSE = 61, 3


def deepseek_v3_modules() -> list[tuple[str, list[str]]]:
    tiny = MANIFEST["deepseek_v3_modules"]
    dense_template, moe_template = 0, tiny["config"]["first_k_dense_replace"]
    by_layer: dict[int, list] = {}
    head, tail = [], []
    for name, classes in tiny["modules"]:
        match = re.match(r"model\.layers\.(\d+)(\..*)?$", name)
        if match:
            by_layer.setdefault(int(match.group(1)), []).append((match.group(2) or "", classes))
        elif by_layer:
            tail.append((name, classes))
        else:
            head.append((name, classes))
    modules = list(head)
    for layer in range(LAYERS):
        template = by_layer[dense_template if layer < DENSE else moe_template]
        modules += [(f"model.layers.{layer}{suffix}", classes) for suffix, classes in template]
    return modules + tail


MODULES = deepseek_v3_modules()


def apply_rules(rules: list[dict]) -> dict[str, dict]:
    placed: dict[str, dict] = {}
    pruned = None
    for name, classes in MODULES:
        if pruned and name.startswith(pruned):
            continue
        pruned, recursive = None, True
        for rule in rules:
            match = rule["match"]
            if "class" in match and match["class"] not in classes:
                continue
            if "name" in match and re.search(match["name"], name) is None:
                continue
            replace = rule["replace"]
            placed[name] = {"class": replace.get("class", "default"), **replace.get("kwargs", {})}
            recursive = bool(rule.get("recursive", True))
            break
        placed.setdefault(name, {"class": "default", "generate_device": "cuda:0", "prefill_device": "cuda:0"})
        if not recursive:
            pruned = name + "."
    return placed


def rules_for(helm, charts_dir, split: list[int]) -> list[dict]:
    sets = [f"gpus.count={len(split)}", "engine.backendType=ktransformers",
            "gpus.layerSplit={" + ",".join(map(str, split)) + "}"]
    manifests = docs(helm.template(charts_dir / "ktransformers", sets=sets).stdout)
    return yaml.safe_load(find(manifests, "ConfigMap", "optimize-rules")["data"]["optimize-rules.yaml"])


def gpu_of(split: list[int]) -> dict[int, int]:
    owner, start = {}, 0
    for gpu, count in enumerate(split):
        owner.update({layer: gpu for layer in range(start, start + count)})
        start += count
    return owner


SPLITS = [[31, 30], [46, 15], [1, 60], [20, 20, 21], [8] * 7 + [5]]


def test_the_widened_tree_has_deepseek_v3s_shape():
    names = {name for name, _ in MODULES}
    assert "model.layers.60.mlp.gate" in names and "model.layers.61" not in names
    assert "model.layers.2.mlp.gate_proj" in names and "model.layers.2.mlp.gate" not in names
    assert "model.layers.3.mlp.shared_experts.down_proj" in names
    assert {"model.norm", "lm_head", "model.embed_tokens"} <= names


@pytest.mark.parametrize("split", SPLITS, ids=lambda s: "-".join(map(str, s)))
def test_every_class_exists_in_the_pinned_source(helm, charts_dir, split):
    known = set(MANIFEST["optimize_rule_classes"]) | {"default"}
    for rule in rules_for(helm, charts_dir, split):
        for part in ("match", "replace"):
            if "class" in rule[part]:
                assert rule[part]["class"] in known, rule


@pytest.mark.parametrize("split", SPLITS, ids=lambda s: "-".join(map(str, s)))
def test_every_layer_lands_on_its_gpu_with_the_v3_operators(helm, charts_dir, split):
    placed = apply_rules(rules_for(helm, charts_dir, split))
    owner = gpu_of(split)
    for name, _ in MODULES:
        layer = re.match(r"model\.layers\.(\d+)\.", name)
        if not layer or name not in placed:
            continue
        device = f"cuda:{owner[int(layer.group(1))]}"
        where = placed[name]
        if name.endswith(".mlp.experts"):
            assert where["class"] == "ktransformers.operators.experts.KTransformersExperts", name
            assert (where["generate_device"], where["prefill_device"], where["out_device"]) == ("cpu", device, device)
            continue
        assert where["generate_device"] == device, (name, where)
        assert where["prefill_device"] == device, (name, where)
    for layer, gpu in owner.items():
        prefix = f"model.layers.{layer}"
        assert placed[f"{prefix}.self_attn.rotary_emb"]["class"] == "ktransformers.operators.RoPE.YarnRotaryEmbeddingV3"
        assert placed[f"{prefix}.self_attn"]["class"] == "ktransformers.operators.attention.KDeepseekV2Attention"
        assert placed[f"{prefix}.self_attn.q_b_proj"]["class"] == "ktransformers.operators.linear.KTransformersLinear"
        # kv_b_proj stays a plain Linear: KDeepseekV2Attention absorbs it.
        assert placed[f"{prefix}.self_attn.kv_b_proj"]["class"] == "default"
        if layer >= DENSE:
            assert placed[f"{prefix}.mlp"]["class"] == "ktransformers.operators.experts.KDeepseekV3MoE"
            assert placed[f"{prefix}.mlp.gate"]["class"] == "ktransformers.operators.gate.KMoEGate"
            assert f"{prefix}.mlp.experts.0" not in placed  # recursive: False
        else:
            assert placed[f"{prefix}.mlp.down_proj"]["class"] == "ktransformers.operators.linear.KTransformersLinear"
    last = f"cuda:{len(split) - 1}"
    assert placed["lm_head"] == {"class": "ktransformers.operators.linear.KTransformersLinear", "generate_device": last,
                                 "prefill_device": last, "generate_op": "KLinearMarlin", "prefill_op": "KLinearTorch"}
    assert placed["model.norm"]["generate_device"] == last
    assert placed["model.embed_tokens"]["generate_device"] == "cpu"
    model = placed["model"]
    assert model["class"] == "ktransformers.operators.models.KDeepseekV2Model"
    starts = {sum(split[:gpu]): f"cuda:{gpu}" for gpu in range(1, len(split))}
    assert model["transfer_map"] == starts


@pytest.mark.parametrize("split", SPLITS, ids=lambda s: "-".join(map(str, s)))
def test_layer_regexes_match_their_layers_and_no_others(helm, charts_dir, split):
    """A layer rule matches, in each layer of its GPU, every module its suffix names (`.mlp.gate`
    exists only in MoE layers), and nothing in any other layer."""
    owner = gpu_of(split)
    by_layer: dict[int, list[str]] = {}
    for name, _ in MODULES:
        layer = re.match(r"model\.layers\.(\d+)(\.|$)", name)
        if layer:
            by_layer.setdefault(int(layer.group(1)), []).append(name)
    checked = 0
    for rule in rules_for(helm, charts_dir, split):
        pattern = rule["match"].get("name", "")
        head = re.match(r"\^model\\\.layers\\\.\(([0-9|]+)\)", pattern)
        if not head:
            continue
        suffix = pattern[head.end():]
        device = rule["replace"].get("kwargs", {}).get("prefill_device")
        for layer, names in by_layer.items():
            hits = [name for name in names if re.search(pattern, name)]
            wanted = [name for name in names if re.search(rf"^model\.layers\.{layer}" + suffix, name)]
            if f"cuda:{owner[layer]}" == device:
                assert hits == wanted, (pattern, layer)
            else:
                assert not hits, (pattern, layer, hits)
        checked += 1
    assert checked >= 7 * len(split)
