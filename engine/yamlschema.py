"""One typed walker over YAML nodes: what every file format pullguard reads shares.

`pullguard.engine.yamlsource` composes nodes with positions; this module reads them as typed
fields and says what is wrong with file:line:column, never an exception: unknown keys with a
did-you-mean, wrong types, keys written twice, required fields. The Kyverno schema
(`Schema`/`Obj`/`Seq` decoding), PolicyTest files and the Talos loader read their fields through
the same `Walker`; each format keeps its own words through a `Wording` (no message changes when
a format moves onto the walker).

Type specs: a leaf name (STR, NAME, BOOL, INT, STRLIST, STRMAP, MAP, ANY), a `Schema`, or
`listof(spec)`. Decoded values hold Go's zero value where a field is absent, as the Go structs
that Talos and Kyverno decode into would.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Union

from .diagnostics import Diagnostic, Severity, reindent
from .yamlsource import (
    Document,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    YamlProblem,
    end_position,
    is_null,
    kind_name,
    position,
    scalar_bool,
    scalar_int,
    scalar_str,
)

Pos = tuple[int, int]


def problem_diagnostic(problem: YamlProblem) -> Diagnostic:
    """The error diagnostic for a stream yamlsource.compose could not read whole."""
    edits = (reindent(*problem.reindent),) if problem.reindent else ()
    return Diagnostic("error", problem.code, problem.message, problem.line, problem.column, fix=problem.fix, edits=edits)


# --- keys written twice --------------------------------------------------------------------


def duplicate_keys(root: Node | None, has_anchors: bool = True) -> list[Diagnostic]:
    """A `duplicate-key` error at each mapping key written twice in the same mapping.

    Go's yaml.v3 (Talos) and kubectl's strict decoding (Kyverno) reject such a document; YAML
    loaders in Python keep the last value silently. Scalar keys are compared by their text, as
    yaml.v3 does (`1` and `"1"` are the same key). An alias is the same node object as its
    anchor, so each mapping is visited once (a billion-laughs document stays cheap); without
    anchors (`has_anchors` False, `Document.has_anchors`) every node is met once anyway.
    """
    found: list[Diagnostic] = []
    if root is None or isinstance(root, ScalarNode):
        return found
    seen: set[int] = set()
    stack: list[Node] = [root]
    pop, push, scalar, mapping = stack.pop, stack.append, ScalarNode, MappingNode
    while stack:
        node = pop()
        if has_anchors:
            key = id(node)
            if key in seen:
                continue
            seen.add(key)
        if type(node) is mapping:
            pairs = node.value
            if len(pairs) < 2:
                repeated = False
            elif len(pairs) == 2:  # most mappings of a policy: one comparison, no set
                repeated = pairs[0][0].value == pairs[1][0].value
            else:
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
    first: dict[str, ScalarNode] = {}
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
    first_line = position(earlier)[0]
    line, column = position(key_node)
    end_line, end_column = end_position(key_node)
    # yaml.v3 quotes the key with Go's `%#v`, which json.dumps matches for text
    message = f"mapping key {json.dumps(key_node.value, ensure_ascii=False)} already defined at line {first_line}"
    fix = (f"remove this '{key_node.value}' key or the one at line {first_line} "
           "(YAML would keep only the last one; Talos and Kyverno refuse the document)")
    return Diagnostic("error", "duplicate-key", message, line, column, rule_index, end_line, end_column, fix)


# --- how a format words the walker's findings ----------------------------------------------


def close_key(key: str, allowed: tuple[str, ...], *, any_case: bool = True) -> str | None:
    """The allowed key a person most likely meant (difflib, then the same letters in another
    case: wrong case is the commonest slip in camelCase names)."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return close[0]
    if any_case:
        for a in allowed:
            if a.lower() == key.lower():
                return a
    return None


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class Wording:
    """The words one file format uses for the walker's findings.

    `unknown_key(key, where, allowed, suggestion)`, `wrong_type(what, expected, found)`;
    `any_case` lets a key in the wrong case be suggested; with `repeated_key(key, where)`,
    `Walker.fields` keeps the first of two equal keys and reports the second; `ends` gives each
    finding the end of its node (the editor underlines the whole token)."""

    unknown_key: Callable[[str, str, tuple[str, ...], str | None], Finding]
    wrong_type: Callable[[str, str, str], Finding]
    any_case: bool = True
    repeated_key: Callable[[str, str], Finding] | None = None
    ends: bool = True


