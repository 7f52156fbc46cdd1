"""`HelmChart`: a cdk8s Chart whose API objects become the templates of a real Helm chart.

Constructs add objects with `chart.add_object(...)`: ordinary Kubernetes bodies with holes. The
objects are real cdk8s `ApiObject`s (bodies attached with JsonPatch, which is safe on raw
ApiObjects); after the chart's `to_json()` the emitter turns each into template text. Structure is decided here,
in Python (which objects exist, for which engine); runtime knobs stay Helm values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cdk8s
from constructs import Construct

from ..config.shape import ValuesRef, ValuesShape, float_fields
from .emitter import Emitter, EmitError
from .helpers import Rule, float_range_rule, include, quota_helpers
from .holes import Cond, Expr, HoleRegistry, Kind, Splice, Tpl

if TYPE_CHECKING:
    import cdk8s_plus_30 as kplus


@dataclass(frozen=True)
class ChartInfo:
    """Chart.yaml facts. `app_version` is the pinned engine version (images/versions.yaml)."""

    name: str
    version: str
    app_version: str
    description: str
    kube_version: str = ">=1.30.0-0"
    keywords: tuple[str, ...] = ()
    # Appended to the release fullname to name the engine's Service.
    service_suffix: str = ""


@dataclass
class TemplateFile:
    filename: str
    objects: list[tuple[cdk8s.ApiObject, Cond | None]] = field(default_factory=list)


def chart_shape(name: str) -> ValuesShape:
    """The values shape of chart `name`, from its pydantic model. Imported here, on demand: synth's
    construct process gets the shapes from its values process instead (leviathan/synth.py)."""
    from ..config.base import shape_of
    from ..config.charts import VALUES

    return shape_of(VALUES[name])


class HelmChart(cdk8s.Chart):
    """Base of every variant chart."""

    def __init__(self, scope: Construct, info: ChartInfo, values: ValuesShape):
        super().__init__(scope, info.name, disable_resource_name_hashes=True)
        self.info = info
        # The chart's structure depends on the shape of its values only (runtime knobs stay Helm
        # values): keys, kinds and bounds, not a values object (config/shape.py).
        self.values = values
        self.v = ValuesRef(values)
        self.registry = HoleRegistry()
        self.files: dict[str, TemplateFile] = {}
        self.rules: list[Rule] = []
        self.extra_helpers: list[str] = [quota_helpers(info.name)]
        # Chart files beside templates/ (path -> text), read by templates with .Files.Get.
        self.chart_files: dict[str, str] = {}
        # Every object with its kind, in construction order: the order of Chart.to_json()'s manifests.
        self._objects: list[tuple[cdk8s.ApiObject, str]] = []
        quota = f'include "{info.name}.quotaShortfall" .'
        self.rule("namespace.quota", Cond(quota), quota)
        limit_range = f'include "{info.name}.limitRangeShortfall" .'
        self.rule("namespace.limitRange", Cond(limit_range), limit_range)
        self.rules += [float_range_rule(go, bounds) for go, bounds in float_fields(values) if bounds]

    # -- sizes the shared building blocks reason about -------------------------------------------
    def weights_gib(self) -> Expr:
        """Size of the weights in GiB (startup budget, PVC and memory checks). A variant that derives
        it (llamacpp: from its quant table) overrides this."""
        return self.v.model.size_gi_b

    def pvc_size_gib(self) -> Expr:
        """Size in GiB of the PVC the chart creates."""
        return self.v.storage.pvc.size_gi_b

    # -- naming ----------------------------------------------------------------------------------
    def include(self, helper: str, kind: Kind = Kind.STR) -> Expr:
        return include(self.info.name, helper, kind)

    def name(self, suffix: str = "") -> Expr:
        """Object name: the release's fullname, optionally with a suffix."""
        if not suffix:
            return self.include("fullname")
        return self.suffixed_name(f'"-{suffix}"')

    def suffixed_name(self, suffix_go: str) -> Expr:
        """`<fullname><suffix>` cut to 63 characters; `suffix_go` is a Go string expression."""
        return Tpl(f'include "{self.info.name}.suffixedName" (list . {suffix_go})')

    def service_name(self) -> Expr:
        return self.include("serviceName")

    def labels(self, component: str) -> dict:
        return {"app.kubernetes.io/component": component,
                "_labels": Splice(f'include "{self.info.name}.labels" .')}

    def selector_labels(self, component: str) -> dict:
        return {"app.kubernetes.io/component": component,
                "_selector": Splice(f'include "{self.info.name}.selectorLabels" .')}

    # -- objects ---------------------------------------------------------------------------------
    def add_object(self, filename: str, api_version: str, kind: str, name: Expr, component: str,
                   body: dict[str, Any], *, when: Cond | None = None,
                   annotations: dict | None = None) -> cdk8s.ApiObject:
        """Add one Kubernetes object to `templates/<filename>` (several objects may share a file)."""
        template = self.files.setdefault(filename, TemplateFile(filename))
        object_id = f"{filename.removesuffix('.yaml')}-{len(template.objects)}"
        encode = self.registry.encode
        metadata = cdk8s.ApiObjectMetadata(name=self.registry.sentinel(name), labels=encode(self.labels(component)))
        api_object = cdk8s.ApiObject(self, object_id, api_version=api_version, kind=kind, metadata=metadata)
        # Patches keep their keys in our order (cdk8s sorts the keys of metadata it is given; annotations
        # are written in the order the chart's README explains them). One add_json_patch call for all:
        # each call is a jsii round trip to node.
        patches = [cdk8s.JsonPatch.add("/metadata/annotations", encode(annotations))] if annotations else []
        patches += [cdk8s.JsonPatch.add(f"/{key}", value) for key, value in encode(body).items()]
        api_object.add_json_patch(*patches)
        template.objects.append((api_object, when))
        self._objects.append((api_object, kind))
        return api_object

    def add_config_map(self, filename: str, name: Expr, component: str, data: dict[str, Any], *,
                       when: Cond | None = None) -> kplus.ConfigMap:
        """A ConfigMap from cdk8s-plus. Its defaults are harmless here (`immutable: false`); for
        workloads the chart uses raw ApiObjects, because cdk8s-plus's typed mapping drops
        `nvidia.com/gpu` limits and imposes resources, probes and selector labels (cdk8s#2163)."""
        # Imported here, not at the top: synth imports the chart classes (and their values models) on
        # another thread while the main thread is still importing cdk8s-plus (leviathan/synth.py).
        import cdk8s_plus_30 as kplus

        template = self.files.setdefault(filename, TemplateFile(filename))
        metadata = cdk8s.ApiObjectMetadata(name=self.registry.sentinel(name),
                                           labels=self.registry.encode(self.labels(component)))
        config_map = kplus.ConfigMap(self, f"{filename.removesuffix('.yaml')}-{len(template.objects)}",
                                     metadata=metadata, data=self.registry.encode(data))
        api_object = cdk8s.ApiObject.of(config_map)
        template.objects.append((api_object, when))
        self._objects.append((api_object, "ConfigMap"))
        return config_map

    def rule(self, name: str, broken: Cond, message: str) -> None:
        self.rules.append(Rule(name, broken, message))

    # -- rendering -------------------------------------------------------------------------------
    def manifests(self) -> dict[int, dict]:
        """Every object's manifest (keyed by `id()` of its ApiObject), from one `Chart.to_json()`:
        one jsii round trip for the chart instead of one per object. cdk8s returns them in
        construction order (no object here depends on another); the kinds are checked against it."""
        manifests = self.to_json()
        synthesized = [manifest.get("kind") for manifest in manifests]
        if synthesized != [kind for _, kind in self._objects]:
            raise EmitError(f"{self.info.name}: cdk8s synthesized {synthesized}, "
                            f"expected {[kind for _, kind in self._objects]}")
        return {id(api_object): manifest for (api_object, _), manifest in zip(self._objects, manifests)}

    def render_templates(self) -> dict[str, str]:
        """templates/<file> -> text. Validation runs from the first template so that `helm template`
        fails before any object is rendered."""
        emitter = Emitter(self.registry)
        rendered: dict[str, str] = {}
        manifests = self.manifests()
        for index, (filename, template) in enumerate(self.files.items()):
            docs = []
            for api_object, when in template.objects:
                lines = emitter.document(manifests[id(api_object)])
                if when is not None:
                    lines = [f"{{{{- if {when.go} }}}}", "---", *lines, "{{- end }}"]
                else:
                    lines = ["---", *lines]
                docs.append("\n".join(lines))
            head = f'{{{{- include "{self.info.name}.validateValues" . }}}}\n' if index == 0 else ""
            text = head + "\n".join(docs) + "\n"
            if "(@h" in text:
                raise EmitError(f"{filename}: a hole sentinel leaked into the template")
            rendered[filename] = text
        return rendered
