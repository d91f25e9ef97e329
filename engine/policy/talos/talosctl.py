"""Talos policies as `talosctl get … -o yaml` prints them: the rules live on the node.

Measured from siderolabs/talos `cmd/talosctl/cmd/talos/output/yaml.go` (each resource is
`node: <node>` then the resource's `metadata:` and `spec:`, resources separated by `---`),
`pkg/machinery/resources/config/machine_config.go` (`MachineConfigs.config.talos.dev`: the
machine config, every document of it, as one YAML string under `spec`; Talos before the
`talos.dev/yaml-spec` annotation printed the first document as a mapping) and
`pkg/machinery/resources/security/image_verification_rule.go`
(`ImageVerificationRules.security.talos.dev`, id `%04d` of the rule index, spec `imagePattern`,
`skip`, `deny`, `keylessVerifier: {issuer, subject, subjectRegex}`, `publicKeyVerifier:
{certificate}`).

`unwrap` turns such a file into the documents the Talos loader reads, one set per node, with
every position pointing into the talosctl file: the machine config's documents are composed
from the `spec` string (a `|` block keeps its lines, so line and column are shifted), and the
rule resources become one `ImageVerificationConfig` whose keys carry Talos's config names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import yaml

from ...diagnostics import Diagnostic
from ...yamlschema import problem_diagnostic
from ...yamlsource import Document, MappingNode, Node, ScalarNode, SequenceNode, compose, map_get, position, scalar_str
from .rules import API_VERSION, KIND, TalosRule

MACHINE_CONFIG_TYPE = "MachineConfigs.config.talos.dev"
RULE_TYPE = "ImageVerificationRules.security.talos.dev"
# The rule resource's spec keys -> the ImageVerificationConfig rule keys they come from.
_RULE_KEYS = {"imagePattern": "image", "keylessVerifier": "keyless", "publicKeyVerifier": "publicKey"}
_STR = "tag:yaml.org,2002:str"


@dataclass
class NodeView:
    """What one node printed: its machine config documents and its rule resources."""

    name: str
    config: list[Document] = field(default_factory=list)
    rules: list[tuple[str, MappingNode]] = field(default_factory=list)  # (resource id, spec)
    first_line: int = 1

    def documents(self) -> list[Document]:
        """The documents the Talos loader reads for this node. The rule resources are what
        Talos made of the config's ImageVerificationConfig, so with them that one is left out."""
        if not self.rules:
            return self.config
        others = [d for d in self.config if _kind(d) != KIND]
        return [*others, Document(len(others), _rules_document(self.rules))]


def _kind(doc: Document) -> str | None:
    found = map_get(doc.root, "kind")
    return scalar_str(found) if isinstance(found, ScalarNode) else None


def resource_type(doc: Document) -> str | None:
    """`metadata.type` of a document talosctl printed (it has `metadata` and `spec`), else None."""
    root = doc.root
    if not isinstance(root, MappingNode) or map_get(root, "spec") is None:
        return None
    found = map_get(map_get(root, "metadata"), "type")
    return scalar_str(found) if isinstance(found, ScalarNode) else None


def is_talosctl_output(docs: list[Document]) -> bool:
    return any(resource_type(d) in (MACHINE_CONFIG_TYPE, RULE_TYPE) for d in docs)


def unwrap(docs: list[Document], text: str) -> tuple[list[NodeView], list[Diagnostic]]:
    """The nodes of a talosctl output file, in the order they first appear."""
    nodes: dict[str, NodeView] = {}
    diags: list[Diagnostic] = []
    lines = text.splitlines()
    for doc in docs:
        kind = resource_type(doc)
        if kind not in (MACHINE_CONFIG_TYPE, RULE_TYPE):
            continue
        root = doc.root
        assert isinstance(root, MappingNode)
        name_node = map_get(root, "node")
        name = (scalar_str(name_node) if isinstance(name_node, ScalarNode) else None) or ""
        view = nodes.setdefault(name, NodeView(name, first_line=position(root)[0]))
        spec = map_get(root, "spec")
        assert spec is not None
        if kind == RULE_TYPE:
            if isinstance(spec, MappingNode):
                found = map_get(map_get(root, "metadata"), "id")
                rule_id = scalar_str(found) if isinstance(found, ScalarNode) else None
                view.rules.append((rule_id or "", spec))
            continue
        if isinstance(spec, MappingNode):  # Talos before the yaml-spec annotation: one document
            view.config.append(Document(len(view.config), spec))
        elif isinstance(spec, ScalarNode):
            inner, problem = _spec_documents(spec, lines)
            view.config.extend(Document(len(view.config) + i, d.root) for i, d in enumerate(inner))
            if problem is not None:
                diags.append(problem)
    for view in nodes.values():
        diags.extend(_rule_order(view))
    return list(nodes.values()), diags


