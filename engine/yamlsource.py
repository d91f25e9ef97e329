"""YAML with positions: every value the policy loaders read knows its line and column.

The live editor re-reads the whole policy on every keystroke, so this composes nodes with
libyaml (PyYAML's C composer, about 30x faster than ruamel's pure-Python round-trip loader on
an 800-line policy) and never constructs Python objects: loaders walk the nodes and read raw
scalars, so YAML 1.1 surprises (`yes`, `on`, `0x1`) are interpreted the way Go's yaml.v3 does,
by the field's type. ruamel.yaml is used where text is rewritten (saving, applying fixes).
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
