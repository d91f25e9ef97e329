"""What a policy decides for one image: the result of simulation (SPEC §2 `simulate`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .policy.model import Action, Verifier


@dataclass(frozen=True)
class RuleTrial:
    """One rule tried for an image, for the detail pane: did it match, and why (not)."""

    rule_index: int
    rule_id: str
    pattern: str
    matched: bool
    reason: str


@dataclass(frozen=True)
class OutlineItem:
    """One rule in the editor's outline: where it is written and what it does."""

    index: int
    rule_id: str
    pattern: str
    action: Action
    line: int
    end_line: int


@dataclass
class Decision:
    image: str
    match_subject: str | None
    # None only when the image reference itself is invalid (`error` says why).
    action: Action | None
    rule_index: int | None
    rule_id: str | None
    pattern: str | None
    verifier: Verifier | None
    message: str
    # Kyverno: every applying verifyImages entry, SPEC §2 `rules`; None for Talos.
    rules: list[dict] | None = None
    # Kyverno: what verification would require (dialect-specific object); None for Talos.
    requirements: object | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {
            "image": self.image,
            "match_subject": self.match_subject,
            "action": self.action,
            "rule_index": self.rule_index,
            "rule_id": self.rule_id,
            "pattern": self.pattern,
            "verifier": self.verifier.to_json() if self.verifier is not None else None,
            "message": self.message,
        }
        if self.rules is not None:
            out["rules"] = self.rules
        out.update(self.extra)
        return out
