"""Each chart's values type, by chart name, in synth order.

This is all synth's values process imports: no construct, no cdk8s (leviathan/synth.py).
variants.REGISTRY pairs each name with its construct, in the same order (a test checks).
"""

from __future__ import annotations

from .base import ValuesModel, shape_of
from .kt_sglang import KtSglangValues
from .ktransformers import KtValues
from .llamacpp import LlamacppValues
from .shape import ValuesShape
from .vllm import VllmValues

VALUES: dict[str, type[ValuesModel]] = {
    "ktransformers": KtValues,
    "vllm": VllmValues,
    "llamacpp": LlamacppValues,
    "kt-sglang": KtSglangValues,
}


def shapes() -> dict[str, ValuesShape]:
    """Each chart's values shape, what its construct is built from."""
    return {name: shape_of(values) for name, values in VALUES.items()}