def _kubernetes_unknown_key(key: str, where: str, allowed: tuple[str, ...], close: str | None) -> Finding:
    fix = f"did you mean '{close}'?" if close else f"{where} allows only: " + ", ".join(allowed)
    return Finding("unknown-key", f"unknown key '{key}' in {where}", fix)


def _kubernetes_wrong_type(what: str, expected: str, found: str) -> Finding:
    return Finding("wrong-type", f"{what} must be {expected}, not {found}")


# Kyverno (kubectl's strict decoding) and Talos (yaml.v3 strict): the words of their loaders.
KUBERNETES = Wording(_kubernetes_unknown_key, _kubernetes_wrong_type)
TALOS = Wording(_kubernetes_unknown_key, _kubernetes_wrong_type, any_case=False)


# --- type specs and decoded values ---------------------------------------------------------

# A string naming a leaf type. NAME is a string that must be written as one: `name: 42` is a
# number once Kubernetes turns the YAML into JSON.
STR, BOOL, INT, STRLIST, STRMAP, ANY, MAP = "str", "bool", "int", "strlist", "strmap", "any", "map"
NAME = "name"


@dataclass(eq=False)  # compared by identity: specs are tested against leaf names often
class Schema:
    name: str  # how a person calls this object in messages: "verifyImages entry"
    fields: dict[str, "Spec | None"]  # None only until a recursive schema is set

    def __post_init__(self) -> None:
        # Each field's Go zero value, shared by every Obj of this schema (read only). Fields
        # that name a Schema (set later for recursive ones) have the zero value None.
        self.zeros: dict[str, object] = {k: _zero(s) for k, s in self.fields.items()}


@dataclass(frozen=True)
class ListOf:
    item: "Spec"


Spec = Union[str, Schema, ListOf]


def listof(spec: Spec) -> ListOf:
    return ListOf(spec)


class Obj:
    """A decoded mapping: `get` gives every field of the schema (the Go zero value when absent).

    Only what was written is stored, and key/value nodes are looked up when a diagnostic needs
    a position: the editor decodes every mapping of the policy on every keystroke."""

    __slots__ = ("schema", "node", "values")

    def __init__(self, schema: Schema, node: Node, values: dict[str, Any] | None = None):
        self.schema = schema
        self.node = node
        self.values: dict[str, Any] = {} if values is None else values  # written, not null

    def get(self, key: str) -> Any:
        values = self.values
        return values[key] if key in values else self.schema.zeros.get(key)

    def has(self, key: str) -> bool:
        """Written and not null (a Go pointer field that is non-nil)."""
        return key in self.values

    def obj(self, key: str) -> "Obj | None":
        """A sub-object that was written (a non-nil Go pointer), or None."""
        value = self.values.get(key)
        return value if isinstance(value, Obj) else None

    @property
    def start(self) -> Pos:
        return position(self.node)

    @property
    def end(self) -> Pos:
        return end_position(self.node)

    def _nodes(self, key: str) -> tuple[Node, Node] | None:
        found = None
        if isinstance(self.node, MappingNode):
            for key_node, value_node in self.node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == key:
                    found = (key_node, value_node)  # the last one, as decoding keeps it
        return found

    def key_pos(self, key: str) -> Pos:
        nodes = self._nodes(key)
        return position(nodes[0]) if nodes is not None else self.start

    def value_pos(self, key: str) -> Pos:
        nodes = self._nodes(key)
        return position(nodes[1]) if nodes is not None else self.start

    def char_pos(self, key: str, offset: int | None) -> Pos:
        """Where character `offset` of the value of `key` is written, for a one-line scalar written
        as it reads (plain, or quoted without escapes); elsewhere where the value starts."""
        nodes = self._nodes(key)
        if nodes is None:
            return self.start
        node = nodes[1]
        (line, column), (end_line, end_column) = position(node), end_position(node)
        if offset is None or not isinstance(node, ScalarNode) or end_line != line:
            return line, column
        quotes = 2 if node.style in ("'", '"') else 0
        if node.style not in (None, "", "'", '"') or end_column - column != len(node.value) + quotes:
            return line, column
        return line, column + quotes // 2 + offset


@dataclass
class Seq:
    """A decoded list with its items' nodes."""

    node: Node
    items: list[Any]
    nodes: list[Node]


