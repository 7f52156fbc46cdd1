"""Bind a pod to the CPU instruction set its image was built for, with Node Feature Discovery labels.

NFD's cpu source labels every node with `feature.node.kubernetes.io/cpu-cpuid.<FLAG>: "true"`, one
label per cpuid flag (flag names as NFD spells them: AVX512F, AVX512BW, AMXTILE, AMXINT8, AMXBF16).
The chart adds a *required* node affinity on the flags its kernels execute, to every term of the
user's own `affinity.nodeAffinity` (terms are ORed, so each one gets the ISA expressions), so an
AMX image can never be scheduled onto an AMD node: the pod stays Pending with the reason in its
events instead of crashing with SIGILL after a 600 GB load.

Each ISA value maps to exactly one node class: avx512 also requires AMX to be *absent*. Every AMX
CPU (Sapphire Rapids and newer) has AVX512 too, so the AVX512 flags alone would let an avx512
release land on an AMX box, where RAWINT4 runs on AVX512 and leaves the AMX tiles idle: that box
should run the amx flavour. NFD writes a cpuid label only when the flag is present (value "true",
never "false"), so "no AMX" is the AMX-TILE label not existing.
"""

from __future__ import annotations

from ..helm.holes import Block, Kind, Tpl

NFD_PREFIX = "feature.node.kubernetes.io/cpu-cpuid."
# RAWINT4/FP8/BF16 kernels use AVX512F + AVX512BW (kt-kernel README); AMXINT4/AMXINT8 tile
# instructions need AMX-TILE and AMX-INT8 (Sapphire Rapids and newer).
REQUIRED_FLAGS = {"avx512": ("AVX512F", "AVX512BW"), "amx": ("AMXTILE", "AMXINT8")}
# Flags that must be absent. AMX-TILE is the AMX feature every AMX CPU has (AMX-INT8/BF16 extend
# it), so its absence is what "not an AMX node" means.
ABSENT_FLAGS = {"avx512": ("AMXTILE",), "amx": ()}


def affinity_helper(chart: str) -> str:
    def go_list(flags: tuple[str, ...]) -> str:
        return "(" + " ".join(["list", *(f'"{flag}"' for flag in flags)]) + ")"

    return f'''{{{{/*
The pod's affinity: .Values.affinity with the NFD labels of cpu.isa in every nodeSelectorTerm
(one term holding only them when there is none): its flags required, and for avx512 the AMX flag
absent, so each ISA value selects exactly one node class.
*/}}}}
{{{{- define "{chart}.affinity" -}}}}
{{{{- $amx := eq .Values.cpu.isa "amx" -}}}}
{{{{- $flags := ternary {go_list(REQUIRED_FLAGS["amx"])} {go_list(REQUIRED_FLAGS["avx512"])} $amx -}}}}
{{{{- $absent := ternary {go_list(ABSENT_FLAGS["amx"])} {go_list(ABSENT_FLAGS["avx512"])} $amx -}}}}
{{{{- $isa := list -}}}}
{{{{- range $flags -}}}}
{{{{- $isa = append $isa (dict "key" (printf "{NFD_PREFIX}%s" .) "operator" "In" "values" (list "true")) -}}}}
{{{{- end -}}}}
{{{{- range $absent -}}}}
{{{{- $isa = append $isa (dict "key" (printf "{NFD_PREFIX}%s" .) "operator" "DoesNotExist") -}}}}
{{{{- end -}}}}
{{{{- $affinity := deepCopy (.Values.affinity | default dict) -}}}}
{{{{- $node := $affinity.nodeAffinity | default dict -}}}}
{{{{- $required := $node.requiredDuringSchedulingIgnoredDuringExecution | default dict -}}}}
{{{{- $terms := list -}}}}
{{{{- range ($required.nodeSelectorTerms | default (list (dict))) -}}}}
{{{{- $terms = append $terms (set (deepCopy .) "matchExpressions" (concat (.matchExpressions | default list) $isa)) -}}}}
{{{{- end -}}}}
{{{{- $_ := set $required "nodeSelectorTerms" $terms -}}}}
{{{{- $_ = set $node "requiredDuringSchedulingIgnoredDuringExecution" $required -}}}}
{{{{- $_ = set $affinity "nodeAffinity" $node -}}}}
{{{{- toYaml $affinity -}}}}
{{{{- end }}}}
'''


def affinity_block(chart: str) -> Block:
    """The `affinity:` value of the pod spec (never empty: the ISA is always required)."""
    return Block(Tpl(f'(include "{chart}.affinity" . | fromYaml)', Kind.MAP), omit_empty=False)
