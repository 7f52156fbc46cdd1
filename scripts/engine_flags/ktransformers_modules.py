"""Run with PYTHONPATH holding KTransformers' source at the pinned commit, torch and transformers:
instantiate the real `DeepseekV3ForCausalLM` (the class the server builds for DeepSeek-V3) on the
meta device with a small config of the same shape, and print every module's name and classes.

The config keeps DeepSeek-V3's structure (dense layers first, then MoE layers with a gate, routed
and shared experts, MLA attention with YaRN rope) with fewer layers and experts, so the module
*names* per layer are exactly those of the 61-layer model.
"""

import json
import sys

import torch

FIRST_DENSE = 1
LAYERS = 3


def class_paths(cls) -> list[str]:
    paths = []
    for klass in cls.__mro__:
        if klass is object:
            continue
        paths.append(f"{klass.__module__}.{klass.__qualname__}")
        if klass.__module__.startswith("torch.nn.") and getattr(torch.nn, klass.__name__, None) is klass:
            paths.append(f"torch.nn.{klass.__name__}")
    return paths


def main() -> None:
    from ktransformers.models.configuration_deepseek_v3 import DeepseekV3Config
    from ktransformers.models.modeling_deepseek_v3 import DeepseekV3ForCausalLM

    config = DeepseekV3Config(
        vocab_size=256, hidden_size=64, intermediate_size=128, moe_intermediate_size=32,
        num_hidden_layers=LAYERS, first_k_dense_replace=FIRST_DENSE, moe_layer_freq=1,
        num_attention_heads=2, num_key_value_heads=2, n_routed_experts=2, n_shared_experts=1,
        num_experts_per_tok=1, n_group=1, topk_group=1, q_lora_rank=32, kv_lora_rank=16,
        qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=8, max_position_embeddings=4096,
        rope_scaling={"type": "yarn", "factor": 40, "beta_fast": 32, "beta_slow": 1, "mscale": 1.0,
                      "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096},
        torch_dtype="bfloat16", architectures=["DeepseekV3ForCausalLM"])
    with torch.device("meta"):
        model = DeepseekV3ForCausalLM(config)
    modules = [[name, class_paths(type(module))] for name, module in model.named_modules() if name]
    json.dump({"config": {"num_hidden_layers": LAYERS, "first_k_dense_replace": FIRST_DENSE,
                          "n_routed_experts": config.n_routed_experts},
               "modules": modules}, sys.stdout, indent=None)


if __name__ == "__main__":
    main()
