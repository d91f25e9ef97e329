"""YAML with positions: every value the policy loaders read knows its line and column.

The live editor re-reads the whole policy on every keystroke, so this composes nodes with
libyaml (PyYAML's C composer, about 30x faster than ruamel's pure-Python round-trip loader on
an 800-line policy) and never constructs Python objects: loaders walk the nodes and read raw
scalars, so YAML 1.1 surprises (`yes`, `on`, `0x1`) are interpreted the way Go's yaml.v3 does,
by the field's type. Nothing here rewrites YAML: the editor saves the text as typed, so
comments, key order and quoting are kept by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

try:  # libyaml is in PyYAML's wheels; the pure-Python composer is the slow fallback
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the wheel
    _Loader = yaml.SafeLoader

from .diagnostics import Diagnostic

Node = yaml.Node
MappingNode = yaml.MappingNode
SequenceNode = yaml.SequenceNode
ScalarNode = yaml.ScalarNode

_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
# yaml.v3 also accepts YAML 1.1 booleans when decoding into a bool field.
_TRUE_11 = _TRUE | {"yes", "Yes", "YES", "on", "On", "ON", "y", "Y"}
_FALSE_11 = _FALSE | {"no", "No", "NO", "off", "Off", "OFF", "n", "N"}


@dataclass(frozen=True)
class Document:
    index: int  # 0-based position of the document in the file
    root: Node | None  # None for an empty document


def position(node: Node) -> tuple[int, int]:
    """1-based (line, column) where a node starts."""
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


def end_position(node: Node) -> tuple[int, int]:
    mark = node.end_mark
    return mark.line + 1, mark.column + 1


def compose(text: str) -> tuple[list[Document], Diagnostic | None]:
    """All documents of a YAML stream, or the documents before a syntax error and that error.

    A syntax error becomes a `yaml-syntax` diagnostic at the line and column libyaml reports.
    """
    docs: list[Document] = []
    loader = _Loader(text)
    try:
        index = 0
        while loader.check_node():
            docs.append(Document(index, loader.get_node()))
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.context}: {exc.problem}"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        return docs, Diagnostic("error", "yaml-syntax", f"YAML syntax error: {problem}", line, column)
    except yaml.YAMLError as exc:  # reader errors (control characters, bad encoding)
        mark = getattr(exc, "position", None)
        return docs, Diagnostic("error", "yaml-syntax", f"YAML syntax error: {exc}", None, None)
    finally:
        loader.dispose()
    return docs, None


def duplicate_keys(root: Node | None) -> list[Diagnostic]:
    """A `duplicate-key` error at each mapping key written twice in the same mapping.

    Go's yaml.v3 (Talos) and kubectl's strict decoding (Kyverno) reject such a document; YAML
    loaders in Python keep the last value silently. Scalar keys are compared by their text, as
    yaml.v3 does (`1` and `"1"` are the same key). An alias is the same node object as its
    anchor, so each mapping is visited once (a billion-laughs document stays cheap).
    """
    found: list[Diagnostic] = []
    if root is None or isinstance(root, ScalarNode):
        return found
    seen: set[int] = set()
    stack: list[Node] = [root]
    pop, push, scalar, mapping = stack.pop, stack.append, ScalarNode, MappingNode
    while stack:
        node = pop()
        key = id(node)
        if key in seen:
            continue
        seen.add(key)
        if type(node) is mapping:
            pairs = node.value
            try:
                repeated = len({k.value for k, _ in pairs}) < len(pairs)
            except TypeError:  # a mapping or list as a key (its value is a list)
                repeated = True
            if repeated:
                found.extend(_duplicates_in(pairs))
            for _, value in pairs:
                if type(value) is not scalar:
                    push(value)
        else:  # a sequence
            for item in node.value:
                if type(item) is not scalar:
                    push(item)
    found.sort(key=lambda d: (d.line or 0, d.column or 0))
    return found


def _duplicates_in(pairs: list[tuple[Node, Node]]) -> list[Diagnostic]:
    first: dict[str, Node] = {}
    out = []
    for key_node, _ in pairs:
        if not isinstance(key_node, ScalarNode):
            continue
        earlier = first.setdefault(key_node.value, key_node)
        if earlier is not key_node:
            out.append(duplicate_key_diagnostic(key_node, earlier))
    return out


def duplicate_key_diagnostic(key_node: ScalarNode, earlier: ScalarNode, rule_index: int | None = None) -> Diagnostic:
    """The `duplicate-key` error at the second of two equal keys, in yaml.v3's words."""
    import json

    first_line = position(earlier)[0]
    line, column = position(key_node)
    end_line, end_column = end_position(key_node)
    # yaml.v3 quotes the key with Go's `%#v`, which json.dumps matches for text
    message = f"mapping key {json.dumps(key_node.value, ensure_ascii=False)} already defined at line {first_line}"
    fix = (f"remove this '{key_node.value}' key or the one at line {first_line} "
           "(YAML would keep only the last one; Talos and Kyverno refuse the document)")
    return Diagnostic("error", "duplicate-key", message, line, column, rule_index, end_line, end_column, fix)


def is_null(node: Node | None) -> bool:
    return node is None or (
        isinstance(node, ScalarNode)
        and node.tag == "tag:yaml.org,2002:null"
        and not node.style  # libyaml's composer gives '' for plain scalars, PyYAML's None
    )


def mapping_items(node: MappingNode) -> list[tuple[str, ScalarNode, Node]]:
    """(key text, key node, value node) for each entry; non-scalar keys get their YAML text."""
    items = []
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, ScalarNode) else repr(key_node.value)
        items.append((key, key_node, value_node))
    return items


def map_get(node: Node | None, key: str) -> Node | None:
    """The value node under `key` in a mapping node, or None (also for a non-mapping)."""
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return v
    return None


def scalar_str(node: Node) -> str | None:
    """The text of a scalar as Go would decode it into a string field (null -> None)."""
    if not isinstance(node, ScalarNode) or is_null(node):
        return None
    return node.value


def scalar_bool(node: Node) -> bool | None:
    """A bool field as yaml.v3 decodes it, or None where it is not a boolean."""
    if not isinstance(node, ScalarNode):
        return None
    if node.style:  # quoted: yaml.v3 refuses "true" into a bool ('' / None = plain)
        return None
    if node.value in _TRUE_11:
        return True
    if node.value in _FALSE_11:
        return False
    return None


def scalar_int(node: Node) -> int | None:
    if not isinstance(node, ScalarNode) or node.style:
        return None
    try:
        return int(node.value.replace("_", ""), 0)
    except ValueError:
        return None


def kind_name(node: Node | None) -> str:
    """How a node reads to a person: 'a mapping', 'a list', 'a string', ..."""
    if node is None or is_null(node):
        return "null"
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return f"'{node.value}'"
