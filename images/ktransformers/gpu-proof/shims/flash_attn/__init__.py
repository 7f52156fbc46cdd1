"""TEST-ONLY stand-in for flash-attn, used by the GPU proof run, never by the image.

The image installs flash-attn 2.8.3 (a prebuilt torch-2.8/CUDA-12 wheel). The proof machine has
torch 2.11 + CUDA 13, for which no flash-attn wheel exists and which cannot be compiled within the
session. KTransformers v0.4.1 calls only `flash_attn_func` on the path exercised here
(KDeepseekV2Attention.forward_linux_triton, prefill with q_len > 1, when flashinfer is absent), so
this module provides that one function on top of torch's scaled_dot_product_attention, with
flash-attn's conventions: (batch, seqlen, heads, headdim) layout and a causal mask aligned to the
bottom-right corner when seqlen_q != seqlen_k.

It ships no dist-info, so transformers' is_flash_attn_2_available() stays False.
"""
import torch
import torch.nn.functional as F

__version__ = "0.0.0+leviathan-sdpa-shim"
CALLS = 0


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1),
                    softcap=0.0, alibi_slopes=None, deterministic=False, return_attn_probs=False):
    global CALLS
    CALLS += 1
    if CALLS == 1:
        print(f"[flash_attn shim] flash_attn_func via SDPA: q{tuple(q.shape)} k{tuple(k.shape)} "
              f"v{tuple(v.shape)} {q.dtype} causal={causal}", flush=True)
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    if kt.shape[1] != qt.shape[1]:
        rep = qt.shape[1] // kt.shape[1]
        kt, vt = kt.repeat_interleave(rep, 1), vt.repeat_interleave(rep, 1)
    mask = None
    if causal:
        sq, sk = qt.shape[2], kt.shape[2]
        i = torch.arange(sq, device=q.device)[:, None]
        j = torch.arange(sk, device=q.device)[None, :]
        mask = j <= i + (sk - sq)
    out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask, dropout_p=dropout_p, scale=softmax_scale)
    return out.transpose(1, 2).contiguous()
