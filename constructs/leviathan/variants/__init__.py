"""The deployment variants. Adding one = a values module in config/ (and its line in
config/charts.py), a construct module here, and its line in `_registry`.

`REGISTRY` is built on first use: the package also holds plain data (llamacpp_quants) that the
values models import without cdk8s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
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


def __getattr__(name: str) -> list[Variant]:
    if name == "REGISTRY":
        registry = globals()["REGISTRY"] = _registry()
        return registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
