"""Image lists (SPEC §6), in whichever format a person has at hand, detected by content.

- plain text: one reference a line (several separated by spaces also work, as
  `kubectl ... -o jsonpath='{..image}'` prints them), `#` comments, blank lines;
- `kubectl get pods -A -o json`: containers, initContainers and ephemeralContainers of each pod;
- Kubernetes manifests, YAML or JSON, one or many documents: Pod, PodTemplate, Deployment,
  StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, and List of those;
- `talosctl image ls` (`talosctl image list`): a table NODE IMAGE DIGEST SIZE LABELS CREATED,
  aligned by Go's tabwriter; the `talos.dev/verified` label, which Talos puts on an image it
  pulled after verifying its signature (value: the verification message), becomes
  `node_verified`. The legacy table without LABELS gives `node_verified = None`.

Entries keep the file's order; de-duplication is the caller's. Errors raise `ImageListError`
with `origin:line:column`.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from . import yamlsource
from .yamlsource import MappingNode, Node, ScalarNode, SequenceNode, map_get

PLAIN = "plain"
KUBECTL_JSON = "kubectl-json"
MANIFESTS = "manifests"
TALOSCTL = "talosctl"

TALOS_VERIFIED_LABEL = "talos.dev/verified"

# Where each kind keeps its pod spec (a path of mapping keys).
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")

_MANIFEST_HINT = re.compile(r"^(?:apiVersion|kind)\s*:", re.MULTILINE)
# containerd lists an image's config digest as a name of its own in the CRI namespace.
_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{64}")
# A label key at the start of the LABELS cell or after a comma (values may hold spaces).
_LABEL_KEY = re.compile(r"(?:^|,)([A-Za-z0-9][A-Za-z0-9._/-]*)=")


class ImageListError(ValueError):
    """An image list that cannot be read; the message starts with `origin:line:column`."""

    def __init__(self, origin: str, message: str, line: int | None = None,
                 column: int | None = None):
        self.origin = origin
        self.line = line
        self.column = column
        self.reason = message
        where = origin
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}")


# slots: a fleet's list holds hundreds of thousands (half the memory of a __dict__ each)
@dataclass(frozen=True, slots=True)
class ImageEntry:
    image: str
    source: str | None  # where it came from: `namespace/pod/container`, `Deployment/web/app`...
    line: int | None  # 1-based line in the list file
    node_verified: bool | None = None  # talosctl: the `talos.dev/verified` label; else None
    node: str | None = None  # talosctl: the node that reported the image
    node_message: str | None = None  # talosctl: the label's value (Talos's verification message)
    pod: str | None = None  # kubectl pods and Pod manifests: the pod's name (a workload has none)
    namespace: str | None = None  # kubectl pods and manifests: metadata.namespace, when written
    # Manifests and kubectl pods: the object the image is written in, as plain data, and the
    # container list holding it (an ImageValidatingPolicy's `object` and `images.<category>`)
    resource: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False, repr=False)
    category: str | None = dataclasses.field(default=None, compare=False, repr=False)


# Only a space or a tab separates references and only a newline (CRLF too) ends a line: Python's
# str.split()/splitlines() also break at \x1c-\x1f, \x85, \u2028, \v and \f, which would cut an
# entry holding one into plausible references. Such an entry stays whole, and is an invalid
# reference, as go-containerregistry finds it.
_BLANKS = " \t"
_WORDS = re.compile(r"[^ \t]+")


def _lines(text: str) -> list[str]:
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _first_meaningful(text: str) -> str:
    for line in _lines(text):
        stripped = line.strip(_BLANKS)
        if stripped and not stripped.startswith("#"):
            return stripped
    return ""


def _is_talosctl_header(line: str) -> bool:
    words = _WORDS.findall(line)
    return len(words) >= 4 and words[:4] == ["NODE", "IMAGE", "DIGEST", "SIZE"]


def detect_format(text: str) -> str:
    """"plain" | "kubectl-json" | "manifests" | "talosctl", from the content alone."""
    return _detect(text.lstrip("\ufeff"))[0]


_NOT_JSON = object()


def _detect(text: str) -> tuple[str, Any]:
    """(format, parsed JSON or _NOT_JSON), so JSON is parsed once."""
    first = _first_meaningful(text)
    if first.startswith(("{", "[")):
        # `kubectl get pods -o json` is a List of Pods; any other JSON is a manifest.
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            fmt = KUBECTL_JSON if '"kind": "List"' in text[:2000] else MANIFESTS
            return fmt, _NOT_JSON
        return (KUBECTL_JSON if _looks_like_kubectl(data) else MANIFESTS), data
    if _is_talosctl_header(first):
        return TALOSCTL, _NOT_JSON
    if _MANIFEST_HINT.search(text) or first == "---":
        return MANIFESTS, _NOT_JSON
    return PLAIN, _NOT_JSON


def _looks_like_kubectl(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    if data.get("kind") == "Pod":
        return True
    items = data.get("items")
    return (data.get("kind") == "List" and isinstance(items, list)
            and all(isinstance(i, dict) and i.get("kind", "Pod") == "Pod" for i in items))


def parse_image_list(text: str, origin: str = "<images>") -> list[ImageEntry]:
    """Every image named in `text`, in order (format from `detect_format`)."""
    text = text.lstrip("\ufeff")
    fmt, data = _detect(text)
    if fmt == PLAIN:
        return _parse_plain(text, origin)
    if fmt == TALOSCTL:
        return _parse_talosctl(text, origin)
    return _parse_kubernetes(text, origin, data)


# --- plain text ----------------------------------------------------------------------------


def _parse_plain(text: str, origin: str) -> list[ImageEntry]:
    entries = []
    for number, line in enumerate(_lines(text), 1):
        content = line.split("#", 1)[0]  # '#' never occurs in a reference
        for word in _WORDS.findall(content):
            entries.append(ImageEntry(word, None, number))
    return entries


# --- talosctl image ls ---------------------------------------------------------------------


def _parse_talosctl(text: str, origin: str) -> list[ImageEntry]:
    lines = _lines(text)
    header_index = next(i for i, line in enumerate(lines) if line.strip(_BLANKS))
    header = lines[header_index]
    # tabwriter pads every cell of a column to the same width, so the header's words give the
    # columns' start positions; cells (SIZE `1.2 MB`, label values) may hold single spaces.
    starts: dict[str, int] = {}
    for match in re.finditer(r"\S+", header):
        starts[match.group()] = match.start()
    missing = [c for c in ("NODE", "IMAGE", "DIGEST") if c not in starts]
    if missing:
        raise ImageListError(origin, "talosctl image list header without "
                             + ", ".join(missing), header_index + 1, 1)
    has_labels = "LABELS" in starts
    order = sorted(starts.items(), key=lambda kv: kv[1])
    entries = []
    for index in range(header_index + 1, len(lines)):
        line = lines[index]
        if not line.strip(_BLANKS):
            continue
        if _is_talosctl_header(line.strip(_BLANKS)):
            continue  # several outputs concatenated
        cells = {}
        for k, (name, start) in enumerate(order):
            end = order[k + 1][1] if k + 1 < len(order) else len(line)
            cells[name] = line[start:end].strip(_BLANKS) if start < len(line) else ""
        # A row must have its separating blanks where the header put its columns.
        image_start = starts["IMAGE"]
        if image_start > 0 and image_start <= len(line) and line[image_start - 1] != " ":
            raise ImageListError(origin, "row does not line up with the talosctl header "
                                 "(was the table edited or re-wrapped?)", index + 1, image_start)
        image = cells.get("IMAGE", "")
        if not image:
            raise ImageListError(origin, "row has no IMAGE", index + 1, image_start + 1)
        if _IMAGE_ID.fullmatch(image):
            continue
        verified: bool | None = None
        message: str | None = None
        if has_labels:
            labels = _parse_labels(cells.get("LABELS", ""))
            message = labels.get(TALOS_VERIFIED_LABEL)
            verified = message is not None
        entries.append(ImageEntry(image, cells.get("NODE") or None, index + 1, verified,
                                  cells.get("NODE") or None, message))
    return entries


def _parse_labels(cell: str) -> dict[str, str]:
    """`k=v,k2=v2` as talosctl's FormatLabels writes it (keys sorted, values may hold spaces)."""
    labels: dict[str, str] = {}
    matches = list(_LABEL_KEY.finditer(cell))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(cell)
        labels[match.group(1)] = cell[match.end():end]
    return labels