def seq_items(value: object) -> list[Any]:
    return value.items if isinstance(value, Seq) else []


def _zero(spec: Spec | None) -> object:
    if not isinstance(spec, str):
        return None
    if spec == STR or spec == NAME:
        return ""
    if spec == BOOL:
        return False
    if spec == STRLIST:
        return ()
    if spec == STRMAP:
        return MappingProxyType({})
    return None


# --- the walker ----------------------------------------------------------------------------


class Walker:
    """Reads nodes against type specs, reporting each problem as a Diagnostic."""

    def __init__(self, report: Callable[[Diagnostic], None], rule_index: Callable[[], int | None] = lambda: None,
                 wording: Wording = KUBERNETES, memo: SubtreeMemo | None = None):
        self.report = report
        self.rule_index = rule_index
        self.wording = wording
        self.memo = memo
        self.reported = 0  # diagnostics given so far (a memo keeps only what was read cleanly)

    def diag(self, severity: Severity, code: str, message: str, pos: Pos | None, fix: str | None = None,
             end: Pos | None = None) -> None:
        line, column = pos if pos else (None, None)
        end_line, end_column = end if end else (None, None)
        self.reported += 1
        self.report(Diagnostic(severity, code, message, line, column, self.rule_index(), end_line, end_column, fix))

    def finding(self, found: Finding, node: Node) -> None:
        self.diag("error", found.code, found.message, position(node), found.fix,
                  end_position(node) if self.wording.ends else None)

    def wrong_type(self, what: str, expected: str, node: Node) -> None:
        self.finding(self.wording.wrong_type(what, expected, kind_name(node)), node)

    def unknown_key(self, key: str, key_node: Node, allowed: tuple[str, ...], where: str) -> None:
        close = close_key(key, allowed, any_case=self.wording.any_case)
        self.finding(self.wording.unknown_key(key, where, allowed, close), key_node)

    # -- plain fields (formats with their own per-field checks) ---------------------------

    def fields(self, node: MappingNode, allowed: tuple[str, ...], where: str) -> dict[str, Node]:
        """key -> value node for each allowed key; unknown and repeated keys reported."""
        out: dict[str, Node] = {}
        repeated = self.wording.repeated_key
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else repr(key_node.value)
            if key not in allowed:
                self.unknown_key(key, key_node, allowed, where)
                continue
            if key in out and repeated is not None:
                self.finding(repeated(key, where), key_node)
                continue
            out[key] = value
        return out

    def string(self, what: str, node: Node) -> str | None:
        """A string field: the text of a scalar (None, reported, for null or a collection)."""
        value = scalar_str(node)
        if value is None:
            self.wrong_type(what, "a string", node)
        return value

    def go_string(self, what: str, node: Node) -> str:
        """A Go string field as yaml.v3 decodes it: any scalar's text, null is ''."""
        if is_null(node):
            return ""
        if isinstance(node, ScalarNode):
            text: str = node.value
            return text
        self.wrong_type(what, "a string", node)
        return ""

    def boolean(self, what: str, node: Node) -> bool | None:
        """A bool field as yaml.v3 decodes it (YAML 1.1 words too, never quoted)."""
        value = scalar_bool(node)
        if value is None:
            found = self.wording.wrong_type(what, "true or false", kind_name(node))
            fix = "write true or false without quotes" if isinstance(node, ScalarNode) else None
            self.finding(Finding(found.code, found.message, fix), node)
        return value

    def string_list(self, what: str, node: Node, item_what: str) -> list[str]:
        if not isinstance(node, SequenceNode):
            self.wrong_type(what, "a list", node)
            return []
        out = []
        for item in node.value:
            value = self.string(item_what, item)
            if value is not None:
                out.append(value)
        return out

    # -- schema decoding --------------------------------------------------------------------

    def check_string(self, what: str, node: ScalarNode) -> None:
        """A plain scalar in a string field that Kubernetes reads as a number or boolean: its
        YAML-to-JSON step (yaml.v2) makes `name: 42` a JSON number, which the API server and
        Kyverno refuse for a string ('cannot unmarshal number into ... of type string')."""
        kind = _not_a_string(node)
        if kind is not None:
            self.diag("error", "wrong-type", f"{what} must be a string, not the {kind} {node.value}",
                      position(node), f'quote it: "{node.value}"', end_position(node))

    def obj(self, schema: Schema, node: Node, what: str | None = None,
            hook: Callable[[str, Obj], bool] | None = None) -> Obj | None:
        """Decode a mapping; None (with a diagnostic) when the node is not a mapping.

        `hook(key, obj)` may claim a key before the schema does (returns True when it did)."""
        if is_null(node):
            return Obj(schema, node)
        if not isinstance(node, MappingNode):
            self.wrong_type(what or schema.name, "a mapping", node)
            return None
        values: dict[str, Any] = {}
        out = Obj(schema, node, values)
        fields = schema.fields
        seen: dict[str, ScalarNode] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.diag("error", "wrong-type", f"keys in {schema.name} must be strings",
                          position(key_node), None, end_position(key_node))
                continue
            key = key_node.value
            earlier = seen.setdefault(key, key_node)
            if earlier is not key_node:  # the same words as the whole-document check (load_policy)
                self.reported += 1
                self.report(duplicate_key_diagnostic(key_node, earlier, self.rule_index()))
            if hook is not None and hook(key, out):
                continue
            spec = fields.get(key)
            if spec is None:
                self.unknown_key(key, key_node, tuple(fields), schema.name)
                continue
            if is_null(value_node):
                continue  # Go leaves the zero value; a pointer stays nil
            value = self.value(spec, value_node, f"'{key}'")
            if value is not None:
                values[key] = value
        return out

    def value(self, spec: Spec, node: Node, what: str) -> Any:
        memo = self.memo
        if memo is not None and id(spec) in memo.spec_ids:
            return memo.value(self, spec, node, what)
        return self.decode(spec, node, what)

    def decode(self, spec: Spec, node: Node, what: str) -> Any:
        """`value` without the memo."""
        if isinstance(spec, Schema):
            return self.obj(spec, node, what)
        if isinstance(spec, ListOf):
            if not isinstance(node, SequenceNode):
                self.wrong_type(what, "a list", node)
                return None
            items, nodes = [], []
            for item in node.value:
                v = None if is_null(item) else self.value(spec.item, item, f"an item of {what}")
                if v is None and isinstance(spec.item, Schema) and is_null(item):
                    v = self.obj(spec.item, item, what)  # `- ` decodes to an empty struct
                if v is not None:
                    items.append(v)
                    nodes.append(item)
            return Seq(node, items, nodes)
        if spec == STR or spec == NAME:
            if isinstance(node, ScalarNode):
                if spec == NAME and not node.style:  # plain: Kubernetes may read a number or a boolean
                    self.check_string(what, node)
                return node.value
            self.wrong_type(what, "a string", node)
            return None
        if spec == BOOL:
            return self.boolean(what, node)
        if spec == INT:
            number = scalar_int(node)
            if number is None:
                self.wrong_type(what, "an integer", node)
            return number
        if spec == STRLIST:
            if not isinstance(node, SequenceNode):
                self.wrong_type(what, "a list of strings", node)
                return None
            texts: list[Any] = []
            text_nodes: list[Node] = []
            for item in node.value:
                if isinstance(item, ScalarNode) and not is_null(item):
                    texts.append(item.value)
                    text_nodes.append(item)
                else:
                    self.wrong_type(f"an item of {what}", "a string", item)
            return Seq(node, texts, text_nodes)
        if spec == STRMAP:
            if not isinstance(node, MappingNode):
                self.wrong_type(what, "a mapping of strings", node)
                return None
            strings: dict[str, str] = {}
            for k, v in node.value:
                if isinstance(k, ScalarNode) and isinstance(v, ScalarNode):
                    if not v.style:
                        self.check_string(f"the value of '{k.value}' in {what}", v)
                    strings[k.value] = "" if is_null(v) else v.value
                else:
                    self.wrong_type(f"a value of {what}", "a string", v)
            return strings
        if spec == MAP:
            if not isinstance(node, MappingNode):
                self.wrong_type(what, "a mapping", node)
                return None
            return node
        return node  # ANY: opaque


