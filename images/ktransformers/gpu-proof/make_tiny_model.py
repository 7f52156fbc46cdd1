#!/usr/bin/env python3
"""Build a tiny random-weight DeepSeek-V3 model for a KTransformers smoke test.

Writes two directories, shaped like the chart's two model folders:
  <out>/config  (--model_path) config.json, generation_config.json, tokenizer.json,
                tokenizer_config.json, configuration_deepseek.py (remote code, as in
                deepseek-ai/DeepSeek-V3; copied from the KTransformers tree given by --kt-src)
  <out>/gguf    (--gguf_path)  tiny-deepseek-v3.gguf, llama.cpp arch `deepseek2`, tensor names
                and quant types as in a Q4_K_M DeepSeek-V3 GGUF (Q4_K / Q6_K blocks, F32 norms and
                router), random weights from a fixed seed (same bytes on every machine)

Architecture (DeepseekV3ForCausalLM, real MLA head dims, everything else small):
  3 layers: layer 0 dense (first_k_dense_replace=1), layers 1-2 MoE with 8 routed experts
  (2 per token, n_group=2, topk_group=1, sigmoid + noaux_tc, 1 shared expert),
  hidden 1024, dense ffn 2048, expert ffn 512, 16 heads, q_lora 512, kv_lora 512,
  qk_nope 128, qk_rope 64, v_head 128, vocab 2048, YaRN rope scaling as in DeepSeek-V3.

Needs numpy, gguf (gguf-py) and tokenizers. No network.
"""
import argparse
import hashlib
import json
import os
import shutil

import numpy as np

SEED = 20251104

CFG = dict(
    vocab_size=2048,
    hidden_size=1024,
    intermediate_size=2048,
    moe_intermediate_size=512,
    num_hidden_layers=3,
    first_k_dense_replace=1,
    num_nextn_predict_layers=1,
    num_attention_heads=16,
    num_key_value_heads=16,
    n_shared_experts=1,
    n_routed_experts=8,
    num_experts_per_tok=2,
    n_group=2,
    topk_group=1,
    q_lora_rank=512,
    kv_lora_rank=512,
    qk_nope_head_dim=128,
    qk_rope_head_dim=64,
    v_head_dim=128,
)

SPECIAL = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>",
           "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"]

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}"
    "{% elif m['role'] == 'user' %}<｜User｜>{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}<｜Assistant｜>{{ m['content'] }}<｜end▁of▁sentence｜>{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<｜Assistant｜>{% endif %}"
)


# ---------------------------------------------------------------- ggml block encoders (llama.cpp layout)
def q4_k_blocks(rng, n_blocks):
    """block_q4_K: fp16 d, fp16 dmin, 12 bytes of 6-bit (scale, min) x 8, 128 bytes of nibbles.
    x = d*sc*q - dmin*m; m ~= 7.5*sc keeps the weights roughly zero-mean."""
    d = np.full(n_blocks, 1e-3, dtype=np.float16)
    dmin = np.full(n_blocks, 1e-3, dtype=np.float16)
    sc = rng.integers(1, 9, size=(n_blocks, 8)).astype(np.uint8)           # 1..8
    mn = np.minimum(np.rint(sc * 7.5), 63).astype(np.uint8)                 # 8..60
    s = np.zeros((n_blocks, 12), dtype=np.uint8)
    s[:, 0:4] = (sc[:, 0:4] & 63) | ((sc[:, 4:8] >> 4) << 6)
    s[:, 4:8] = (mn[:, 0:4] & 63) | ((mn[:, 4:8] >> 4) << 6)
    s[:, 8:12] = (sc[:, 4:8] & 0xF) | ((mn[:, 4:8] & 0xF) << 4)
    qs = rng.integers(0, 256, size=(n_blocks, 128), dtype=np.uint8)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2), s, qs], axis=1)


