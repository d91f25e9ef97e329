"""First-match evaluation over the merged rule list, as Talos verifies an image pull.

Measured from siderolabs/talos v1.13 `pkg/machinery/resources/security/image_verification_rule.go`
(rules tried in order, a rule with an empty pattern never matches, the first
`glob.Glob(pattern, subject)` wins) and `internal/pkg/containers/image/verify/verify.go` (the
messages `no matched rule`, `verification skipped by matched rule (%s)`, `verification denied
by matched rule (%s)`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...patterns import FirstMatch, first_match, glob_match, pattern_masks
from ...reference import InvalidReference
from ...vocabulary import Action, Decision, DialectName, KeylessVerifier, OutlineItem, PublicKeyVerifier, RuleTrial, Verifier
from .rules import TalosRule
from .subject import match_subject

# A Decision's fields after the image and its subject (action, rule index, rule id, pattern,
# verifier, message): one per rule, shared by every image it decides, so a decision is made
# without reading the rule again (on a fleet-sized policy each read is a cache miss).
_Outcome = tuple[Action, int | None, str | None, str | None, Verifier | None, str]
_NO_MATCH: _Outcome = ("allow", None, None, None, None, "no matched rule")

# Up to this many distinct subjects, evaluate_many matches by per-pattern bitmasks.
_BITMASK_LIMIT = 20_000


def _verification_message(rule: TalosRule, rule_id: str) -> str:
    """What verification would require, for `simulate` (no network)."""
    head = f"verification required by matched rule ({rule_id})"
    verifier = rule.verifier
    if isinstance(verifier, KeylessVerifier):
        parts = [f"keyless issuer {verifier.issuer or '?'}"]
        if verifier.subject:
            parts.append(f"subject {verifier.subject}")
        if verifier.subject_regex:
            parts.append(f"subjectRegex {verifier.subject_regex}")
        return f"{head}: " + " ".join(parts)
    if isinstance(verifier, PublicKeyVerifier):
        return f"{head}: public key {verifier.fingerprint or '(unparseable)'}"
    return f"{head}: no verifier configured"


class TalosPolicy:
    """The merged rule list and first-match evaluation over it (a `PolicyModel`)."""

    dialect: DialectName = "talos"

    def __init__(self, rules: list[TalosRule]):
        self.rules = rules
        self._matcher: FirstMatch | None = None
        self._memo: dict[str, _Outcome] = {}
        # Per rule position, its outcome once a subject has met it (shared by its images).
        self._outcomes: list[_Outcome | None] = [None] * len(rules)

    # -- matching -------------------------------------------------------------------------

    def _first(self, subject: str) -> int | None:
        if self._matcher is None:
            # Talos skips rules with an empty pattern; as a glob "" matches only "", which is
            # never a match subject, so the automaton needs no special case.
            self._matcher = first_match(tuple(r.pattern for r in self.rules))
        return self._matcher.first(subject)

    def _decide(self, subject: str) -> _Outcome:
        hit = self._memo.get(subject)
        if hit is not None:
            return hit
        index = self._first(subject)
        hit = _NO_MATCH if index is None else self._outcome(index)
        self._memo[subject] = hit
        return hit

    def _outcome(self, position: int) -> _Outcome:
        found = self._outcomes[position]
        if found is None:
            found = self._outcomes[position] = self._make_outcome(self.rules[position])
        return found

    @staticmethod
    def _make_outcome(rule: TalosRule) -> _Outcome:
        action, rule_id = rule.action, rule.rule_id
        if action == "verify":
            return (action, rule.index, rule_id, rule.pattern, rule.verifier, _verification_message(rule, rule_id))
        message = (f"verification denied by matched rule ({rule_id})" if action == "deny"
                   else f"verification skipped by matched rule ({rule_id})")
        return (action, rule.index, rule_id, rule.pattern, None, message)

    @staticmethod
    def _decision(image: str, subject: str, outcome: _Outcome) -> Decision:
        return Decision(image, subject, *outcome)

    def evaluate(self, image: str) -> Decision:
        try:
            subject = match_subject(image)
        except InvalidReference as exc:
            message = str(exc)
            return Decision(image, None, None, None, None, None, None, message, error=message)
        return self._decision(image, subject, self._decide(subject))

    def evaluate_many(self, images: Sequence[str]) -> list[Decision]:
        """Decisions for many images. Small fleets (the editor's list) go through per-pattern
        bitmasks over their distinct subjects, cached across policies, so an edit that changes
        one pattern matches only that pattern again; large ones through the FirstMatch index."""
        subjects: list[str | None] = []
        for image in images:
            try:
                subjects.append(match_subject(image))
            except InvalidReference:  # evaluate() builds the error decision
                subjects.append(None)
        distinct = sorted({s for s in subjects if s is not None})
        if 0 < len(distinct) <= _BITMASK_LIMIT:
            self._decide_by_masks(distinct)
        elif len(self.rules) <= len(images):
            # Every rule's outcome now, in rule order: rules are read in the order they lie in
            # memory, where made as images first meet them (in no order) a fleet-sized policy's
            # cost twice as much; and with no more rules than images, at most what they cost.
            outcome = self._outcome
            for position in range(len(self.rules)):
                outcome(position)
        decide, decision = self._decide, self._decision
        return [self.evaluate(image) if subject is None else decision(image, subject, decide(subject))
                for image, subject in zip(images, subjects, strict=True)]

    def _decide_by_masks(self, distinct: list[str]) -> None:
        table = pattern_masks(tuple(distinct), "glob")  # subjects sorted and distinct: same bit order
        table.prepare(rule.pattern for rule in self.rules if rule.pattern)
        remaining = (1 << len(distinct)) - 1
        memo = self._memo
        for position, rule in enumerate(self.rules):
            if not remaining:
                break
            if not rule.pattern:
                continue
            hit = table.mask(rule.pattern) & remaining
            if not hit:
                continue
            remaining &= ~hit
            bits = bin(hit)[:1:-1]
            i = bits.find("1")
            while i >= 0:
                subject = distinct[i]
                if subject not in memo:
                    memo[subject] = self._outcome(position)
                i = bits.find("1", i + 1)
        if remaining:
            bits = bin(remaining)[:1:-1]
            i = bits.find("1")
            while i >= 0:
                memo.setdefault(distinct[i], _NO_MATCH)
                i = bits.find("1", i + 1)

    def explain(self, image: str) -> list[RuleTrial]:
        """Every rule in order and why it did or did not decide for this image."""
        try:
            subject = match_subject(image)
        except InvalidReference as exc:
            return [
                RuleTrial(r.index, r.rule_id, r.pattern, False, f"not tried: {exc}") for r in self.rules
            ]
        trials: list[RuleTrial] = []
        winner: TalosRule | None = None
        for rule in self.rules:
            if winner is not None:
                reason = f"not tried: rule {winner.rule_id} matched first"
                trials.append(RuleTrial(rule.index, rule.rule_id, rule.pattern, False, reason))
                continue
            if not rule.pattern:
                trials.append(RuleTrial(rule.index, rule.rule_id, rule.pattern, False, "empty image pattern never matches"))
                continue
            if glob_match(rule.pattern, subject):
                winner = rule
                reason = f"'{rule.pattern}' matches '{subject}': {rule.action}"
                trials.append(RuleTrial(rule.index, rule.rule_id, rule.pattern, True, reason))
            else:
                reason = f"'{rule.pattern}' does not match '{subject}'"
                trials.append(RuleTrial(rule.index, rule.rule_id, rule.pattern, False, reason))
        return trials

    def outline(self) -> list[OutlineItem]:
        return [
            OutlineItem(r.index, r.rule_id, r.pattern, r.action, r.line, r.end_line) for r in self.rules
        ]