class SubtreeMemo:
    """Decoded values shared between subtrees written alike: a fleet's policy repeats the same
    attestors in every entry, and decoding them again was a third of loading it.

    A subtree is known by its text (up to its last value) and the column it starts at (the same
    text at the same column composes to the same nodes), in a stream without anchors (an alias
    means what its anchor last said) or byte-order mark (libyaml's marks do not count it), and
    never when the text holds a tag (`!`: its handle depends on the document's directives). Only values of the
    specs named are shared, and only when decoding them reported nothing. A shared value holds
    the first subtree's nodes: a reader that reports anything about one from a later place would
    name the first one's line, so a loader that used the memo (`hits`) and reported anything
    reads the document again without it.
    """

    def __init__(self, text: str, specs: Iterable[Spec]):
        self.text = text
        self.spec_ids = frozenset(id(spec) for spec in specs)
        self.table: dict[tuple[int, int, str], Any] = {}
        self.hits = 0

    @classmethod
    def for_documents(cls, docs: Iterable[Document], specs: Iterable[Spec]) -> SubtreeMemo | None:
        """A memo over the documents' stream, or None where their text cannot key one."""
        texts = {doc.text for doc in docs}
        if len(texts) != 1:
            return None
        text = texts.pop()
        if not text or "&" in text or "\ufeff" in text:
            return None
        return cls(text, specs)

    def value(self, walker: Walker, spec: Spec, node: Node, what: str) -> Any:
        if not isinstance(node, (MappingNode, SequenceNode)):
            return walker.decode(spec, node, what)
        piece = self.text[node.start_mark.index:_content_end(node)]
        if "!" in piece:
            return walker.decode(spec, node, what)
        key = (id(spec), node.start_mark.column, piece)
        found = self.table.get(key, _UNSEEN)
        if found is not _UNSEEN:
            self.hits += 1
            return found
        before = walker.reported
        value = walker.decode(spec, node, what)
        if walker.reported == before:
            self.table[key] = value
        return value


