#!/usr/bin/env python3
"""Write a random-weight Qwen3-MoE GGUF with llama.cpp's own gguf-py (the copy the pinned sdist vendors).

TEST ONLY: the weights are noise, so the text is noise; what it exercises is the loader, the expert
offload (`-ot`) split between GPU and host, the server's endpoints and the decode speed of a MoE of
a chosen size. F16 throughout: no quantizer needed, and the size is exact (2 bytes per weight).
Expert tensors are named as in every llama.cpp MoE (`blk.N.ffn_{gate,up,down}_exps.weight`), so the
chart's `-ot` override matches them for real.

The defaults make a ~1 MB model for the e2e; the GPU proof passes a few-GB shape (gpu-proof/device.sh).
`--shards N` splits it the way Kimi-K2 GGUFs ship (`NAME-00001-of-0000N.gguf`, with gguf-py's
`split.*` keys); llama-server is given the first shard and loads the rest.

    PYTHONPATH=<sdist>/vendor/llama.cpp/gguf-py python3 tiny_moe_gguf.py OUT.gguf [--shards 2 ...]

From Python (tests): `write_model(out, shards=2)` extracts gguf-py from the cached, checksummed sdist
(`scripts/build-llama-server --sdist`) and runs this script with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def gguf_py() -> Path:
    """vendor/llama.cpp/gguf-py of the pinned llama-cpp-python sdist, extracted once beside it."""
    sdist = Path(subprocess.run([str(REPO / "scripts" / "build-llama-server"), "--sdist"],
                                capture_output=True, text=True, check=True).stdout.strip())
    dest = sdist.with_name(sdist.name.removesuffix(".tar.gz") + "-gguf-py")
    if not (dest / "gguf" / "__init__.py").exists():
        tmp = dest.with_name(dest.name + ".tmp")
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if "/vendor/llama.cpp/gguf-py/" in m.name]
            tar.extractall(tmp, members=members, filter="data")
        (extracted,) = tmp.glob("*/vendor/llama.cpp/gguf-py")
        extracted.rename(dest)
        subprocess.run(["rm", "-rf", str(tmp)], check=True)
    return dest


def write_model(out: Path, shards: int = 1, *args: str) -> list[Path]:
    """Write the model (default tiny shape, *args* as on the command line); returns its files."""
    env = {**os.environ, "PYTHONPATH": str(gguf_py())}
    out.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, __file__, str(out), "--shards", str(shards), *args],
                            env=env, capture_output=True, text=True, check=True)
    return [Path(f) for f in json.loads(result.stdout.strip().splitlines()[-1])["files"]]


def tokenizer(writer, vocab: int) -> None:
    import gguf
    """SentencePiece-style vocab with byte fallback: <unk> <s> </s>, 256 byte tokens, then pieces."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces = ["\u2581" + a for a in letters] + [a + b for a in letters for b in letters]
    i = 0
    while len(tokens) < vocab:
        tokens.append(pieces[i] if i < len(pieces) else f"\u2581w{i}")
        types.append(gguf.TokenType.NORMAL)
        i += 1
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * 3 + [-1000.0] * 256 + [-float(k) for k in range(len(tokens) - 259)])
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    # what `--jinja` renders: a minimal role-tagged template
    writer.add_chat_template(
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--embd", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=16)
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--experts-used", type=int, default=2)
    parser.add_argument("--expert-ffn", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shards", type=int, default=1, help="split into this many files")
    a = parser.parse_args()
    import numpy as np

    import gguf

    rng = np.random.default_rng(a.seed)
    tensors = 3 + 12 * a.layers
    w = gguf.GGUFWriter(a.out, "qwen3moe", split_max_tensors=-(-tensors // a.shards) if a.shards > 1 else 0)
    w.add_name("leviathan-test-moe")
    w.add_block_count(a.layers)
    w.add_context_length(32768)
    w.add_embedding_length(a.embd)
    w.add_feed_forward_length(a.expert_ffn * 4)
    w.add_head_count(a.heads)
    w.add_head_count_kv(a.kv_heads)
    w.add_key_length(a.head_dim)
    w.add_value_length(a.head_dim)
    w.add_rope_freq_base(1_000_000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_expert_count(a.experts)
    w.add_expert_used_count(a.experts_used)
    w.add_expert_feed_forward_length(a.expert_ffn)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    tokenizer(w, a.vocab)

    def rand(*shape: int) -> np.ndarray:  # numpy shape = ggml ne reversed
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    q, kv = a.heads * a.head_dim, a.kv_heads * a.head_dim
    w.add_tensor("token_embd.weight", rand(a.vocab, a.embd))
    w.add_tensor("output_norm.weight", ones(a.embd))
    w.add_tensor("output.weight", rand(a.vocab, a.embd))
    for i in range(a.layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones(a.embd))
        w.add_tensor(p + "attn_q.weight", rand(q, a.embd))
        w.add_tensor(p + "attn_k.weight", rand(kv, a.embd))
        w.add_tensor(p + "attn_v.weight", rand(kv, a.embd))
        w.add_tensor(p + "attn_output.weight", rand(a.embd, q))
        w.add_tensor(p + "attn_q_norm.weight", ones(a.head_dim))
        w.add_tensor(p + "attn_k_norm.weight", ones(a.head_dim))
        w.add_tensor(p + "ffn_norm.weight", ones(a.embd))
        w.add_tensor(p + "ffn_gate_inp.weight", rng.standard_normal((a.experts, a.embd), dtype=np.float32))
        w.add_tensor(p + "ffn_gate_exps.weight", rand(a.experts, a.expert_ffn, a.embd))
        w.add_tensor(p + "ffn_up_exps.weight", rand(a.experts, a.expert_ffn, a.embd))
        w.add_tensor(p + "ffn_down_exps.weight", rand(a.experts, a.embd, a.expert_ffn))
    files = [str(f) for f in w.format_shard_names(Path(a.out))]
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    experts = a.layers * 3 * a.experts * a.expert_ffn * a.embd * 2
    print(json.dumps({"files": files, "layers": a.layers, "experts": a.experts, "expert_bytes": experts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
