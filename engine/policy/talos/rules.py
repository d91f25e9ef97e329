"""One rule of a Talos `ImageVerificationConfig`, as written and as Talos reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ...vocabulary import Action, Verifier
from ...yamlsource import MappingNode, Node, SequenceNode, end_position, mapping_items, position

KIND = "ImageVerificationConfig"
API_VERSION = "v1alpha1"

Pos = tuple[int, int]
_RULE_IDS = [f"{i:04d}" for i in range(10_000)]
_VERIFIER_KEYS = frozenset(("keyless", "publicKey"))


@dataclass
class TalosRule:
    """One rule of the merged policy, with where each of its parts is written."""

    index: int  # 0-based index in the merged rule list
    pattern: str
    skip: bool
    deny: bool
    verifier: Verifier | None
    line: int
    column: int
    doc_index: int = 0
    # The rule as written, kept by a load for errors only (simulate): where its parts are is then
    # read from it when first asked, which a fleet's simulation does only for the rules with a
    # finding. A full load (whose lints ask for every rule) records them as it reads the rule,
    # and keeps no node. None also for a rule made from cosign flags.
    node: Node | None = field(default=None, repr=False, compare=False)
    # Raw fields as written (Talos's view, before interpretation), for validation.
    has_keyless: bool = False
    has_public_key: bool = False
    issuer: str = ""
    subject: str = ""
    subject_regex: str = ""
    certificate: str = ""

    @cached_property
    def positions(self) -> dict[str, Pos]:
        """"image", "skip", "deny", "keyless", "publicKey", "keyless.issuer", ... -> (line, column)
        of the key; "<field>=" -> (line, column) of the value; "<field>=end" where a rule
        field's value ends. A key written twice: where the last one is (as decoding keeps it)."""
        found: dict[str, Pos] = {}
        if not isinstance(self.node, MappingNode):
            return found
        for key, key_node, value in mapping_items(self.node):
            found[key] = position(key_node)
            found[key + "="] = position(value)
            found[key + "=end"] = end_position(value)
            if key in _VERIFIER_KEYS and isinstance(value, MappingNode):
                for inner, inner_node, inner_value in mapping_items(value):
                    found[key + "." + inner] = position(inner_node)
                    found[key + "." + inner + "="] = position(inner_value)
        return found

    @cached_property
    def end_line(self) -> int:
        """The last line that holds text of the rule."""
        return self.line if self.node is None else last_line(self.node)

    @property
    def rule_id(self) -> str:
        """Talos's `%04d` of the index in the merged rule list."""
        return _RULE_IDS[self.index] if 0 <= self.index < len(_RULE_IDS) else f"{self.index:04d}"

    @property
    def action(self) -> Action:
        # Talos checks deny before skip (verify.go), so a rule with both set denies.
        if self.deny:
            return "deny"
        if self.skip:
            return "skip"
        return "verify"

    def pos(self, key: str, value: bool = False) -> Pos:
        """Where `key` (or its value) is written; falls back to the rule start."""
        found = self.positions.get(key + "=" if value else key)
        if found is None and value:
            found = self.positions.get(key)
        return found or (self.line, self.column)


def last_line(node: Node) -> int:
    """The last line that holds text of `node` (block nodes end where the next one starts)."""
    while isinstance(node, (MappingNode, SequenceNode)) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    start_line = position(node)[0]
    line, column = end_position(node)
    if column == 1 and line > start_line:
        line -= 1  # block scalars (`|`) end at the start of the following line
    return max(line, start_line)
