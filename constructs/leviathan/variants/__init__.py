"""The deployment variants. Adding one = one module here + one line in REGISTRY."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from constructs import Construct

from ..helm.chart import HelmChart


@dataclass(frozen=True)
class Variant:
    name: str
    chart: Callable[[Construct], HelmChart]
    readme_notes: str = ""


def _registry() -> list[Variant]:
    from . import kt_sglang, ktransformers, llamacpp, vllm

    return [
        Variant(ktransformers.NAME, ktransformers.KtransformersChart, ktransformers.README_NOTES),
        Variant(vllm.NAME, vllm.VllmChart, vllm.README_NOTES),
        Variant(llamacpp.NAME, llamacpp.LlamacppChart, llamacpp.README_NOTES),
        Variant(kt_sglang.NAME, kt_sglang.KtSglangChart, kt_sglang.README_NOTES),
    ]


REGISTRY: list[Variant] = _registry()
