"""The `python -m sglang.launch_server` command line of sglang-kt (kvcache-ai's SGLang fork) with
kt-kernel CPU experts: real flags of the pinned sglang-kt 0.7.2 only (manifests/sglang.json).

Facts read in the pinned wheel (sglang/srt/server_args.py, entrypoints/http_server.py):
- `--kt-weight-path` switches KT mode on; `--kt-method` defaults to AMXINT4, which fails on a CPU
  without AMX, so the chart always passes it (from `cpu.isa`).
- `--host` defaults to 127.0.0.1 (unreachable from a Service): the chart always passes 0.0.0.0.
- `--watchdog-timeout` defaults to 300 s: a forward batch longer than that kills the server, and a
  long prefill with the routed experts on the CPU can take longer. The chart sizes it.
- The old names `--kt-amx-weight-path` / `--kt-amx-method` no longer exist.
"""

from __future__ import annotations

from ..config.shape import each
from ..helm.holes import If, Kind, Tpl

# What each ISA runs by default: RAWINT4 reads native-INT4 checkpoints (Kimi-K2.5) with AVX512;
# AMXINT4 needs Intel AMX and weights converted for it.
DEFAULT_METHOD = {"avx512": "RAWINT4", "amx": "AMXINT4"}
METHODS = {"avx512": ("RAWINT4", "FP8", "BF16"), "amx": ("AMXINT4", "AMXINT8")}
# Methods whose CPU experts read the model's own safetensors; the AMX methods read converted weights.
SHARED_WEIGHT_METHODS = ("RAWINT4", "FP8", "BF16")


def command() -> list:
    return ["python3", "-m", "sglang.launch_server"]


def args(chart) -> list:
    v = chart.v
    engine, model = v.engine, v.model
    tp = engine.tensor_parallel_size
    return [
        "--model-path", chart.include("modelPath"),
        "--served-model-name", model.served_name,
        "--host", "0.0.0.0",
        "--port", engine.port.as_str(),
        "--trust-remote-code",
        "--tensor-parallel-size", tp.as_str(),
        "--kt-weight-path", chart.include("ktWeightPath"),
        "--kt-method", chart.include("ktMethod"),
        "--kt-cpuinfer", v.cpu.kt_cpuinfer.as_str(),
        "--kt-threadpool-count", v.cpu.numa_nodes.as_str(),
        "--kt-num-gpu-experts", engine.kt_num_gpu_experts.as_str(),
        "--kt-max-deferred-experts-per-token", engine.kt_max_deferred_experts_per_token.as_str(),
        "--mem-fraction-static", engine.mem_fraction_static.as_str(),
        "--chunked-prefill-size", engine.chunked_prefill_size.as_str(),
        "--max-total-tokens", engine.max_total_tokens.as_str(),
        "--watchdog-timeout", chart.include("watchdogTimeoutSeconds"),
        "--enable-metrics",
        # NCCL peer-to-peer between the TP ranks is checked once instead of assumed (H100 NVL pairs
        # are NVLink-bridged, PCIe-only pairs may not allow P2P).
        If(tp.gt(1) & engine.enable_p2p_check.truthy(), ["--enable-p2p-check"]),
        each(engine.extra_args),
        each(engine.extra_args_unchecked),
    ]


def helpers(chart_name: str) -> str:
    """Go templates: the method and the weight path that follow `cpu.isa`, and the watchdog."""
    return r'''{{/*
--kt-method: cpu.method, or the ISA's default (avx512: RAWINT4, amx: AMXINT4).
*/}}
{{- define "CHART.ktMethod" -}}
{{- .Values.cpu.method | default (ternary "AMXINT4" "RAWINT4" (eq .Values.cpu.isa "amx")) -}}
{{- end }}

{{/*
The model directory (config, tokenizer, attention and shared weights for the GPUs).
*/}}
{{- define "CHART.modelPath" -}}
{{- printf "%s/%s" .Values.storage.mountPath .Values.model.dir -}}
{{- end }}

{{/*
--kt-weight-path follows the method: RAWINT4/FP8/BF16 read the experts from the model's own
safetensors (the same directory); AMXINT4/AMXINT8 read weights converted for AMX.
*/}}
{{- define "CHART.ktWeightPath" -}}
{{- if has (include "CHART.ktMethod" .) (list "AMXINT4" "AMXINT8") -}}
{{- printf "%s/%s" .Values.storage.mountPath .Values.model.cpuWeights.dir -}}
{{- else -}}
{{- include "CHART.modelPath" . -}}
{{- end -}}
{{- end }}

{{/*
--watchdog-timeout: engine.watchdogTimeoutSeconds, or twice the time one full prefill chunk takes
with the experts on the CPU (chunkedPrefillSize / cpuPrefillTokensPerSecond), never below
sglang's own 300 s.
*/}}
{{- define "CHART.watchdogTimeoutSeconds" -}}
{{- $e := .Values.engine -}}
{{- if gt (int64 $e.watchdogTimeoutSeconds) 0 -}}
{{- int64 $e.watchdogTimeoutSeconds -}}
{{- else -}}
{{- max 300 (mul 2 (div (int64 $e.chunkedPrefillSize) (int64 $e.cpuPrefillTokensPerSecond))) -}}
{{- end -}}
{{- end }}

{{/*
Image tag: image.tag, or the pinned build of the cpu.isa flavour (images/versions.yaml).
*/}}
{{- define "CHART.engineImage" -}}
{{- $tag := .Values.image.tag | default (ternary "AMX_TAG" "AVX512_TAG" (eq .Values.cpu.isa "amx")) -}}
{{- include "CHART.image" (merge (dict "tag" $tag) .Values.image) -}}
{{- end }}
'''.replace("CHART", chart_name)


WATCHDOG_KIND = Kind.INT