# --- Kubernetes objects ----------------------------------------------------------------------


def _parse_kubernetes(text: str, origin: str, data: Any) -> list[ImageEntry]:
    entries: list[ImageEntry] = []
    if _first_meaningful(text).startswith(("{", "[")):
        # JSON goes through the json module: libyaml takes seconds on a large
        # `kubectl get pods -A -o json` that json.loads reads in a fraction of one.
        try:
            if data is _NOT_JSON:
                data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImageListError(origin, f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
        except RecursionError:
            raise ImageListError(origin, "invalid JSON: nested too deeply") from None
        _walk_plain_object(data, origin, entries, _JsonPositions(text, data), top=True)
        return entries
    docs, error = yamlsource.compose(text)
    if error is not None:
        raise ImageListError(origin, error.message, error.line, error.column)
    for doc in docs:
        if doc.root is not None:
            _walk_node_object(doc.root, origin, entries, top=True)
    return entries


class _JsonPositions:
    """Line and column of each `"image"` value, found without a position-tracking parser.

    Outside strings, `"image"` followed by `:` can only be a key (a quote inside a JSON string
    is always escaped), and json.loads keeps keys in file order, so the n-th "image" key met
    walking the data in order is the n-th such token in the text. If the counts disagree
    (duplicate keys, escaped key spellings), positions are left out rather than guessed.
    """

    _TOKEN = re.compile(r'"image"\s*:\s*(\S)')

    def __init__(self, text: str, data: Any):
        self._by_owner: dict[int, int] = {}
        self._newlines: list[int] | None = None
        self._text = text
        offsets = [m.start(1) for m in self._TOKEN.finditer(text)]
        owners: list[dict[str, Any]] = []
        self._collect(data, owners)
        if len(owners) != len(offsets):
            return
        for owner, offset in zip(owners, offsets, strict=True):
            self._by_owner[id(owner)] = offset
        self._owners = owners  # keep them alive so ids stay unique

    @classmethod
    def _collect(cls, value: Any, owners: list[dict[str, Any]]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "image":
                    owners.append(value)
                cls._collect(item, owners)
        elif isinstance(value, list):
            for item in value:
                cls._collect(item, owners)

    def of(self, container: dict[str, Any]) -> tuple[int | None, int | None]:
        offset = self._by_owner.get(id(container))
        if offset is None:
            return None, None
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self._text)]
        line = bisect.bisect_left(self._newlines, offset)  # newlines before the offset
        line_start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, offset - line_start + 1


