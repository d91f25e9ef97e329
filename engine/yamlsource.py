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
from typing import Any

import yaml

from .yamlsyntax import explain

Node = yaml.Node
MappingNode = yaml.MappingNode
SequenceNode = yaml.SequenceNode
ScalarNode = yaml.ScalarNode

_Base: Any
try:  # libyaml is in PyYAML's wheels; the pure-Python composer is the slow fallback
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the wheel
    _Base = yaml.SafeLoader


# The first characters for which SafeLoader tries an implicit type (null, bool, int, float,
# timestamp, merge, value); a plain scalar starting with any other is a string.
_IMPLICIT_STARTS = frozenset(k for k in _Base.yaml_implicit_resolvers if k)
_STR_TAG: str = _Base.DEFAULT_SCALAR_TAG
_SEQ_TAG: str = _Base.DEFAULT_SEQUENCE_TAG
_MAP_TAG: str = _Base.DEFAULT_MAPPING_TAG
# What the shortcut in _Loader.resolve relies on: no resolver for every scalar, none by path.
_RESOLVE_SHORTCUT = None not in _Base.yaml_implicit_resolvers and not _Base.yaml_path_resolvers


class _Loader(_Base):  # type: ignore[misc]
    """The safe loader, whose composer asks the path resolvers about every node: SafeLoader
    has none (PyYAML's methods return at once), and those two Python calls a node were 5-8% of
    composing a fleet-sized policy."""

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    if _RESOLVE_SHORTCUT:

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            """The tag SafeLoader's resolver gives, without trying its regexes where none can
            match: quoted scalars, collections, and plain scalars whose first character starts
            no implicit type (most keys and values of a policy). A fifth of composing."""
            if kind is ScalarNode:
                if implicit[0] and (not value or value[0] in _IMPLICIT_STARTS):
                    tag: str = super().resolve(kind, value, implicit)
                    return tag
                return _STR_TAG
            return _MAP_TAG if kind is MappingNode else _SEQ_TAG


# yaml.v3's scanner (Talos) refuses a document nested deeper than this: `exceeded max depth of
# 10000` (max_flow_level, max_indents). PyYAML's C composer recurses once a level on the C stack,
# and some tens of thousands of levels (a few hundred KB of brackets) overflow it: the process
# would die on a pasted policy, an image list or a test file.
MAX_NESTING = 10_000


class _TooDeep(Exception):
    def __init__(self, node: Any):
        super().__init__()
        self.node = node  # the collection at depth MAX_NESTING


def _may_nest_too_deep(text: str) -> bool:
    """False when the text cannot nest past MAX_NESTING, by a bound that costs a few counts: a
    flow level opens a bracket, and a block level moves at least one column right (or puts a
    sequence under a key of its own column, at most once a column)."""
    if len(text) <= MAX_NESTING:
        return False
    opened = text.count("[") + text.count("{")
    return opened > MAX_NESTING or opened + 2 * max(map(len, text.split("\n"))) + 4 > MAX_NESTING


def _count_nesting(loader: Any) -> None:
    """The composer calls these two hooks around every node it builds, on its way down and back:
    counting there stops it at MAX_NESTING, before its recursion can overflow the C stack.
    (Closures on the instance: a third of the cost of methods looked up through the loader's
    classes, paid only by a text `_may_nest_too_deep` cannot clear, as a fleet's flow-style policy.)"""
    depth = 0

    def descend(current_node: Any, current_index: Any) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_NESTING:
            raise _TooDeep(current_node)

    def ascend() -> None:
        nonlocal depth
        depth -= 1

    loader.descend_resolver = descend
    loader.ascend_resolver = ascend


_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
# yaml.v3 also accepts YAML 1.1 booleans when decoding into a bool field.
_TRUE_11 = _TRUE | {"yes", "Yes", "YES", "on", "On", "ON", "y", "Y"}
_FALSE_11 = _FALSE | {"no", "No", "NO", "off", "Off", "OFF", "n", "N"}


@dataclass(frozen=True)
class Document:
    index: int  # 0-based position of the document in the file
    root: Node | None  # None for an empty document
    # False when the text has no anchor: then no alias makes a node appear twice in the tree,
    # and a walk needs no record of the nodes it has seen.
    has_anchors: bool = True
    # The stream the document was composed from, which its nodes' marks index ("" when the
    # nodes were made some other way).
    text: str = ""


def position(node: Node) -> tuple[int, int]:
    """1-based (line, column) where a node starts."""
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


def end_position(node: Node) -> tuple[int, int]:
    mark = node.end_mark
    return mark.line + 1, mark.column + 1


