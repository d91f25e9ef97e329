"""Which resources an ImageValidatingPolicy selects: matchConstraints and matchConditions.

Kyverno matches the admission request before it looks at images (`pkg/cel/policies/ivpol/engine`:
`matchPolicy`, then the compiled policy's matchConditions): a resource rule must take the
resource's group, version, resource (plural) and operation, no exclude rule may, the object's
labels must satisfy objectSelector, and every matchCondition must be true over `object`. A
namespaceSelector needs the namespace's labels, which neither a Kyverno test file nor a manifest
gives: a non-empty one is an error "not verified by pullguard", never a guess.

The images of a resource are taken as Kyverno's default extractors take them for its kind
(`pkg/cel/compiler/images.go`): a Pod's containers, initContainers and ephemeralContainers, the
pod template of a Deployment, StatefulSet, DaemonSet, ReplicaSet or Job, a CronJob's job template;
a policy's `spec.images` extractors add `images.<name>` (CEL over `object`, a list of strings,
`CompileImageExtractors`/`ExtractImages` there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .expressions import CelRuntimeError
from .model import MatchError, NamedExpression

CATEGORIES = ("containers", "initContainers", "ephemeralContainers")
_POD_TEMPLATE = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
_IRREGULAR = {"Endpoints": "endpoints"}


@dataclass(frozen=True)
class ResourceRule:
    api_groups: tuple[str, ...]
    api_versions: tuple[str, ...]
    operations: tuple[str, ...]
    resources: tuple[str, ...]
    resource_names: tuple[str, ...] = ()

    def takes(self, group: str, version: str, resource: str, operation: str, name: str) -> bool:
        return (_listed(group, self.api_groups) and _listed(version, self.api_versions)
                and _listed(operation, self.operations) and _resource_listed(resource, self.resources)
                and (not self.resource_names or name in self.resource_names))


@dataclass(frozen=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    # (key, operator, values): In, NotIn, Exists, DoesNotExist
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.expressions

    def selects(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.match_labels):
            return False
        for key, operator, values in self.expressions:
            if operator == "In" and labels.get(key) not in values:
                return False
            if operator == "NotIn" and key in labels and labels[key] in values:
                return False
            if operator == "Exists" and key not in labels:
                return False
            if operator == "DoesNotExist" and key in labels:
                return False
            if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
                raise MatchError(f"matchConstraints: label selector operator {operator!r} is not valid")
        return True


@dataclass(frozen=True)
class Selection:
    """matchConstraints and matchConditions, compiled."""

    rules: tuple[ResourceRule, ...] = ()
    excluded: tuple[ResourceRule, ...] = ()
    namespace_selector: LabelSelector | None = None
    object_selector: LabelSelector | None = None
    conditions: tuple[NamedExpression, ...] = ()

    def selects(self, resource: Mapping[str, Any], operation: str = "CREATE") -> str | None:
        """None when the policy takes the resource, else why not; MatchError when it cannot tell."""
        group, _, version = str(resource.get("apiVersion") or "").rpartition("/")
        kind = str(resource.get("kind") or "")
        metadata = resource.get("metadata") if isinstance(resource.get("metadata"), Mapping) else {}
        assert isinstance(metadata, Mapping)
        name = str(metadata.get("name") or "")
        plural = resource_name(kind)
        if not any(rule.takes(group, version, plural, operation, name) for rule in self.rules):
            return f"no matchConstraints.resourceRules entry takes {operation} {_gvr(group, version, plural)}"
        if any(rule.takes(group, version, plural, operation, name) for rule in self.excluded):
            return f"matchConstraints.excludeResourceRules takes {operation} {_gvr(group, version, plural)}"
        if self.namespace_selector is not None and not self.namespace_selector.empty:
            raise MatchError("not verified by pullguard: matchConstraints.namespaceSelector (the namespace's labels "
                             "are not known)")
        labels = metadata.get("labels") if isinstance(metadata.get("labels"), Mapping) else {}
        assert isinstance(labels, Mapping)
        if self.object_selector is not None and not self.object_selector.selects({str(k): str(v) for k, v in labels.items()}):
            return "matchConstraints.objectSelector does not select the object's labels"
        false = first_false(self.conditions, resource, operation)
        return f"matchConditions '{false.name}' is false" if false is not None else None


def first_false(conditions: Sequence[NamedExpression], resource: Mapping[str, Any],
                operation: str = "CREATE") -> NamedExpression | None:
    """The first matchCondition that is false over the resource, None when every one is true;
    MatchError when none is false and one could not be evaluated (Kubernetes' rule, as
    Kyverno's `match` applies it: a false condition decides, whatever the others' errors)."""
    data = _admission_data(resource, operation)
    errors = []
    for condition in conditions:
        try:
            value = condition.expression.evaluate(data)
        except CelRuntimeError as error:
            errors.append(f"matchConditions '{condition.name}' (line {condition.line}): {error}")
            continue
        if value is not True:
            return condition
    if errors:
        raise MatchError(errors[0])
    return None


def _admission_data(resource: Mapping[str, Any], operation: str) -> dict[str, Any]:
    """What matchConditions and `spec.images` see of a resource arriving with `operation`: it as
    `object` and in the admission `request` (with its name and namespace), no old object."""
    metadata = resource.get("metadata") if isinstance(resource.get("metadata"), Mapping) else {}
    assert isinstance(metadata, Mapping)
    return {"object": dict(resource), "oldObject": None, "namespaceObject": None,
            "request": {"operation": operation, "object": dict(resource), "name": str(metadata.get("name") or ""),
                        "namespace": metadata.get("namespace")}}


def extract(extractors: Sequence[NamedExpression], resource: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(image, extractor name) for every string a `spec.images` extractor gives over the resource
    (Kyverno's ExtractImages); MatchError when one errors or gives something else."""
    data = _admission_data(resource, "CREATE")
    out = []
    for extractor in extractors:
        try:
            value = extractor.expression.evaluate(data)
        except CelRuntimeError as error:
            raise MatchError(f"spec.images '{extractor.name}' (line {extractor.line}): {error}") from None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise MatchError(f"spec.images '{extractor.name}' (line {extractor.line}): not a list of strings")
        out += [(item, extractor.name) for item in value]
    return out