# Node trees (positions known)


def _text(node: Node | None) -> str | None:
    return yamlsource.scalar_str(node) if node is not None else None


def _walk_node_object(node: Node, origin: str, out: list[ImageEntry], top: bool = False) -> None:
    if isinstance(node, SequenceNode):  # a bare JSON array of objects
        for item in node.value:
            _walk_node_object(item, origin, out)
        return
    if not isinstance(node, MappingNode):
        if top and yamlsource.is_null(node):
            return
        line, column = yamlsource.position(node)
        raise ImageListError(origin, f"expected a Kubernetes object, found {yamlsource.kind_name(node)}",
                             line, column)
    kind = _text(map_get(node, "kind"))
    if kind is not None and kind.endswith("List"):
        items = map_get(node, "items")
        if items is None or yamlsource.is_null(items):
            return
        if not isinstance(items, SequenceNode):
            line, column = yamlsource.position(items)
            raise ImageListError(origin, f"'items' must be a list, found {yamlsource.kind_name(items)}",
                                 line, column)
        for item in items.value:
            _walk_node_object(item, origin, out)
        return
    path = _POD_SPEC_PATHS.get(kind or "")
    if path is None:
        return  # Services, ConfigMaps... hold no images
    metadata = map_get(node, "metadata")
    pod_name = _text(map_get(metadata, "name"))
    name = pod_name or "?"
    namespace = _text(map_get(metadata, "namespace"))
    spec: Node | None = node
    for key in path:
        spec = map_get(spec, key)
        if spec is None:
            return
    owner = "/".join(p for p in (namespace, name) if p)
    prefix = owner if kind == "Pod" else f"{kind}/{owner}"
    resource: dict[str, Any] | None = None  # constructed once, when the object holds an image
    for field in _CONTAINER_FIELDS:
        containers = map_get(spec, field)
        if containers is None or yamlsource.is_null(containers):
            continue
        if not isinstance(containers, SequenceNode):
            line, column = yamlsource.position(containers)
            raise ImageListError(origin, f"'{field}' must be a list, found "
                                 f"{yamlsource.kind_name(containers)}", line, column)
        for container in containers.value:
            image = map_get(container, "image")
            if image is None:
                continue
            line, column = yamlsource.position(image)
            value = _text(image)
            if not isinstance(image, ScalarNode) or value is None:
                raise ImageListError(origin, f"'image' must be a string, found "
                                     f"{yamlsource.kind_name(image)}", line, column)
            cname = _text(map_get(container, "name")) or "?"
            resource = resource if resource is not None else admitted_object(plain_object(node))
            out.append(ImageEntry(value.strip(_BLANKS), f"{prefix}/{cname}", line,
                                  pod=pod_name if kind == "Pod" else None, namespace=namespace,
                                  resource=resource, category=field))


