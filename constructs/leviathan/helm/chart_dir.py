"""Write a HelmChart as a real chart directory:

    charts/<name>/Chart.yaml          apiVersion v2, semver version, appVersion = pinned engine, kubeVersion
    charts/<name>/values.yaml         commented defaults, generated from the values model
    charts/<name>/values.schema.json  generated from the same model; unknown keys rejected
    charts/<name>/templates/          one file per object kind, _helpers.tpl, NOTES.txt
    charts/<name>/profiles/*.yaml     values files reproducing real deployments
    charts/<name>/README.md           install notes, profiles, values table
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..release.annotations import chart_annotations, dump_chart_yaml, release_files
from .chart import HelmChart
from .helpers import common_helpers, validation_helper

if TYPE_CHECKING:
    from .values_files import ValuesFiles

HELMIGNORE = """\
# Patterns ignored when packaging the chart.
.DS_Store
*.swp
*.bak
*.tmp
.git/
"""


POD_SECURITY = """\
## Pod security

With the default values every pod meets the PodSecurity `restricted` standard: the engine runs as
its image's non-root user (UID 1000 in the pinned images), the helper containers (`wait-for-model`,
the `helm test` pod) as UID 65532, the download Job as `download.runAsUser` (1000); every container
drops all capabilities, cannot escalate privileges and uses the runtime's default seccomp profile.
The engine image must therefore not run as root: a custom image that does fails to start
(`runAsNonRoot`).

Where `restricted` cannot hold, and why:

* **A hostPath store** (`storage.hostPath.path`) mounts a directory of the node, which neither
  `restricted` nor `baseline` allows: install into a namespace labelled
  `pod-security.kubernetes.io/enforce=privileged` (nothing in the pods is privileged; the label only
  permits the hostPath volume). Use a PVC to stay `restricted`.
* **`download.runAsUser: 0`**, for a host directory owned by root, runs the download Job as root
  (still without capabilities). Prefer `chown 1000` on the host directory and keep the default.
* **`engine.numaInterleave: true`** (KTransformers) adds the `SYS_NICE` capability to the engine:
  `numactl --interleave=all` calls set_mempolicy(2), which the runtime's seccomp profile allows only
  with it. `restricted` permits no capability but `NET_BIND_SERVICE`.
