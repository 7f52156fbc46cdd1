"""Named templates every chart gets in `_helpers.tpl`, and the values-validation define.

Helper names follow `helm create`: `<chart>.name`, `.fullname`, `.labels`, `.selectorLabels`,
plus `.image` and `.startupFailureThreshold`. Validation follows the Bitnami pattern: one rule per
mistake, messages collected and `fail`ed once, each naming the values path and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from .holes import Cond, Expr, Kind, Tpl


@dataclass(frozen=True)
class Rule:
    """A cross-field check: when `broken` holds, `helm template` fails with `message`.

    `message` is a Go-template expression producing a string (usually a `printf`), so it can quote
    the offending values.
    """

    name: str
    broken: Cond
    message: str


def float_range_rule(go: str, bounds: dict[str, float]) -> Rule:
    """The schema's bounds of a number field, for the decimal-string form `--set` produces."""
    tests = {"minimum": ("lt", ">="), "exclusiveMinimum": ("le", ">"),
             "maximum": ("gt", "<="), "exclusiveMaximum": ("ge", "<")}
    broken = [f"({tests[key][0]} (float64 {go}) {float(limit)!r})" for key, limit in bounds.items()]
    allowed = " and ".join(f"{tests[key][1]} {limit:g}" for key, limit in bounds.items())
    path = go.removeprefix(".Values.")
    return Rule(f"{path}.range", Cond(f"and (kindIs \"string\" {go}) (or {' '.join(broken)})"),
                f'printf "{path}=%s is out of range: it must be {allowed}." {go}')


def memory_limit_rule(limit_gib: Expr, weights_gib: Expr, overhead_gib: Expr, weights: str, why: str,
                      fix: str, weights_args: str = "") -> Rule:
    """`resources.memory.limit`: the charts whose engine keeps the weights in host RAM need a limit of
    at least weights + overhead; below it the pod is OOM-killed while loading. The message reads
    "...limitGiB=L is below the W GiB of <weights> + O GiB overhead<why> Use --set ...=W+O<fix>.";
    `weights_args` are printf arguments for verbs inside `weights`."""
    need = f"(add ({weights_gib.go} | int64) ({overhead_gib.go} | int64))"
    return Rule(
        "resources.memory.limit", limit_gib.lt(Expr(need, Kind.INT)),
        f'printf "resources.memory.limitGiB=%d is below the %d GiB of {weights} + %d GiB overhead{why} Use '
        f'--set resources.memory.limitGiB=%d{fix}." ({limit_gib.go} | int64) ({weights_gib.go} | int64) '
        f'{weights_args}{" " if weights_args else ""}({overhead_gib.go} | int64) {need}')


def include(chart: str, helper: str, kind: Kind = Kind.STR) -> Expr:
    return Tpl(f'include "{chart}.{helper}" .', kind)


def common_helpers(chart: str, service_suffix: str = "", weights_go: str = ".Values.model.sizeGiB") -> str:
    weights_go = f"({weights_go})" if " " in weights_go else weights_go
    return f'''{{{{/*
Chart name, truncated to 63 characters (the DNS label limit of Kubernetes names).
*/}}}}
{{{{- define "{chart}.name" -}}}}
{{{{- .Chart.Name | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}

{{{{/*
Fully qualified app name: "<release>-<chart>", or the release name when it already contains the
chart name. At most 63 characters, and never ending in "-" or "." (release names may hold dots).
*/}}}}
{{{{- define "{chart}.fullname" -}}}}
{{{{- $name := printf "%s-%s" .Release.Name .Chart.Name -}}}}
{{{{- if contains .Chart.Name .Release.Name }}}}{{{{- $name = .Release.Name -}}}}{{{{- end }}}}
{{{{- regexReplaceAll "[-.]+$" ($name | trunc 63) "" -}}}}
{{{{- end }}}}

{{{{/*
"<fullname><suffix>" in at most 63 characters: the fullname is cut, never the suffix, so names
stay distinct (a Job's name becomes a label value, so it may not be longer than 63 either).
Usage: {{{{ include "{chart}.suffixedName" (list . "-models") }}}}
*/}}}}
{{{{- define "{chart}.suffixedName" -}}}}
{{{{- $suffix := index . 1 -}}}}
{{{{- $base := include "{chart}.fullname" (index . 0) | trunc (int (sub 63 (len $suffix))) -}}}}
{{{{- $base = regexReplaceAll "[-.]+$" $base "" -}}}}
{{{{- printf "%s%s" $base $suffix -}}}}
{{{{- end }}}}

{{{{/*
"<chart>-<version>" for the helm.sh/chart label.
*/}}}}
{{{{- define "{chart}.chart" -}}}}
{{{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}

{{{{/*
Labels of every object. The chart version is kept out of selectors (selectors are immutable).
*/}}}}
{{{{- define "{chart}.labels" -}}}}
helm.sh/chart: {{{{ include "{chart}.chart" . }}}}
{{{{ include "{chart}.selectorLabels" . }}}}
app.kubernetes.io/version: {{{{ .Chart.AppVersion | quote }}}}
app.kubernetes.io/managed-by: {{{{ .Release.Service }}}}
app.kubernetes.io/part-of: leviathan
{{{{- end }}}}

{{{{/*
Selector labels: stable for the life of a release.
*/}}}}
{{{{- define "{chart}.selectorLabels" -}}}}
app.kubernetes.io/name: {{{{ include "{chart}.name" . }}}}
app.kubernetes.io/instance: {{{{ .Release.Name | quote }}}}
{{{{- end }}}}

{{{{/*
Image reference "[registry/]repository:tag[@digest]".
Usage: {{{{ include "{chart}.image" .Values.image }}}}
*/}}}}
{{{{- define "{chart}.image" -}}}}
{{{{- $ref := printf "%s:%s" .repository .tag -}}}}
{{{{- if .registry }}}}{{{{- $ref = printf "%s/%s" .registry $ref -}}}}{{{{- end }}}}
{{{{- if .digest }}}}{{{{- $ref = printf "%s@%s" $ref .digest -}}}}{{{{- end }}}}
{{{{- $ref -}}}}
{{{{- end }}}}

{{{{/*
Startup budget in seconds: clamp(2 x weights / read throughput, floor, ceiling). Reading 400 GB from
NVMe takes minutes and from a network volume far longer; a fixed 5-minute budget kills the pod
mid-load, forever.
Usage: {{{{ include "{chart}.startupBudgetSeconds" . }}}}
*/}}}}
{{{{- define "{chart}.startupBudgetSeconds" -}}}}
{{{{- $p := .Values.probes.startup -}}}}
{{{{- $read := div (mul (int64 {weights_go}) 1024) (int64 .Values.storage.readMiBps) -}}}}
{{{{- $budget := mul 2 $read -}}}}
{{{{- $budget = max $budget (int64 $p.floorSeconds) -}}}}
{{{{- $budget = min $budget (int64 $p.ceilingSeconds) -}}}}
{{{{- $budget -}}}}
{{{{- end }}}}

{{{{/*
startupProbe failureThreshold covering the startup budget.
*/}}}}
{{{{- define "{chart}.startupFailureThreshold" -}}}}
{{{{- $period := int64 .Values.probes.startup.periodSeconds -}}}}
{{{{- $budget := int64 (include "{chart}.startupBudgetSeconds" .) -}}}}
{{{{- div (add $budget (sub $period 1)) $period -}}}}
{{{{- end }}}}

{{{{/*
Name of the engine's Service: a DNS-1035 label (letters, digits, "-"; starts with a letter; at most
63), which Kubernetes requires of Service names. Dots of the release name become "-", and a
release name that starts with a digit gets an "s" in front.
*/}}}}
{{{{- define "{chart}.serviceName" -}}}}
{{{{- $name := include "{chart}.suffixedName" (list . "{service_suffix}") | replace "." "-" -}}}}
{{{{- if not (regexMatch "^[a-z]" $name) }}}}{{{{- $name = printf "s%s" $name | trunc 63 | trimSuffix "-" -}}}}{{{{- end }}}}
{{{{- $name -}}}}
{{{{- end }}}}

{{{{/*
Prefix of the environment variables Kubernetes injects for the engine's Service
("<SERVICE_NAME>_SERVICE_HOST"); the test pod uses them, so it needs no cluster DNS.
*/}}}}
{{{{- define "{chart}.serviceEnvPrefix" -}}}}
{{{{- include "{chart}.serviceName" . | upper | replace "-" "_" -}}}}
{{{{- end }}}}
'''


def validation_helper(chart: str, rules: list[Rule]) -> str:
    checks = "\n".join(
        f"{{{{- if {rule.broken.go} }}}}\n"
        f"{{{{- $messages = append $messages ({rule.message}) }}}}\n"
        f"{{{{- end }}}}"
        for rule in rules
    )
    return f'''{{{{/*
Cross-field checks. Each broken rule adds one message naming the values path and the fix; all are
reported at once, at `helm template`/`helm install` time, before anything is created.
*/}}}}
{{{{- define "{chart}.validateValues" -}}}}
{{{{- $messages := list }}}}
{{{{- /* rules: {", ".join(rule.name for rule in rules)} */}}}}
{checks}
{{{{- if $messages }}}}
{{{{- fail (printf "\\n\\nVALUES VALIDATION:\\n%s" (join "\\n" $messages)) }}}}
{{{{- end }}}}
{{{{- end }}}}
'''


def quota_helpers(chart: str) -> str:
    """Install-time check against the namespace's ResourceQuotas (Helm `lookup`).

    The Kimi-K2.5 seed sat for days under a 500Gi memory quota with a model that needs ~600 GB: the
    pod was simply never created. `lookup` returns nothing under `helm template`, so this only runs
    against a real cluster (`helm install`, `--dry-run=server`), and only on install: on upgrade the
    release's own pod is still counted as used.
    """
    return r'''{{/*
A Kubernetes quantity in its base unit (bytes, or devices), as a float: every form the API server
writes - binary suffixes Ki..Ei, decimal suffixes n, u, m, k..E, and exponents ("1e9", "5E-3"). A
quantity read as 0 would make a 1Ei quota look full and reject a pod that fits.
Usage: {{ include "CHART.quantity" "1.5Ti" | float64 }}
*/}}
{{- define "CHART.quantity" -}}
{{- $q := toString . | trim -}}
{{- $pattern := "^([+-]?[0-9]*\\.?[0-9]*)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|n|u|m|k|M|G|T|P|E)?$" -}}
{{- if not (regexMatch $pattern $q) }}
{{- fail (printf "cannot read the Kubernetes quantity %q of a namespace ResourceQuota" $q) }}
{{- end }}
{{- $number := float64 (regexReplaceAll $pattern $q "${1}") -}}
{{- $suffix := regexReplaceAll $pattern $q "${2}" -}}
{{- $factors := dict "" 1.0 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 "n" 0.000000001 "u" 0.000001 "m" 0.001 "k" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0 "P" 1000000000000000.0 "E" 1000000000000000000.0 -}}
{{- if hasKey $factors $suffix }}
{{- $number = mulf $number (index $factors $suffix) -}}
{{- else }}
{{- $exponent := int64 (substr 1 -1 $suffix | trimPrefix "+") -}}
{{- range until (int (ternary $exponent (sub 0 $exponent) (ge $exponent 0))) -}}
{{- $number = ternary (mulf $number 10.0) (divf $number 10.0) (ge $exponent 0) -}}
{{- end -}}
{{- end }}
{{- $number -}}
{{- end }}

{{/*
A Kubernetes quantity ("500Gi", "1.5Ti", "600G", "1073741824") in MiB, rounded down.
Usage: {{ include "CHART.quantityMiB" "500Gi" }}
*/}}
{{- define "CHART.quantityMiB" -}}
{{- int64 (floor (divf (include "CHART.quantity" . | float64) 1048576.0)) -}}
{{- end }}

{{/*
Messages for every namespace ResourceQuota the engine pod would not fit in (memory, GPUs).
Empty when it fits, under `helm template`, and on upgrades.
*/}}
{{- define "CHART.quotaShortfall" -}}
{{- if .Release.IsInstall -}}
{{- $memory := .Values.resources.memory -}}
{{- $limitMiB := mul (int64 $memory.limitGiB) 1024 -}}
{{- $requestMiB := mul (int64 ($memory.requestGiB | default $memory.limitGiB)) 1024 -}}
{{- $needs := dict "limits.memory" $limitMiB "requests.memory" $requestMiB "memory" $requestMiB -}}
{{- $gpuKey := printf "requests.%s" .Values.gpus.resourceName -}}
{{- $messages := list -}}
{{- $quotas := lookup "v1" "ResourceQuota" .Release.Namespace "" | default dict -}}
{{- range ($quotas.items | default list) -}}
{{- $quota := . -}}
{{- $hard := .status.hard | default .spec.hard | default dict -}}
{{- $used := .status.used | default dict -}}
{{- range $key, $need := $needs -}}
{{- if hasKey $hard $key -}}
{{- $free := sub (include "CHART.quantityMiB" (index $hard $key) | int64) (include "CHART.quantityMiB" (index $used $key | default "0") | int64) -}}
{{- if gt (int64 $need) $free -}}
{{- $messages = append $messages (printf "namespace quota: ResourceQuota %s leaves %d GiB of %s in namespace %s, but the engine pod needs %d GiB (resources.memory), so Kubernetes would never create it. Ask for a larger quota, or lower resources.memory (a smaller quant)." $quota.metadata.name (div $free 1024) $key $quota.metadata.namespace (div (int64 $need) 1024)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (hasKey $hard $gpuKey) (gt (int64 $.Values.gpus.count) 0) -}}
{{- $hardGpus := include "CHART.quantity" (index $hard $gpuKey) | float64 | floor | int64 -}}
{{- $usedGpus := include "CHART.quantity" (index $used $gpuKey | default "0") | float64 | floor | int64 -}}
{{- $freeGpus := sub $hardGpus $usedGpus -}}
{{- if gt (int64 $.Values.gpus.count) $freeGpus -}}
{{- $messages = append $messages (printf "namespace quota: ResourceQuota %s leaves %d of %s, but gpus.count is %d." $quota.metadata.name $freeGpus $gpuKey (int64 $.Values.gpus.count)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- join "\n" $messages -}}
{{- end -}}
{{- end }}

{{/*
Messages for every namespace LimitRange whose max memory per Container or Pod is below the engine's
memory limit: the API server refuses such a pod outright (the ReplicaSet retries forever). Empty
under `helm template`, where lookup returns nothing.
*/}}
{{- define "CHART.limitRangeShortfall" -}}
{{- $limitMiB := mul (int64 .Values.resources.memory.limitGiB) 1024 -}}
{{- $messages := list -}}
{{- $ranges := lookup "v1" "LimitRange" .Release.Namespace "" | default dict -}}
{{- range ($ranges.items | default list) -}}
{{- $range := . -}}
{{- range ($range.spec.limits | default list) -}}
{{- $kind := .type -}}
{{- if and (has $kind (list "Container" "Pod")) (hasKey (.max | default dict) "memory") -}}
{{- $maxMiB := include "CHART.quantityMiB" .max.memory | int64 -}}
{{- if gt $limitMiB $maxMiB -}}
{{- $messages = append $messages (printf "namespace limits: LimitRange %s allows at most %d GiB of memory per %s in namespace %s, but the engine pod's limit is %d GiB (resources.memory.limitGiB), so the API server would refuse the pod. Ask for a larger LimitRange max, or lower resources.memory." $range.metadata.name (div $maxMiB 1024) $kind $range.metadata.namespace (div $limitMiB 1024)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- join "\n" $messages -}}
{{- end }}
'''.replace("CHART", chart)
