#!/usr/bin/env python3
"""Turn the chart-rendered optimize rules into the rules the one-GPU proof runs.

  adapt_rules.py RENDERED.yaml OUT_DIR

Writes OUT_DIR/rules-fixed.yaml and OUT_DIR/rules-1gpu.yaml and prints every change it made.
1. Only if the rendered rules still have them (the chart fix may already be in):
   - DeepSeek-V2 rotary rules -> the V3 classes upstream's DeepSeek-V3-Chat-multi-gpu.yaml uses
     (match ktransformers.models.modeling_deepseek_v3.DeepseekV3RotaryEmbedding,
      replace ktransformers.operators.RoPE.YarnRotaryEmbeddingV3);
   - an `^lm_head` KTransformersLinear rule (KLinearMarlin/KLinearTorch, on the device of the final
     norm), inserted before the default rule that also matches lm_head (first match wins).
2. One GPU: every "cuda:1" becomes "cuda:0" (the layer split and the transfer_map stay as rendered).
"""
import copy
import re
import sys

import yaml

V2_MATCH = "ktransformers.models.modeling_deepseek.DeepseekV2YarnRotaryEmbedding"
V3_MATCH = "ktransformers.models.modeling_deepseek_v3.DeepseekV3RotaryEmbedding"
V2_REPLACE = "ktransformers.operators.RoPE.YarnRotaryEmbedding"
V3_REPLACE = "ktransformers.operators.RoPE.YarnRotaryEmbeddingV3"


def remap(obj, old, new):
    if isinstance(obj, dict):
        return {k: remap(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [remap(v, old, new) for v in obj]
    return new if obj == old else obj


def main(src, out_dir):
    text = open(src).read()
    header = [l for l in text.splitlines() if l.startswith("#")]
    rules = yaml.safe_load(text)
    changes = []

    for r in rules:
        if r["match"].get("class") == V2_MATCH:
            r["match"]["class"] = V3_MATCH
            if r["replace"].get("class") == V2_REPLACE:
                r["replace"]["class"] = V3_REPLACE
            changes.append(f"rotary rule {r['match']['name']}: V2 classes -> {V3_MATCH} / {V3_REPLACE}")

    has_lm_head_linear = any(re.search(r["match"].get("name", "$^"), "lm_head")
                             and r["replace"].get("class", "").endswith("KTransformersLinear") for r in rules)
    if not has_lm_head_linear:
        idx = next(i for i, r in enumerate(rules) if "lm_head" in r["match"].get("name", ""))
        dev = rules[idx]["replace"]["kwargs"]["generate_device"]
        rules.insert(idx, {
            "match": {"name": "^lm_head", "class": "torch.nn.Linear"},
            "replace": {"class": "ktransformers.operators.linear.KTransformersLinear",
                        "kwargs": {"generate_device": dev, "prefill_device": dev,
                                   "generate_op": "KLinearMarlin", "prefill_op": "KLinearTorch"}},
        })
        changes.append(f"inserted ^lm_head KTransformersLinear rule on {dev} before rule #{idx}")

    def dump(path, rs, extra):
        with open(path, "w") as f:
            for l in header + extra:
                f.write(l + "\n")
            yaml.safe_dump(rs, f, sort_keys=False, default_flow_style=False, width=200)

    dump(f"{out_dir}/rules-fixed.yaml", rules,
         [f"# leviathan gpu-proof: {c}" for c in changes] or ["# leviathan gpu-proof: rendered rules used unchanged"])
    one = remap(copy.deepcopy(rules), "cuda:1", "cuda:0")
    dump(f"{out_dir}/rules-1gpu.yaml", one,
         [f"# leviathan gpu-proof: {c}" for c in changes] + ["# leviathan gpu-proof: one GPU, every cuda:1 mapped to cuda:0"])
    for c in changes:
        print("changed:", c)
    print("one GPU: cuda:1 -> cuda:0")


if __name__ == "__main__":
    main(*sys.argv[1:3])