# Plain Python data (JSON that only the json module reads; no positions)


def _walk_plain_object(data: Any, origin: str, out: list[ImageEntry], where: _JsonPositions,
                       top: bool = False) -> None:
    if isinstance(data, list):
        for item in data:
            _walk_plain_object(item, origin, out, where)
        return
    if not isinstance(data, dict):
        if top and data is None:
            return
        raise ImageListError(origin, f"expected a Kubernetes object, found {_json_kind(data)}")
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List"):
        items = data.get("items")
        if items is None:
            return
        if not isinstance(items, list):
            raise ImageListError(origin, f"'items' must be a list, found {_json_kind(items)}")
        for item in items:
            _walk_plain_object(item, origin, out, where)
        return
    path = _POD_SPEC_PATHS.get(kind) if isinstance(kind, str) else None
    if path is None:
        return
    found = data.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    name = metadata.get("name") if isinstance(metadata.get("name"), str) else None
    namespace = metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else None
    spec: Any = data
    for key in path:
        spec = spec.get(key) if isinstance(spec, dict) else None
        if spec is None:
            return
    owner = "/".join(p for p in (namespace, name or "?") if p)
    prefix = owner if kind == "Pod" else f"{kind}/{owner}"
    resource = admitted_object(data)
    for field in _CONTAINER_FIELDS:
        containers = spec.get(field) if isinstance(spec, dict) else None
        if containers is None:
            continue
        if not isinstance(containers, list):
            raise ImageListError(origin, f"'{field}' must be a list, found {_json_kind(containers)}"
                                 f" (in {prefix})")
        for container in containers:
            if not isinstance(container, dict) or "image" not in container:
                continue
            line, column = where.of(container)
            image = container["image"]
            if not isinstance(image, str):
                raise ImageListError(origin, f"'image' must be a string, found {_json_kind(image)}",
                                     line, column)
            cname = container.get("name") if isinstance(container.get("name"), str) else "?"
            out.append(ImageEntry(image.strip(_BLANKS), f"{prefix}/{cname}", line,
                                  pod=name if kind == "Pod" else None, namespace=namespace,
                                  resource=resource, category=field))


def admitted_object(data: dict[str, Any]) -> dict[str, Any]:
    """The object as an admission request at creation carries it: no status, no managedFields
    (what a live pod from `kubectl get pods` adds); the rest of a large list is not kept."""
    metadata = data.get("metadata")
    out = {key: value for key, value in data.items() if key != "status"}
    if isinstance(metadata, dict) and "managedFields" in metadata:
        out["metadata"] = {key: value for key, value in metadata.items() if key != "managedFields"}
    return out


def plain_object(node: Node) -> dict[str, Any]:
    """A manifest object as plain data, as Kubernetes decodes it."""
    try:
        value = yaml.constructor.SafeConstructor().construct_document(node)
    except (yaml.YAMLError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return f"'{value}'"