def _spec_documents(spec: ScalarNode, lines: list[str]) -> tuple[list[Document], Diagnostic | None]:
    """The machine config documents in a `spec` string, positioned in the talosctl file."""
    docs, problem = compose(spec.value)
    line_shift, column_shift = _block_offsets(spec, lines)
    if line_shift is None:  # a quoted string: positions inside it cannot be told apart
        anchor = spec.start_mark
        for doc in docs:
            _move(doc.root, lambda _l, _c: (anchor.line, anchor.column))
    else:
        for doc in docs:
            _move(doc.root, lambda ln, col: (ln + line_shift, col + column_shift))
    diag = problem_diagnostic(problem) if problem is not None else None
    if diag is not None and diag.line is not None:
        if line_shift is None:
            line, column = position(spec)
        else:
            line, column = diag.line + line_shift, (diag.column or 1) + column_shift
        diag = replace(diag, line=line, column=column, end_line=None, end_column=None)
    return docs, diag


def _block_offsets(spec: ScalarNode, lines: list[str]) -> tuple[int | None, int]:
    """(lines, columns) to add to a position in a `|` block's text to find it in the file."""
    if spec.style != "|":
        return None, 0
    first = spec.start_mark.line + 1  # 0-based: the line after the `|` indicator
    for n, value_line in enumerate(spec.value.split("\n")):
        if value_line.strip() and first + n < len(lines):
            raw = lines[first + n]
            indent = (len(raw) - len(raw.lstrip(" "))) - (len(value_line) - len(value_line.lstrip(" ")))
            return first, max(indent, 0)
    return first, 0


Shift = Callable[[int, int], tuple[int, int]]  # 0-based (line, column) -> (line, column)


def _move(root: Node | None, shift: Shift) -> None:
    """Rewrite every mark under `root` (aliases are the same node: each once)."""
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for attr in ("start_mark", "end_mark"):
            mark = getattr(node, attr)
            line, column = shift(mark.line, mark.column)
            setattr(node, attr, yaml.Mark(mark.name, mark.index, line, column, None, 0))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)


def _rules_document(rules: list[tuple[str, MappingNode]]) -> MappingNode:
    """The rule resources as the ImageVerificationConfig they were made from: the same value
    nodes (so every position is the resource's), keys renamed to the config's."""
    items = []
    for _id, spec in sorted(rules, key=lambda r: r[0]):
        renamed = [(ScalarNode(_STR, _RULE_KEYS.get(k.value, k.value), k.start_mark, k.end_mark), v)
                   if isinstance(k, ScalarNode) else (k, v) for k, v in spec.value]
        items.append(MappingNode("tag:yaml.org,2002:map", renamed, spec.start_mark, spec.end_mark))
    first = rules[0][1]
    start, end = first.start_mark, first.end_mark

    def scalar(value: str) -> ScalarNode:
        return ScalarNode(_STR, value, start, end)

    return MappingNode("tag:yaml.org,2002:map", [
        (scalar("apiVersion"), scalar(API_VERSION)),
        (scalar("kind"), scalar(KIND)),
        (scalar("rules"), SequenceNode("tag:yaml.org,2002:seq", items, start, end)),
    ], start, end)


def _rule_order(view: NodeView) -> list[Diagnostic]:
    """Talos numbers a node's rules 0000, 0001, … ; a file missing some would shift every id."""
    ids = sorted(rid for rid, _spec in view.rules)
    expected = [f"{i:04d}" for i in range(len(ids))]
    if ids == expected:
        return []
    missing = sorted(set(expected) - set(ids)) or ids[-1:]
    line, column = position(view.rules[0][1])
    return [Diagnostic("warning", "talosctl-rules-incomplete",
                       f"node {view.name or '?'}: its rules are not 0000 to {len(ids) - 1:04d} "
                       f"({', '.join(missing)}): rule ids and first-match order may differ from the node's",
                       line, column, fix="paste the whole output of 'talosctl get imageverificationrules -o yaml'")]


def _signature(rule: TalosRule) -> tuple[object, ...]:
    return (rule.pattern, rule.action, rule.has_keyless, rule.issuer, rule.subject, rule.subject_regex,
            rule.has_public_key, rule.certificate.strip())


def _describe(rule: TalosRule) -> str:
    return f"rule {rule.rule_id} ('{rule.pattern}', {rule.action})"


def compare_nodes(first: str, base: list[TalosRule], other: str, rules: list[TalosRule]) -> list[Diagnostic]:
    """A warning for each rule where `other`'s rule set differs from `first`'s (which is the
    one simulated), at the differing rule of `other`."""
    out: list[Diagnostic] = []
    for i in range(max(len(base), len(rules))):
        mine = base[i] if i < len(base) else None
        theirs = rules[i] if i < len(rules) else None
        if mine is not None and theirs is not None and _signature(mine) == _signature(theirs):
            continue
        if theirs is None:
            assert mine is not None
            message = f"node {other} has no rule {mine.rule_id}; node {first} has {_describe(mine)}"
            at = rules[-1] if rules else None
        elif mine is None:
            message = f"node {other} has {_describe(theirs)}, which node {first} does not have"
            at = theirs
        else:
            message = f"node {other}'s {_describe(theirs)} differs from node {first}'s {_describe(mine)}"
            at = theirs
        line, column = (at.line, at.column) if at is not None else (None, None)
        out.append(Diagnostic("warning", "talosctl-nodes-differ",
                              message + f"; pullguard simulates node {first}'s rules", line, column,
                              fix=f"to simulate node {other}'s rules, save its 'talosctl -n {other} get …' output alone"))
    return out
