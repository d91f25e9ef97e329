"""One rule of a Talos `ImageVerificationConfig`, as written and as Talos reads it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...vocabulary import Action, Verifier

KIND = "ImageVerificationConfig"
API_VERSION = "v1alpha1"

Pos = tuple[int, int]
_RULE_IDS = [f"{i:04d}" for i in range(10_000)]


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
    end_line: int
    doc_index: int = 0
    # "image", "skip", "deny", "keyless", "publicKey", "keyless.issuer", ... -> (line, column)
    # of the key; "<field>=" -> (line, column) of the value.
    positions: dict[str, Pos] = field(default_factory=dict)
    # Raw fields as written (Talos's view, before interpretation), for validation.
    has_keyless: bool = False
    has_public_key: bool = False
    issuer: str = ""
    subject: str = ""
    subject_regex: str = ""
    certificate: str = ""

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