"""


def chart_yaml(chart: HelmChart, defaults: dict, notes: str = "") -> str:
    info = chart.info
    home = "https://leviathan.invalid/charts/" + info.name
    annotations = chart_annotations(info.name, info.version, home, defaults, notes)
    doc = {
        "apiVersion": "v2",
        "name": info.name,
        "description": info.description,
        "type": "application",
        "version": info.version,
        "appVersion": info.app_version,
        "kubeVersion": info.kube_version,
        "keywords": list(info.keywords),
        "home": home,
        "annotations": {**annotations,
                        "leviathan/generated-by": "constructs/leviathan (make synth); do not edit by hand"},
    }
    return dump_chart_yaml(doc)


def notes_txt(chart: HelmChart) -> str:
    name = chart.info.name
    return f'''{{{{- include "{name}.validateValues" . -}}}}
{{{{- $fullname := include "{name}.fullname" . -}}}}
{{{{- $ns := .Release.Namespace -}}}}
{{{{ $fullname }}}} serves `{{{{ .Values.model.servedName }}}}` ({{{{ {chart.weights_gib().go} }}}} GiB of weights).

The engine may take up to {{{{ include "{name}.startupBudgetSeconds" . }}}} s to load (startup probe budget:
2 x weights / storage.readMiBps, clamped to probes.startup). It is not restarted before that.
{{{{- if and (hasKey .Values "download") .Values.download.enabled }}}}

Model download (the engine waits in its `wait-for-model` init container until it completes):
  kubectl logs -n {{{{ $ns }}}} -f job/{{{{ include "{name}.suffixedName" (list . (printf "-download-r%d" (.Release.Revision | int))) }}}}
{{{{- end }}}}

Watch the engine load:
  kubectl logs -n {{{{ $ns }}}} -f deploy/{{{{ $fullname }}}}
  kubectl get pods -n {{{{ $ns }}}} -l app.kubernetes.io/instance={{{{ .Release.Name }}}} -w

Reach the OpenAI-compatible API:
{{{{- if eq .Values.service.type "NodePort" }}}}
  http://<node-ip>:{{{{ if .Values.service.nodePort }}}}{{{{ .Values.service.nodePort }}}}{{{{ else }}}}$(kubectl get svc -n {{{{ $ns }}}} {{{{ include "{name}.serviceName" . }}}} -o jsonpath='{{{{ "{{" }}}}.spec.ports[0].nodePort{{{{ "}}" }}}}'){{{{ end }}}}/v1/models
{{{{- else }}}}
  kubectl port-forward -n {{{{ $ns }}}} svc/{{{{ include "{name}.serviceName" . }}}} {{{{ .Values.service.port }}}}:{{{{ .Values.service.port }}}}
  curl http://localhost:{{{{ .Values.service.port }}}}/v1/models
{{{{- end }}}}

Check it end to end (GET /v1/models, then one chat completion):
  helm test {{{{ .Release.Name }}}} -n {{{{ $ns }}}}
'''


def readme(chart: HelmChart, profiles: dict[str, str], notes: str, values_table: str) -> str:
    info = chart.info
    lines = [
        f"# {info.name}", "",
        f"{info.description}.", "",
        f"Chart version `{info.version}`, engine (appVersion) `{info.app_version}`, Kubernetes `{info.kube_version}`.",
        "Generated by `make synth` from `constructs/leviathan/variants/` — edit the construct, not this file.", "",
        "## Install", "",
        "```bash",
        f"helm install {info.name} charts/{info.name} -f my-values.yaml",
        f"helm test {info.name}",
        "```", "",
        "Every value is typed: `values.schema.json` rejects unknown keys and wrong types, and cross-field",
        "mistakes (placement that does not match the GPUs, a memory limit below the weights, two storage",
        "backends) fail `helm template`/`helm install` with a message that names the value to change.", "",
    ]
    if profiles:
        lines += ["## Profiles", "",
                  "Values files that reproduce real deployments (`profiles/`); the plain manifests rendered from",
                  f"them are in `rendered/{info.name}/`.", ""]
        for name, summary in profiles.items():
            lines += [f"### `{name}`", "", "```bash",
                      f"helm install {name} charts/{info.name} -f charts/{info.name}/profiles/{name}.yaml",
                      "```", "", summary.strip(), ""]
    if notes.strip():
        lines += [notes.strip(), ""]
    lines += [POD_SECURITY, ""]
    lines += ["## Values", "", values_table]
    return "\n".join(lines)


def profile_summary(text: str) -> str:
    """The leading comment block of a profile file, as Markdown."""
    summary = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        summary.append(line[1:].removeprefix(" "))
    return "\n".join(summary)


def write_chart(chart: HelmChart, dest: Path, profile_files: list[Path], notes: str,
                values: ValuesFiles) -> None:
    """`values`: the chart's values files (helm/values_files.py), made by synth."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "templates").mkdir(parents=True)
    name = chart.info.name
    (dest / "Chart.yaml").write_text(chart_yaml(chart, values.defaults, notes))
    for path, text in release_files(name).items():  # CHANGELOG.md, LICENSE
        (dest / path).write_text(text)
    (dest / "values.yaml").write_text(values.values_yaml)
    (dest / "values.schema.json").write_text(values.schema_json)
    (dest / ".helmignore").write_text(HELMIGNORE)
    helpers = [common_helpers(name, chart.info.service_suffix, chart.weights_gib().go), *chart.extra_helpers, validation_helper(name, chart.rules)]
    (dest / "templates" / "_helpers.tpl").write_text("\n".join(helpers))
    (dest / "templates" / "NOTES.txt").write_text(notes_txt(chart))
    for path, text in sorted(chart.chart_files.items()):
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        (dest / path).write_text(text)
    for filename, text in chart.render_templates().items():
        path = dest / "templates" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    summaries = {}
    if profile_files:
        (dest / "profiles").mkdir()
        for source in sorted(profile_files):
            text = source.read_text()
            (dest / "profiles" / source.name).write_text(text)
            summaries[source.stem] = profile_summary(text)
    (dest / "README.md").write_text(readme(chart, summaries, notes, values.values_table))