def _content_end(node: Node) -> int:
    """Where the text of a node ends: a block collection's own end mark lies at the next token,
    past the blank lines and comments after it, so it ends where its last value does."""
    while isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    index: int = node.end_mark.index
    return index


_UNSEEN = object()
_NO_STRINGS: Mapping[str, str] = MappingProxyType({})


def string_map(value: object) -> Mapping[str, str]:
    """A decoded STRMAP field (an empty mapping when absent)."""
    if isinstance(value, (dict, MappingProxyType)):  # what decoding makes: no ABC check (slow)
        return value
    return value if isinstance(value, Mapping) else _NO_STRINGS


# gopkg.in/yaml.v2's resolve.go (what sigs.k8s.io/yaml uses to turn YAML into JSON): plain
# scalars it reads as booleans, special floats, and the first characters worth a number parse.
_V2_BOOLEANS = frozenset("y Y yes Yes YES true True TRUE on On ON n N no No NO false False FALSE off Off OFF".split())
_V2_FLOATS = frozenset(".nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF".split())
_V2_NUMBER_START = frozenset("+-.0123456789")
_V2_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_V2_TIMESTAMP = re.compile(r"[0-9]{4}-")


def _not_a_string(node: ScalarNode) -> str | None:
    """'number' or 'boolean' when yaml.v2 resolves this plain scalar so; None for a string."""
    value = node.value
    if value in _V2_BOOLEANS:
        kind = "boolean"
    elif value in _V2_FLOATS:
        kind = "number"
    elif not value or value[0] not in _V2_NUMBER_START or _V2_TIMESTAMP.match(value):
        return None  # yaml.v2 hands timestamps to JSON as the text written
    elif _v2_number(value):
        kind = "number"
    else:
        return None
    if node.tag == "tag:yaml.org,2002:str" and _implicit_tag(value) != node.tag:
        return None  # an explicit `!!str 42`
    return kind


def _v2_number(value: str) -> bool:
    plain = value.replace("_", "")
    if value[0] == ".":
        return _V2_FLOAT.fullmatch(plain) is not None
    try:  # Go's ParseInt/ParseUint with base 0 (0x, 0o, 0b prefixes), int64/uint64 range
        number = int(plain, 0)
        if -(1 << 63) <= number < (1 << 64):
            return True
    except ValueError:
        if re.fullmatch(r"[-+]?0[0-7]+", plain):  # Go reads a leading 0 as octal
            return True
    return _V2_FLOAT.fullmatch(plain) is not None


@lru_cache(maxsize=1024)
def _implicit_tag(value: str) -> str:
    import yaml

    tag: str = yaml.resolver.Resolver().resolve(ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag
