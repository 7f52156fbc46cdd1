{{/*
Chart name, truncated to 63 characters (the DNS label limit of Kubernetes names).
*/}}
{{- define "ktransformers.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: "<release>-<chart>", or the release name when it already contains the
chart name. At most 63 characters, and never ending in "-" or "." (release names may hold dots).
*/}}
{{- define "ktransformers.fullname" -}}
{{- $name := printf "%s-%s" .Release.Name .Chart.Name -}}
{{- if contains .Chart.Name .Release.Name }}{{- $name = .Release.Name -}}{{- end }}
{{- regexReplaceAll "[-.]+$" ($name | trunc 63) "" -}}
{{- end }}

{{/*
"<fullname><suffix>" in at most 63 characters: the fullname is cut, never the suffix, so names
stay distinct (a Job's name becomes a label value, so it may not be longer than 63 either).
Usage: {{ include "ktransformers.suffixedName" (list . "-models") }}
*/}}
{{- define "ktransformers.suffixedName" -}}
{{- $suffix := index . 1 -}}
{{- $base := include "ktransformers.fullname" (index . 0) | trunc (int (sub 63 (len $suffix))) -}}
{{- $base = regexReplaceAll "[-.]+$" $base "" -}}
{{- printf "%s%s" $base $suffix -}}
{{- end }}

{{/*
"<chart>-<version>" for the helm.sh/chart label.
*/}}
{{- define "ktransformers.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object. The chart version is kept out of selectors (selectors are immutable).
*/}}
{{- define "ktransformers.labels" -}}
helm.sh/chart: {{ include "ktransformers.chart" . }}
{{ include "ktransformers.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: leviathan
{{- end }}

{{/*
Selector labels: stable for the life of a release.
*/}}
{{- define "ktransformers.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ktransformers.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{/*
Image reference "[registry/]repository:tag[@digest]".
Usage: {{ include "ktransformers.image" .Values.image }}
*/}}
{{- define "ktransformers.image" -}}
{{- $ref := printf "%s:%s" .repository .tag -}}
{{- if .registry }}{{- $ref = printf "%s/%s" .registry $ref -}}{{- end }}
{{- if .digest }}{{- $ref = printf "%s@%s" $ref .digest -}}{{- end }}
{{- $ref -}}
{{- end }}

{{/*
Startup budget in seconds: clamp(2 x weights / read throughput, floor, ceiling). Reading 400 GB from
NVMe takes minutes and from a network volume far longer; a fixed 5-minute budget kills the pod
mid-load, forever.
Usage: {{ include "ktransformers.startupBudgetSeconds" . }}
*/}}
{{- define "ktransformers.startupBudgetSeconds" -}}
{{- $p := .Values.probes.startup -}}
{{- $read := div (mul (int64 .Values.model.sizeGiB) 1024) (int64 .Values.storage.readMiBps) -}}
{{- $budget := mul 2 $read -}}
{{- $budget = max $budget (int64 $p.floorSeconds) -}}
{{- $budget = min $budget (int64 $p.ceilingSeconds) -}}
{{- $budget -}}
{{- end }}

{{/*
startupProbe failureThreshold covering the startup budget.
*/}}
{{- define "ktransformers.startupFailureThreshold" -}}
{{- $period := int64 .Values.probes.startup.periodSeconds -}}
{{- $budget := int64 (include "ktransformers.startupBudgetSeconds" .) -}}
{{- div (add $budget (sub $period 1)) $period -}}
{{- end }}

{{/*
Name of the engine's Service: a DNS-1035 label (letters, digits, "-"; starts with a letter; at most
63), which Kubernetes requires of Service names. Dots of the release name become "-", and a
release name that starts with a digit gets an "s" in front.
*/}}
{{- define "ktransformers.serviceName" -}}
{{- $name := include "ktransformers.suffixedName" (list . "") | replace "." "-" -}}
{{- if not (regexMatch "^[a-z]" $name) }}{{- $name = printf "s%s" $name | trunc 63 | trimSuffix "-" -}}{{- end }}
{{- $name -}}
{{- end }}

{{/*
Prefix of the environment variables Kubernetes injects for the engine's Service
("<SERVICE_NAME>_SERVICE_HOST"); the test pod uses them, so it needs no cluster DNS.
*/}}
{{- define "ktransformers.serviceEnvPrefix" -}}
{{- include "ktransformers.serviceName" . | upper | replace "-" "_" -}}
{{- end }}

{{/*
A Kubernetes quantity in its base unit (bytes, or devices), as a float: every form the API server
writes - binary suffixes Ki..Ei, decimal suffixes n, u, m, k..E, and exponents ("1e9", "5E-3"). A
quantity read as 0 would make a 1Ei quota look full and reject a pod that fits.
Usage: {{ include "ktransformers.quantity" "1.5Ti" | float64 }}
*/}}
{{- define "ktransformers.quantity" -}}
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
Usage: {{ include "ktransformers.quantityMiB" "500Gi" }}
*/}}
{{- define "ktransformers.quantityMiB" -}}
{{- int64 (floor (divf (include "ktransformers.quantity" . | float64) 1048576.0)) -}}
{{- end }}