def q6_k_blocks(rng, n_blocks):
    """block_q6_K: 128 bytes ql, 64 bytes qh, 16 int8 scales, fp16 d. x = d*scale*(q-32)."""
    ql = rng.integers(0, 256, size=(n_blocks, 128), dtype=np.uint8)
    qh = rng.integers(0, 256, size=(n_blocks, 64), dtype=np.uint8)
    sc = rng.integers(1, 17, size=(n_blocks, 16)).astype(np.int8)
    d = np.full(n_blocks, 1.3e-4, dtype=np.float16)
    return np.concatenate([ql, qh, sc.view(np.uint8), d.view(np.uint8).reshape(-1, 2)], axis=1)


def quant_tensor(rng, shape, qtype):
    """shape is the numpy (PyTorch) shape, last dim = row length (a multiple of 256)."""
    *outer, row = shape
    assert row % 256 == 0, (shape, qtype)
    n_rows = int(np.prod(outer))
    enc = {"Q4_K": q4_k_blocks, "Q6_K": q6_k_blocks}[qtype]
    blocks = enc(rng, n_rows * row // 256)
    return blocks.reshape(*outer, (row // 256) * blocks.shape[1])


# ---------------------------------------------------------------- writers
def write_config(out, kt_src):
    os.makedirs(out, exist_ok=True)
    c = CFG
    config = {
        "architectures": ["DeepseekV3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_deepseek.DeepseekV3Config"},
        "aux_loss_alpha": 0.001,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "ep_size": 1,
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "max_position_embeddings": 163840,
        "model_type": "deepseek_v3",
        "moe_layer_freq": 1,
        "norm_topk_prob": True,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-06,
        "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0,
                         "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096, "type": "yarn"},
        "rope_theta": 10000,
        "routed_scaling_factor": 2.5,
        "scoring_func": "sigmoid",
        "seq_aux": True,
        "tie_word_embeddings": False,
        "topk_method": "noaux_tc",
        "torch_dtype": "bfloat16",
        "transformers_version": "4.33.1",
        "use_cache": True,
        **c,
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"_from_model_config": True, "bos_token_id": 0, "eos_token_id": 1, "do_sample": True,
                   "temperature": 0.6, "top_p": 0.95, "transformers_version": "4.46.3"}, f, indent=2)
    # DeepSeek-V3's remote config class; KTransformers carries the same file.
    shutil.copy(os.path.join(kt_src, "ktransformers/models/configuration_deepseek_v3.py"),
                os.path.join(out, "configuration_deepseek.py"))
    write_tokenizer(out)


def write_tokenizer(out):
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    rng = np.random.default_rng(SEED)
    syl = ["ka", "lo", "mi", "ne", "ru", "ta", "si", "vo", "de", "an", "er", "th", "in", "qu", "sh",
           "pe", "zo", "gri", "bla", "ion", "ing", "ou", "st", "fl", "tr"]
    words = ["".join(rng.choice(syl, size=rng.integers(1, 4))) for _ in range(40000)]
    corpus = [" ".join(words[i:i + 20]) + "." for i in range(0, len(words), 20)]
    corpus += ["Hello, who are you? I am a tiny model. 0123456789 !?.,;:'\"()[]{}<>/\\|@#$%^&*-_=+~`"] * 50
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=CFG["vocab_size"], special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    assert tok.get_vocab_size() <= CFG["vocab_size"], tok.get_vocab_size()
    tok.save(os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({
            "add_bos_token": False, "add_eos_token": False,
            "bos_token": SPECIAL[0], "eos_token": SPECIAL[1], "pad_token": SPECIAL[1], "unk_token": None,
            "clean_up_tokenization_spaces": False, "legacy": True,
            "model_max_length": 16384, "tokenizer_class": "LlamaTokenizerFast",
            "chat_template": CHAT_TEMPLATE,
        }, f, indent=2, ensure_ascii=False)


def write_gguf(out):
    import gguf
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "tiny-deepseek-v3.gguf")
    c = CFG
    rng = np.random.default_rng(SEED)
    Q4, Q6 = "Q4_K", "Q6_K"
    QT = {Q4: gguf.GGMLQuantizationType.Q4_K, Q6: gguf.GGMLQuantizationType.Q6_K}
    w = gguf.GGUFWriter(path, "deepseek2")
    w.add_name("tiny-deepseek-v3-random")
    w.add_block_count(c["num_hidden_layers"])
    w.add_context_length(163840)
    w.add_embedding_length(c["hidden_size"])
    w.add_feed_forward_length(c["intermediate_size"])
    w.add_head_count(c["num_attention_heads"])
    w.add_head_count_kv(c["num_key_value_heads"])
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_expert_count(c["n_routed_experts"])
    w.add_expert_used_count(c["num_experts_per_tok"])
    w.add_vocab_size(c["vocab_size"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)

    def q(name, shape, qt):
        w.add_tensor(name, quant_tensor(rng, shape, qt), raw_dtype=QT[qt])

    def f32(name, arr):
        w.add_tensor(name, np.ascontiguousarray(arr, dtype=np.float32))

    H, V = c["hidden_size"], c["vocab_size"]
    nh, dn, dr, dv = c["num_attention_heads"], c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
    ql, kvl = c["q_lora_rank"], c["kv_lora_rank"]
    E, FE, FD = c["n_routed_experts"], c["moe_intermediate_size"], c["intermediate_size"]
    ones = lambda n: np.ones(n, dtype=np.float32)

    q("token_embd.weight", (V, H), Q4)
    for i in range(c["num_hidden_layers"]):
        b = f"blk.{i}"
        f32(f"{b}.attn_norm.weight", ones(H))
        q(f"{b}.attn_q_a.weight", (ql, H), Q4)
        f32(f"{b}.attn_q_a_norm.weight", ones(ql))
        q(f"{b}.attn_q_b.weight", (nh * (dn + dr), ql), Q4)
        q(f"{b}.attn_kv_a_mqa.weight", (kvl + dr, H), Q6)
        f32(f"{b}.attn_kv_a_norm.weight", ones(kvl))
        q(f"{b}.attn_kv_b.weight", (nh * (dn + dv), kvl), Q6)
        q(f"{b}.attn_output.weight", (H, nh * dv), Q4)
        f32(f"{b}.ffn_norm.weight", ones(H))
        if i < c["first_k_dense_replace"]:
            q(f"{b}.ffn_gate.weight", (FD, H), Q4)
            q(f"{b}.ffn_up.weight", (FD, H), Q4)
            q(f"{b}.ffn_down.weight", (H, FD), Q6)
        else:
            f32(f"{b}.ffn_gate_inp.weight", rng.normal(0, 0.02, (E, H)))
            f32(f"{b}.exp_probs_b.bias", rng.normal(0, 0.01, (E,)))
            q(f"{b}.ffn_gate_exps.weight", (E, FE, H), Q4)
            q(f"{b}.ffn_up_exps.weight", (E, FE, H), Q4)
            q(f"{b}.ffn_down_exps.weight", (E, H, FE), Q6)
            SH = FE * c["n_shared_experts"]
            q(f"{b}.ffn_gate_shexp.weight", (SH, H), Q4)
            q(f"{b}.ffn_up_shexp.weight", (SH, H), Q4)
            q(f"{b}.ffn_down_shexp.weight", (H, SH), Q6)
    f32("output_norm.weight", ones(H))
    q("output.weight", (V, H), Q6)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    h = hashlib.sha256(open(path, "rb").read()).hexdigest()
    print(f"wrote {path} ({os.path.getsize(path)} bytes, sha256 {h})")
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--kt-src", required=True, help="KTransformers v0.4.1 source tree")
    a = ap.parse_args()
    write_config(os.path.join(a.out, "config"), a.kt_src)
    write_gguf(os.path.join(a.out, "gguf"))


if __name__ == "__main__":
    main()
