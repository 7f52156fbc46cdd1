"""Engine flag manifests: the options the pinned engine's own argument parser accepts.

`engines/manifests/<engine>.json` is written by `scripts/engine-flags`, which builds the real parser
of the engine at the version `images/versions.yaml` pins (KTransformers' `server/args.py` at the
pinned commit, vLLM's `vllm serve` parser from the pinned wheel) and records every option string.
Nobody edits these files by hand; tests/engines/ fails when one is stale against versions.yaml.

Each chart ships its manifest as `files/engine-flags.json`, and `helm template` checks
`engine.extraArgs` against it:

- a flag the pinned parser does not have fails, naming the flag (the seeds'
  `--cpu_offload_max_threads`);
- a flag the chart already sets fails, naming the value to set instead: a second `--port` would
  move the engine away from the port the probes and the Service use.

`engine.extraArgsUnchecked` is the named escape hatch: appended without the manifest check (for an
image built with extra patches), but still refused when it repeats a flag the chart owns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Iterator

from ..helm.holes import Expr, If

MANIFESTS = Path(__file__).parent / "manifests"
CHART_FILE = "files/engine-flags.json"


@dataclass(frozen=True)
class Manifest:
    engine: str
    version: str
    # flag spelling -> {"dest", "action", "nargs", "type", ["choices"]}
    options: dict
    # vLLM's FlexibleArgumentParser turns `--max_model_len` into `--max-model-len` and reads
    # `--compilation-config.mode` as part of `--compilation-config`.
    # llama-server's parser also turns `_` into `-`, but reads no `--flag=value` (equals_values false).
    dashes_for_underscores: bool
    dotted_sub_keys: bool
    raw: dict

    def canonical(self, flag: str) -> str:
        """The spelling the parser looks up for what a user typed (value after `=` dropped)."""
        name = flag.split("=", 1)[0]
        if not name.startswith("--"):
            return name
        head, dot, tail = name[2:].partition(".")
        if self.dashes_for_underscores:
            head = head.replace("_", "-")
        return "--" + head if self.dotted_sub_keys else "--" + head + dot + tail


@cache
def load(engine: str) -> Manifest:
    raw = json.loads((MANIFESTS / f"{engine}.json").read_text())
    spelling = raw.get("spelling", {})
    return Manifest(engine=raw["engine"], version=raw["version"], options=raw["options"],
                    dashes_for_underscores=spelling.get("dashes_for_underscores", False),
                    dotted_sub_keys=spelling.get("dotted_sub_keys", False), raw=raw)


def _flags_in(args: list) -> Iterator[tuple[str, object, str]]:
    """(literal flag, the item after it, the Go condition around it) for every flag the chart
    writes, conditional ones too."""
    flat: list[tuple[object, str]] = []

    def walk(items, cond: str):
        for item in items:
            if isinstance(item, If):
                walk(item.then if isinstance(item.then, list) else [item.then], f"{cond} {item.cond.go}")
                if item.otherwise is not None:
                    walk(item.otherwise if isinstance(item.otherwise, list) else [item.otherwise],
                         f"{cond} {item.cond.go}")
            else:
                flat.append((item, cond))

    walk(args, "")
    for index, (item, cond) in enumerate(flat):
        if isinstance(item, str) and item.startswith("-"):
            following = flat[index + 1][0] if index + 1 < len(flat) else None
            yield item, following, cond


_VALUE_PATH = re.compile(r"\.Values\.([A-Za-z0-9_.]+)")


def owned_dests(manifest: Manifest, args: list, also: dict[str, str] | None = None) -> dict[str, str]:
    """Parser destinations the chart's own args set -> the values that set them.

    Derived from the args themselves, so a flag added to a command line is owned at once. Every
    flag the chart writes must exist in the manifest, or synth fails here.
    """
    sources: dict[str, list[str]] = {}
    for flag, following, cond in _flags_in(args):
        spec = manifest.options.get(manifest.canonical(flag))
        if spec is None:
            raise ValueError(f"{manifest.engine} {manifest.version} has no flag {flag}, "
                             f"but the chart writes it (engines/manifests/{manifest.engine}.json)")
        # A flag's value names the setting; a switch is named by the condition that writes it.
        text = following.go if spec["nargs"] != 0 and isinstance(following, Expr) else cond
        sources.setdefault(spec["dest"], []).extend(_VALUE_PATH.findall(text))
    # An empty source: the chart writes a fixed value (e.g. --host 0.0.0.0).
    owned = {dest: ", ".join(dict.fromkeys(paths)) for dest, paths in sources.items()}
    owned.update(also or {})
    return owned


def chart_file(manifest: Manifest, owned: dict[str, str]) -> str:
    """files/engine-flags.json: the manifest plus what the chart owns, read by the template check."""
    data = {key: manifest.raw[key] for key in ("engine", "version", "source", "spelling", "options")}
    data["owned"] = dict(sorted(owned.items()))
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def check_helper(chart: str) -> str:
    """`<chart>.extraArgsProblems`: one sentence per refused extra argument, empty when all pass."""
    return r'''{{/*
engine.extraArgs / engine.extraArgsUnchecked checked against files/engine-flags.json, the flags of
the pinned engine's own parser (scripts/engine-flags). Prints one sentence per refused argument.
*/}}
{{- define "CHART.extraArgsProblems" -}}
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
'''.replace("CHART", chart)


def add_extra_args_check(chart, engine: str, args: list, also: dict[str, str] | None = None) -> None:
    """Ship the manifest with `chart` and refuse unknown or chart-owned flags in engine.extraArgs*.

    `also` names parser destinations the chart owns without writing a flag (vLLM's positional
    model is `--model` too).
    """
    from ..helm.holes import Cond

    manifest = load(engine)
    chart.chart_files[CHART_FILE] = chart_file(manifest, owned_dests(manifest, args, also))
    chart.extra_helpers.append(check_helper(chart.info.name))
    problems = f'include "{chart.info.name}.extraArgsProblems" .'
    chart.rule("engine.extraArgs", Cond(problems), problems)