# Aliases may repeat what a document holds; past this many nodes (plus ten per node written,
# an alias counting as one), a document is refused: a few hundred bytes of nested aliases would
# otherwise expand to billions of nodes for every walker that reads the tree as a tree. An
# anchor reused across a long file stays far below it.
ALIAS_EXPANSION_LIMIT = 100_000


@dataclass(frozen=True)
class YamlProblem:
    """Why a YAML stream could not be read whole: plain data, turned into a diagnostic by the
    reader of each file format (`pullguard.engine.yamlschema.problem_diagnostic`)."""

    code: str  # "yaml-syntax" or "yaml-alias-limit"
    message: str
    line: int | None
    column: int | None
    fix: str | None = None
    # (line, column the text starts at, column it should start at) for an indentation fix.
    reindent: tuple[int, int, int] | None = None


def compose(text: str) -> tuple[list[Document], YamlProblem | None]:
    """All documents of a YAML stream, or the documents before a problem and that problem.

    A syntax error is a `yaml-syntax` problem at the line and column libyaml reports; a
    document whose aliases expand past ALIAS_EXPANSION_LIMIT (or hold their own anchor) is a
    `yaml-alias-limit` problem at the anchored node used most.
    """
    docs: list[Document] = []
    loader = _Loader(text)
    if _may_nest_too_deep(text):
        _count_nesting(loader)
    check_aliases = "&" in text  # no anchor, no alias: the walk below is skipped
    try:
        index = 0
        while loader.check_node():
            root = loader.get_node()
            if check_aliases and root is not None:
                problem = _alias_expansion_problem(root)
                if problem is not None:
                    return docs, problem
            docs.append(Document(index, root, check_aliases, text))
            index += 1
    except _TooDeep as exc:
        at_line, at_column = position(exc.node)
        return docs, YamlProblem("yaml-syntax", f"YAML syntax error: exceeded max depth of {MAX_NESTING} (nested deeper "
                                 f"than {MAX_NESTING:,} levels below line {at_line}; Talos's YAML reader refuses it too)",
                                 at_line, at_column)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        context_line = exc.context_mark.line + 1 if exc.context_mark else None
        words = explain(text, exc.problem or exc.context or "invalid YAML", exc.context if exc.problem else None,
                        line, context_line)
        return docs, YamlProblem("yaml-syntax", f"YAML syntax error: {words.message}", line, column, words.fix,
                                 words.reindent)
    except yaml.YAMLError as exc:  # reader errors (control characters, bad encoding)
        return docs, YamlProblem("yaml-syntax", f"YAML syntax error: {exc}", None, None)
    finally:
        loader.dispose()
    return docs, None


def _alias_expansion_problem(root: Node) -> YamlProblem | None:
    """A problem when the tree the aliases make of `root` is too large to walk as a tree.

    An alias is the same node object as its anchor, so the expanded size is counted with one
    visit per distinct node (sizes memoized by identity): linear in what was written."""
    size: dict[int, int] = {}
    uses: dict[int, int] = {}
    nodes: dict[int, Node] = {}
    # iterative post-order: (node, children pushed?)
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if not expanded:
            uses[key] = uses.get(key, 0) + 1
            if key in size or key in nodes:
                continue
            nodes[key] = node
            if isinstance(node, ScalarNode):
                size[key] = 1
                continue
            stack.append((node, True))
            children = _children(node)
            stack.extend((child, False) for child in children)
        else:
            total = 1
            for child in _children(node):
                child_size = size.get(id(child))
                if child_size is None:  # an ancestor still being counted: `&a [*a]`
                    return YamlProblem("yaml-alias-limit", "YAML alias refers to the anchor that contains it",
                                       *position(child))
                total += child_size
            size[key] = total
    written = sum(uses.values())  # every node and alias as written
    limit = ALIAS_EXPANSION_LIMIT + 10 * written
    total = size[id(root)]
    if total <= limit:
        return None
    # Name the anchored node that repeats the most: that is where the document must change.
    worst = max((k for k, n in uses.items() if n > 1), key=lambda k: (uses[k] - 1) * size[k])
    line, column = position(nodes[worst])
    return YamlProblem(
        "yaml-alias-limit",
        f"YAML aliases expand this document to more than {limit:,} nodes (the limit: {ALIAS_EXPANSION_LIMIT:,} "
        f"plus ten per node written); the anchor at line {line} is used "
        f"{uses[worst]:,} times",
        line,
        column,
    )


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


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
            found: Node = v
            return found
    return None


def scalar_str(node: Node) -> str | None:
    """The text of a scalar as Go would decode it into a string field (null -> None)."""
    if not isinstance(node, ScalarNode) or is_null(node):
        return None
    text: str = node.value
    return text


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