{{/*
Messages for every namespace ResourceQuota the engine pod would not fit in (memory, GPUs).
Empty when it fits, under `helm template`, and on upgrades.
*/}}
{{- define "ktransformers.quotaShortfall" -}}
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
{{- $free := sub (include "ktransformers.quantityMiB" (index $hard $key) | int64) (include "ktransformers.quantityMiB" (index $used $key | default "0") | int64) -}}
{{- if gt (int64 $need) $free -}}
{{- $messages = append $messages (printf "namespace quota: ResourceQuota %s leaves %d GiB of %s in namespace %s, but the engine pod needs %d GiB (resources.memory), so Kubernetes would never create it. Ask for a larger quota, or lower resources.memory (a smaller quant)." $quota.metadata.name (div $free 1024) $key $quota.metadata.namespace (div (int64 $need) 1024)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (hasKey $hard $gpuKey) (gt (int64 $.Values.gpus.count) 0) -}}
{{- $hardGpus := include "ktransformers.quantity" (index $hard $gpuKey) | float64 | floor | int64 -}}
{{- $usedGpus := include "ktransformers.quantity" (index $used $gpuKey | default "0") | float64 | floor | int64 -}}
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
{{- define "ktransformers.limitRangeShortfall" -}}
{{- $limitMiB := mul (int64 .Values.resources.memory.limitGiB) 1024 -}}
{{- $messages := list -}}
{{- $ranges := lookup "v1" "LimitRange" .Release.Namespace "" | default dict -}}
{{- range ($ranges.items | default list) -}}
{{- $range := . -}}
{{- range ($range.spec.limits | default list) -}}
{{- $kind := .type -}}
{{- if and (has $kind (list "Container" "Pod")) (hasKey (.max | default dict) "memory") -}}
{{- $maxMiB := include "ktransformers.quantityMiB" .max.memory | int64 -}}
{{- if gt $limitMiB $maxMiB -}}
{{- $messages = append $messages (printf "namespace limits: LimitRange %s allows at most %d GiB of memory per %s in namespace %s, but the engine pod's limit is %d GiB (resources.memory.limitGiB), so the API server would refuse the pod. Ask for a larger LimitRange max, or lower resources.memory." $range.metadata.name (div $maxMiB 1024) $kind $range.metadata.namespace (div $limitMiB 1024)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- join "\n" $messages -}}
{{- end }}

{{/*
Layers per GPU as a JSON list: gpus.layerSplit, or an even split of model.numLayers.
*/}}
{{- define "ktransformers.layerSplit" -}}
{{- $count := int .Values.gpus.count -}}
{{- $layers := int .Values.model.numLayers -}}
{{- $split := list -}}
{{- if .Values.gpus.layerSplit -}}
{{- range .Values.gpus.layerSplit }}{{- $split = append $split (int .) -}}{{- end -}}
{{- else if gt $count 0 -}}
{{- range $i := until $count -}}
{{- $split = append $split (add (div $layers $count) (ternary 1 0 (lt $i (mod $layers $count)))) -}}
{{- end -}}
{{- end -}}
{{- toJson $split -}}
{{- end }}

{{/*
KTransformers optimize rules placing consecutive layers on consecutive GPUs (same classes and structure
as the upstream DeepSeek-V3-Chat-multi-gpu*.yaml at the pinned tag): V3 rotary embedding, Marlin
linears, attention, gates, dense MLPs and norms on the layer's GPU, routed experts on the CPU
(KExpertsCPU), lm_head as a Marlin linear on the last GPU, and a transfer_map moving the hidden state
between GPUs. tests/engines/test_optimize_rules.py checks every class and regex against the source.
*/}}
{{- define "ktransformers.optimizeRules" -}}
{{- $split := include "ktransformers.layerSplit" . | fromJsonArray -}}
{{- $last := sub (len $split) 1 -}}
# Generated by the leviathan ktransformers chart: {{ len $split }} GPUs, layers per GPU: {{ join ", " $split }}.
- match:
    name: "^model.embed_tokens"
  replace:
    class: "default"
    kwargs:
      generate_device: "cpu"
      prefill_device: "cpu"
{{- $start := 0 }}
{{- range $gpu, $n := $split }}
{{- $end := add $start (int $n) }}
{{- $layers := join "|" (untilStep (int $start) (int $end) 1) }}
{{- $device := printf "cuda:%d" $gpu }}
- match:
    name: "^model\\.layers\\.({{ $layers }})\\."
    class: ktransformers.models.modeling_deepseek_v3.DeepseekV3RotaryEmbedding
  replace:
    class: ktransformers.operators.RoPE.YarnRotaryEmbeddingV3
    kwargs:
      generate_device: "{{ $device }}"
      prefill_device: "{{ $device }}"
- match:
    name: "^model\\.layers\\.({{ $layers }})\\.(?!self_attn\\.kv_b_proj).*$"
    class: torch.nn.Linear
  replace:
    class: ktransformers.operators.linear.KTransformersLinear
    kwargs:
      generate_device: "{{ $device }}"
      prefill_device: "{{ $device }}"
      generate_op: "KLinearMarlin"
      prefill_op: "KLinearTorch"
- match:
    name: "^model\\.layers\\.({{ $layers }})\\.mlp$"
    class: ktransformers.models.modeling_deepseek_v3.DeepseekV3MoE
  replace:
    class: ktransformers.operators.experts.KDeepseekV3MoE
    kwargs:
      generate_device: "{{ $device }}"
      prefill_device: "{{ $device }}"
- match:
    name: "^model\\.layers\\.({{ $layers }})\\.mlp\\.gate$"
    class: ktransformers.models.modeling_deepseek_v3.MoEGate
  replace:
    class: ktransformers.operators.gate.KMoEGate
    kwargs:
      generate_device: "{{ $device }}"
      prefill_device: "{{ $device }}"
- match:
    name: "^model\\.layers\\.({{ $layers }})\\.mlp\\.experts$"
  replace:
    class: ktransformers.operators.experts.KTransformersExperts
    kwargs:
      prefill_device: "{{ $device }}"
      prefill_op: "KExpertsTorch"
      generate_device: "cpu"
      generate_op: "KExpertsCPU"
      out_device: "{{ $device }}"
  recursive: False
- match:
    name: "^model\\.layers\\.({{ $layers }})\\.self_attn$"
  replace:
    class: ktransformers.operators.attention.KDeepseekV2Attention
    kwargs:
      generate_device: "{{ $device }}"
      prefill_device: "{{ $device }}"
{{- $start = $end }}
{{- end }}
- match:
    name: "^model$"
  replace:
    class: "ktransformers.operators.models.KDeepseekV2Model"
    kwargs:
      per_layer_prefill_intput_threshold: 0
      transfer_map:
{{- $start = 0 }}
{{- range $gpu, $n := $split }}
{{- if gt $gpu 0 }}
        {{ $start }}: "cuda:{{ $gpu }}"
{{- end }}
{{- $start = add $start (int $n) }}
{{- end }}
{{- $start = 0 }}
{{- range $gpu, $n := $split }}
{{- $end := add $start (int $n) }}
- match:
    name: "^model\\.layers\\.({{ join "|" (untilStep (int $start) (int $end) 1) }})\\."
  replace:
    class: "default"
    kwargs:
      generate_device: "cuda:{{ $gpu }}"
      prefill_device: "cuda:{{ $gpu }}"
{{- $start = $end }}
{{- end }}
- match:
    name: "^lm_head$"
    class: torch.nn.Linear
  replace:
    class: ktransformers.operators.linear.KTransformersLinear
    kwargs:
      generate_device: "cuda:{{ $last }}"
      prefill_device: "cuda:{{ $last }}"
      generate_op: "KLinearMarlin"
      prefill_op: "KLinearTorch"
- match:
    name: "^model\\.norm$"
  replace:
    class: "default"
    kwargs:
      generate_device: "cuda:{{ $last }}"
      prefill_device: "cuda:{{ $last }}"
{{- end }}

{{/*
engine.extraArgs / engine.extraArgsUnchecked checked against files/engine-flags.json, the flags of
the pinned engine's own parser (scripts/engine-flags). Prints one sentence per refused argument.
*/}}
{{- define "ktransformers.extraArgsProblems" -}}
{{- $manifest := .Files.Get "files/engine-flags.json" | fromJson -}}
{{- $options := $manifest.options -}}
{{- $spelling := $manifest.spelling | default dict -}}
{{- $problems := list -}}
{{- range $field := list "extraArgs" "extraArgsUnchecked" -}}
{{- /* argparse arity: the value a one-value flag still waits for ($pending), so a stray value, a
missing value and a non-integer int are refused here and not by the engine at start-up */ -}}
{{- $pending := dict -}}
{{- range $i, $raw := (index $.Values.engine $field | default list) -}}
{{- $arg := toString $raw -}}
{{- if and (hasPrefix "-" $arg) (not (regexMatch "^-[0-9.]" $arg)) -}}
{{- if $pending.name -}}
{{- $problems = append $problems (printf "engine.%s[%d]: %s needs a value before the next flag." $field (sub $i 1) (quote $pending.name)) -}}
{{- end -}}
{{- $pending = dict -}}
{{- $name := regexReplaceAll "=.*$" $arg "" -}}
{{- if and (contains "=" $arg) (eq (toString $spelling.equals_values) "false") -}}
{{- $problems = append $problems (printf "engine.%s[%d]: %s: %s %s does not read --flag=value. Give the value as the next item: [%s, %s]." $field $i (quote $arg) $manifest.engine $manifest.version (quote $name) (quote (regexReplaceAll "^[^=]*=" $arg ""))) -}}
{{- end -}}
{{- $canonical := $name -}}
{{- if hasPrefix "--" $name -}}
{{- $parts := splitn "." 2 (trimPrefix "--" $name) -}}
{{- $head := $parts._0 -}}
{{- if $spelling.dashes_for_underscores }}{{ $head = replace "_" "-" $head }}{{ end -}}
{{- $canonical = printf "--%s" $head -}}
{{- if and $parts._1 (not $spelling.dotted_sub_keys) }}{{ $canonical = printf "%s.%s" $canonical $parts._1 }}{{ end -}}
{{- end -}}
{{- $spec := get $options $canonical -}}
{{- if and $spec (eq (toString $spec.nargs) "1") (not (contains "=" $arg)) -}}
{{- $pending = dict "name" $name "type" (toString $spec.type) -}}
{{- end -}}
{{- if and (not $spec) (eq $field "extraArgs") -}}
{{- $problems = append $problems (printf "engine.extraArgs[%d]: %s is not a flag of %s %s (its argument parser has no such option; the chart lists them in files/engine-flags.json). Remove it, or move it to engine.extraArgsUnchecked if your image really accepts it." $i (quote $name) $manifest.engine $manifest.version) -}}
{{- else if and $spec (hasKey $manifest.owned $spec.dest) -}}
{{- $source := get $manifest.owned $spec.dest -}}
{{- if $source -}}
{{- $problems = append $problems (printf "engine.%s[%d]: %s is already set by the chart from %s. Set that instead: a second %s would silently override it." $field $i (quote $name) $source (quote $name)) -}}
{{- else -}}
{{- $problems = append $problems (printf "engine.%s[%d]: %s is fixed by the chart and cannot be overridden: the probes and the Service depend on it." $field $i (quote $name)) -}}
{{- end -}}
{{- end -}}
{{- else if $pending.name -}}
{{- if and (eq $pending.type "int") (not (regexMatch "^[-+]?[0-9]+$" (trim $arg))) -}}
{{- $problems = append $problems (printf "engine.%s[%d]: %s takes an integer, not %s." $field $i (quote $pending.name) (quote $arg)) -}}
{{- else if and (eq $pending.type "float") (not (regexMatch "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$" (trim $arg))) -}}
{{- $problems = append $problems (printf "engine.%s[%d]: %s takes a number, not %s." $field $i (quote $pending.name) (quote $arg)) -}}
{{- end -}}
{{- $pending = dict -}}
{{- else if eq $field "extraArgs" -}}
{{- $problems = append $problems (printf "engine.extraArgs[%d]: %s is not a flag, and no flag before it takes a value: the engine would refuse it as an unrecognized argument." $i (quote $arg)) -}}
{{- end -}}
{{- end -}}
{{- if $pending.name -}}
{{- $problems = append $problems (printf "engine.%s: the last flag, %s, needs a value." $field (quote $pending.name)) -}}
{{- end -}}
{{- end -}}
{{- join "\n" $problems -}}
{{- end }}

{{- define "ktransformers.layerSplitSum" -}}
{{- $sum := 0 -}}
{{- range .Values.gpus.layerSplit }}{{- $sum = add $sum (int .) -}}{{- end -}}
{{- $sum -}}
{{- end }}

{{/*
Cross-field checks. Each broken rule adds one message naming the values path and the fix; all are
reported at once, at `helm template`/`helm install` time, before anything is created.
*/}}
{{- define "ktransformers.validateValues" -}}
{{- $messages := list }}
{{- /* rules: namespace.quota, namespace.limitRange, storage.exclusive, storage.missing, storage.pvcBoth, storage.hostPath.backsteps, storage.hostPath.node, storage.pvcSize, download.hfTokenSecret.name, download.hfTokenSecret.key, engine.extraArgs, probes.startup.bounds, resources.cpu.request, resources.memory.request, service.nodePort, engine.backendType, gpus.layerSplit.count, gpus.layerSplit.sum, gpus.layerSplit.custom, resources.memory.limit, engine.cpuInfer */}}
{{- if include "ktransformers.quotaShortfall" . }}
{{- $messages = append $messages (include "ktransformers.quotaShortfall" .) }}
{{- end }}
{{- if include "ktransformers.limitRangeShortfall" . }}
{{- $messages = append $messages (include "ktransformers.limitRangeShortfall" .) }}
{{- end }}
{{- if and (.Values.storage.hostPath.path) (or (.Values.storage.pvc.existingClaim) (.Values.storage.pvc.create)) }}
{{- $messages = append $messages ("storage: both storage.hostPath.path and a PVC are set. Choose one: a node-local directory (--set storage.pvc.create=false,storage.pvc.existingClaim=) or a PVC (--set storage.hostPath.path=).") }}
{{- end }}
{{- if and (and (not (.Values.storage.hostPath.path)) (not (.Values.storage.pvc.existingClaim))) (not (.Values.storage.pvc.create)) }}
{{- $messages = append $messages ("storage: no model storage. Set storage.hostPath.path to the mounted NVMe directory, storage.pvc.existingClaim, or storage.pvc.create=true with storage.pvc.sizeGiB.") }}
{{- end }}
{{- if and (.Values.storage.pvc.existingClaim) (.Values.storage.pvc.create) }}
{{- $messages = append $messages ("storage.pvc: existingClaim and create=true are both set. Use the existing claim or create one, not both.") }}
{{- end }}
{{- if regexMatch "(^|/)\\.\\.(/|$)" .Values.storage.hostPath.path }}
{{- $messages = append $messages ("storage.hostPath.path must not contain a .. element (Kubernetes refuses it). Give the directory's real absolute path.") }}
{{- end }}
{{- if and (.Values.storage.hostPath.path) (not (or (.Values.nodeName) (hasKey .Values.nodeSelector "kubernetes.io/hostname"))) }}
{{- $messages = append $messages ("storage.hostPath.path is a directory on one node, but nothing pins the pods to that node: the download Job and the engine could run on different nodes. Set nodeName to the node's name (kubectl get nodes), or a nodeSelector on kubernetes.io/hostname.") }}
{{- end }}
{{- if and (.Values.storage.pvc.create) (lt (.Values.storage.pvc.sizeGiB | int64) (.Values.model.sizeGiB | int64)) }}
{{- $messages = append $messages (printf "storage.pvc.sizeGiB: %d GiB cannot hold the %d GiB of weights. Raise it, e.g. --set storage.pvc.sizeGiB=%d" (.Values.storage.pvc.sizeGiB | int64) (.Values.model.sizeGiB | int64) (add (.Values.model.sizeGiB | int64) (div (.Values.model.sizeGiB | int64) 10) 10)) }}
{{- end }}
{{- if and (.Values.download.hfTokenSecret.name) (not (and (le (len .Values.download.hfTokenSecret.name) 253) (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" .Values.download.hfTokenSecret.name))) }}
{{- $messages = append $messages ("download.hfTokenSecret.name must be the name of a Secret (lowercase letters, digits, - and .), not the token itself. Put the token in a Secret, e.g. kubectl create secret generic hf-token --from-literal=HF_TOKEN=<token>, and set download.hfTokenSecret.name=hf-token. (The value is not shown here.)") }}
{{- end }}
{{- if not (and (le (len .Values.download.hfTokenSecret.key) 253) (regexMatch "^[-._a-zA-Z0-9]+$" .Values.download.hfTokenSecret.key)) }}
{{- $messages = append $messages ("download.hfTokenSecret.key must be a key inside the Secret (letters, digits, -, _ and .), e.g. HF_TOKEN. (The value is not shown here.)") }}
{{- end }}
{{- if include "ktransformers.extraArgsProblems" . }}
{{- $messages = append $messages (include "ktransformers.extraArgsProblems" .) }}
{{- end }}
{{- if lt (.Values.probes.startup.ceilingSeconds | int64) (.Values.probes.startup.floorSeconds | int64) }}
{{- $messages = append $messages (printf "probes.startup: ceilingSeconds (%d) is below floorSeconds (%d). Raise the ceiling or lower the floor." (.Values.probes.startup.ceilingSeconds | int64) (.Values.probes.startup.floorSeconds | int64)) }}
{{- end }}
{{- if and (gt (.Values.resources.cpu.limit | int64) 0) (gt (.Values.resources.cpu.request | int64) (.Values.resources.cpu.limit | int64)) }}
{{- $messages = append $messages (printf "resources.cpu: request (%d cores) is above limit (%d). Lower the request, raise the limit, or set limit 0 for no limit." (.Values.resources.cpu.request | int64) (.Values.resources.cpu.limit | int64)) }}
{{- end }}
{{- if gt (.Values.resources.memory.requestGiB | int64) (.Values.resources.memory.limitGiB | int64) }}
{{- $messages = append $messages (printf "resources.memory: requestGiB (%d) is above limitGiB (%d). Lower the request or raise the limit." (.Values.resources.memory.requestGiB | int64) (.Values.resources.memory.limitGiB | int64)) }}
{{- end }}
{{- if and (not (eq .Values.service.type "NodePort")) (gt (.Values.service.nodePort | int64) 0) }}
{{- $messages = append $messages (printf "service.nodePort=%d only applies to a NodePort Service, but service.type is %s. Use --set service.type=NodePort, or drop service.nodePort." (.Values.service.nodePort | int64) .Values.service.type) }}
{{- end }}
{{- if and (gt (.Values.gpus.count | int64) 1) (eq .Values.engine.backendType "balance_serve") }}
{{- $messages = append $messages (printf "engine.backendType: balance_serve runs a single GPU engine process on CUDA, but gpus.count is %d. Use --set engine.backendType=ktransformers for multi-GPU placement, or --set gpus.count=1." (.Values.gpus.count | int64)) }}
{{- end }}
{{- if and (.Values.gpus.layerSplit) (ne (len .Values.gpus.layerSplit | int64) (.Values.gpus.count | int64)) }}
{{- $messages = append $messages (printf "gpus.layerSplit has %d entries but gpus.count is %d. Give one layer count per GPU, e.g. --set gpus.layerSplit={46,15} for 2 GPUs." (len .Values.gpus.layerSplit) (.Values.gpus.count | int64)) }}
{{- end }}
{{- if and (.Values.gpus.layerSplit) (ne (include "ktransformers.layerSplitSum" . | int64) (.Values.model.numLayers | int64)) }}
{{- $messages = append $messages (printf "gpus.layerSplit adds up to %d layers but model.numLayers is %d. Every layer needs exactly one GPU." (include "ktransformers.layerSplitSum" . | int64) (.Values.model.numLayers | int64)) }}
{{- end }}
{{- if and (.Values.gpus.layerSplit) (.Values.engine.optimizeConfigPath) }}
{{- $messages = append $messages ("gpus.layerSplit and engine.optimizeConfigPath are both set. The split generates a placement file; a custom rule file replaces it. Keep one.") }}
{{- end }}
{{- if lt (.Values.resources.memory.limitGiB | int64) ((add (.Values.model.sizeGiB | int64) (.Values.model.hostOverheadGiB | int64)) | int64) }}
{{- $messages = append $messages (printf "resources.memory.limitGiB=%d is below the %d GiB of weights + %d GiB overhead that KTransformers keeps in host RAM: the pod would be OOM-killed while loading. Use --set resources.memory.limitGiB=%d on a node with that much allocatable memory, or a smaller quant." (.Values.resources.memory.limitGiB | int64) (.Values.model.sizeGiB | int64) (.Values.model.hostOverheadGiB | int64) (add (.Values.model.sizeGiB | int64) (.Values.model.hostOverheadGiB | int64))) }}
{{- end }}
{{- if and (gt (.Values.resources.cpu.limit | int64) 0) (gt (.Values.engine.cpuInfer | int64) (.Values.resources.cpu.limit | int64)) }}
{{- $messages = append $messages (printf "engine.cpuInfer=%d threads exceeds resources.cpu.limit=%d cores: the expert threads would be throttled. Lower cpuInfer or raise the limit." (.Values.engine.cpuInfer | int64) (.Values.resources.cpu.limit | int64)) }}
{{- end }}
{{- if $messages }}
{{- fail (printf "\n\nVALUES VALIDATION:\n%s" (join "\n" $messages)) }}
{{- end }}
{{- end }}