def namespace_of(resource: Mapping[str, Any]) -> str:
    """The resource's namespace: metadata.namespace, or `default` where none is written (where
    kubectl creates it without -n, and how Kyverno test files name it: `default/name`)."""
    metadata = resource.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    return namespace if isinstance(namespace, str) and namespace else "default"


def resource_name(kind: str) -> str:
    """The plural resource of a kind, as the API server names it (Pod -> pods, NetworkPolicy -> networkpolicies)."""
    if kind in _IRREGULAR:
        return _IRREGULAR[kind]
    lower = kind.lower()
    if lower.endswith("y") and lower[-2:-1] not in tuple("aeiou"):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


def images_by_category(resource: Mapping[str, Any]) -> dict[str, list[str]]:
    """The resource's images as Kyverno's default extractors for its kind take them."""
    kind = resource.get("kind")
    spec: Any = resource.get("spec")
    if kind in _POD_TEMPLATE:
        spec = _path(spec, "template", "spec")
    elif kind == "CronJob":
        spec = _path(spec, "jobTemplate", "spec", "template", "spec")
    elif kind != "Pod":
        spec = None
    out: dict[str, list[str]] = {category: [] for category in CATEGORIES}
    if isinstance(spec, Mapping):
        for category in CATEGORIES:
            containers = spec.get(category)
            for container in containers if isinstance(containers, list) else ():
                if isinstance(container, Mapping) and isinstance(container.get("image"), str):
                    out[category].append(container["image"])
    return out


class ResourceImage(str):
    """An image reference (the string as written) that knows the resource it is written in and
    its category there: what an ImageValidatingPolicy sees as `object` and `images` when the
    resource is known. A str, so every consumer of image references takes it as one."""

    resource: Mapping[str, Any]
    category: str

    def __new__(cls, reference: str, resource: Mapping[str, Any], category: str = "containers") -> ResourceImage:
        image = super().__new__(cls, reference)
        image.resource = resource
        image.category = category
        return image


def subjects(images: Sequence[tuple[str, Mapping[str, Any] | None, str | None]]) -> list[str]:
    """(reference, resource, category) as what an ImageValidatingPolicy decides: the reference
    with its resource where one is known, else the bare reference (a Pod of its own)."""
    return [ResourceImage(image, resource, category or "containers") if resource is not None else image
            for image, resource, category in images]


def _path(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _listed(value: str, allowed: tuple[str, ...]) -> bool:
    return "*" in allowed or value in allowed


def _resource_listed(resource: str, allowed: tuple[str, ...]) -> bool:
    # `*` and `*/*`... take main resources; `pods/*` only subresources (none is asked here)
    return any(entry in ("*", resource) or entry == "*/*" for entry in allowed)


def _gvr(group: str, version: str, resource: str) -> str:
    return f"{group}/{version}/{resource}" if group else f"{version}/{resource}"
