"""Kyverno evaluation: every verifyImages entry whose patterns match an image applies.

`KyvernoPolicySet` is the dialect's `PolicyModel`: `evaluate`, `evaluate_many`, `explain`,
`outline`. Images matched by the same entries and patterns share one `EntryOutcome` (message,
`Requirements` and its JSON, verifier): an editor keeps several analyses of thousands of images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from ...patterns import AllMatches, all_matches, mask_bits, wildcard_masks
from ...reference import InvalidReference
from ...reference import kyverno_image_string as image_string
from ...vocabulary import Action, AppliedRule, Decision, OutlineItem, RuleTrial, Verifier
from .match import WORKLOAD_GVK, RuleInfo
from .requirements import NOTARY_UNSUPPORTED, Requirements, VerifyEntry

# (entry index, first matching imageReference, first matching skip pattern or None), ...
Matches = tuple[tuple[int, str, "str | None"], ...]


class EntryOutcome(NamedTuple):
    """What the applying entries decide for every image they match alike."""

    action: Action
    first: VerifyEntry | None  # the first applying entry (verify before skip)
    pattern: str | None
    # With `missing`, the message has "\x00" where the image string goes.
    message: str
    requirements: Requirements
    rules: list[AppliedRule]  # shared by every Decision with this outcome (read only)
    verifier: Verifier | None
    missing: bool  # verifyDigest and no digest: Kyverno fails the image


class KyvernoPolicySet:
    """Every ClusterPolicy/Policy of a file; evaluation reports every entry that applies."""

    dialect = "kyverno"

    def __init__(self, rules: list[RuleInfo]):
        self.rules = rules
        self.entries: list[VerifyEntry] = [e for r in rules for e in r.entries]
        self._all: tuple[AllMatches, list[tuple[int, int, str]]] | None = None
        # image string -> its Matches, filled for a whole image list at once (_match_many)
        self._found: dict[str, Matches] = {}
        # (matches, kind, has_digest) -> outcome: images matched by the same entries and
        # patterns share one decision (message, Requirements and its JSON, verifier).
        self._outcomes: dict[tuple[Matches, str, bool], EntryOutcome] = {}
        # Outcomes whose applying entries are the same share one Requirements (and its JSON).
        self._shared: dict[tuple[object, ...], EntryOutcome] = {}
        # (rule key, kind) -> whether the rule's match selects that kind
        self._selects: dict[tuple[int, str], bool] = {}

    # -- matching -------------------------------------------------------------------------

    def _matches(self, s: str) -> Matches:
        """(entry index, first matching imageReference, first matching skip pattern or None)
        for every entry whose imageReferences match the image string, in entry order."""
        found = self._found.get(s)
        if found is not None:
            return found
        if self._all is None:
            # Every pattern of the file in entry order, imageReferences before skips, so the
            # first index that matches is the pattern written first in its entry.
            owners: list[tuple[int, int, str]] = []
            for e in self.entries:
                owners += [(e.index, 0, p) for p in e.image_references]
                owners += [(e.index, 1, p) for p in e.skip_image_references]
            self._all = (all_matches(tuple(p for _, _, p in owners)), owners)
        index, owners = self._all
        slots: dict[int, list[str | None]] = {}
        for i in index.all(s):
            idx, k, pattern = owners[i]
            slot = slots.setdefault(idx, [None, None])
            if slot[k] is None:
                slot[k] = pattern
        return tuple((idx, ref, skip) for idx, (ref, skip) in slots.items() if ref is not None)

    def _match_many(self, strings: tuple[str, ...]) -> None:
        """_matches for a whole image list through per-pattern bitmasks over its distinct
        strings; the masks outlive the policy, so after an edit only changed patterns match."""
        table = wildcard_masks(strings)
        table.prepare(p for e in self.entries for p in (*e.image_references, *e.skip_image_references))
        per_subject: dict[int, list[tuple[int, str, str | None]]] = {}
        for e in self.entries:
            refs = 0
            ref_of: dict[int, str] = {}
            for pattern in e.image_references:
                hit = table.mask(pattern) & ~refs
                if hit:
                    refs |= hit
                    for i in mask_bits(hit):
                        ref_of[i] = pattern
            if not refs:
                continue
            skips = 0
            skip_of: dict[int, str] = {}
            for pattern in e.skip_image_references:
                # a skip pattern only matters where the entry's imageReferences match
                hit = table.mask(pattern) & refs & ~skips
                if hit:
                    skips |= hit
                    for i in mask_bits(hit):
                        skip_of[i] = pattern
            for i, pattern in ref_of.items():
                per_subject.setdefault(i, []).append((e.index, pattern, skip_of.get(i)))
        found = self._found
        none: Matches = ()
        interned: dict[Matches, Matches] = {}
        for i, s in enumerate(table.subjects):
            m = per_subject.get(i)
            if m is None:
                found[s] = none
            else:
                t = tuple(m)
                found[s] = interned.setdefault(t, t)

    def _decide(self, s: str, kind: str, has_digest: bool) -> EntryOutcome:
        matches = self._matches(s)
        key = (matches, kind, has_digest)
        hit = self._outcomes.get(key)
        if hit is None:
            hit = self._outcomes[key] = self._outcome(matches, kind, has_digest)
        return hit

    def _outcome(self, matches: Matches, kind: str, has_digest: bool) -> EntryOutcome:
        verify: list[tuple[VerifyEntry, str]] = []
        skipped: list[tuple[VerifyEntry, str]] = []
        digest_added = digest_required = False
        entries, rules, selects = self.entries, self.rules, self._selects
        for idx, ref, skip in matches:
            entry = entries[idx]
            rule_key = entry.rule_key
            ok = selects.get((rule_key, kind))
            if ok is None:
                ok = selects[(rule_key, kind)] = rules[rule_key].selects(kind)[0]
            if not ok:
                continue
            if skip is not None:
                skipped.append((entry, skip))
            else:
                verify.append((entry, ref))
            # verifyDigest is checked for every entry whose imageReferences match, skipped or not
            digest_required = digest_required or entry.verify_digest
            # mutateDigest runs for every image any entry of the rule matched (mutate_image.go)
            digest_added = digest_added or rules[rule_key].mutates_digest
        digest_added = digest_added and not has_digest
        missing = digest_required and not has_digest and not digest_added
        shape = (tuple((e.index, p) for e, p in verify), tuple((e.index, p) for e, p in skipped),
                 has_digest, digest_added, digest_required)
        shared = self._shared.get(shape)
        if shared is not None:
            return shared
        unsupported = [f"{e.rule_id}: {why}" for e, _ in verify
                       for why in ((NOTARY_UNSUPPORTED,) if e.type == "Notary" else e.unsupported)]
        req = Requirements(verify, skipped, has_digest, digest_added, digest_required, missing, unsupported)
        action: Action
        first: VerifyEntry | None
        pattern: str | None
        if verify:
            action = "verify"
            first, pattern = verify[0]
            more = len(verify) - 1
            head = f"verification required by {first.rule_id}" + (f" and {more} more" if more else "")
            message = f"{head}: {first.describe()}"
        elif skipped:
            action = "skip"
            first, pattern = skipped[0]
            message = f"verification skipped by matched rule ({first.rule_id})"
        else:
            action, first, pattern, message = "allow", None, None, "no matched rule"
        if missing:
            message += "; missing digest for \x00 (verifyDigest)"
        elif digest_added:
            message += "; digest would be added (mutateDigest)"
        if verify and all(e.failure_action == "Audit" for e, _ in verify):
            message += "; Audit: failures are reported, not blocked"
        applied: list[tuple[VerifyEntry, Literal["verify", "skip"]]] = [(e, "verify") for e, _ in verify]
        applied += [(e, "skip") for e, _ in skipped]
        if len(applied) > 1:
            applied.sort(key=lambda t: t[0].index)
        rules_applied: list[AppliedRule] = [{"policy": e.policy, "rule": e.rule, "entry": e.entry, "action": a}
                                            for e, a in applied]
        req.to_json()  # computed once, shared by every Decision with this outcome
        verifier = first.first_verifier() if action == "verify" and first is not None else None
        out = self._shared[shape] = EntryOutcome(action, first, pattern, message, req, rules_applied, verifier, missing)
        return out

    # -- the dialect interface ------------------------------------------------------------

    def evaluate(self, image: object, kind: str | None = None) -> Decision:
        """Decision for one image; `kind` is the workload it comes from (None: a Pod).

        `image` may also be an object with `reference` (or `image`) and `kind` attributes."""
        ref, kind = _image_and_kind(image, kind)
        try:
            s = image_string(ref)
        except InvalidReference as exc:
            message = str(exc)
            return Decision(ref, None, None, None, None, None, None, message, error=message)
        return self._decision(ref, s, kind)

    def _decision(self, ref: str, s: str, kind: str) -> Decision:
        outcome = self._decide(s, kind, "@" in s)
        message = outcome.message
        if outcome.missing:
            message = message.replace("missing digest for \x00", f"missing digest for {s}")
        first = outcome.first
        if first is None:
            return Decision(ref, s, outcome.action, None, None, None, None, message, rules=outcome.rules,
                            requirements=outcome.requirements)
        return Decision(ref, s, outcome.action, first.index, first.rule_id, outcome.pattern, outcome.verifier, message,
                        rules=outcome.rules, requirements=outcome.requirements)

    def evaluate_many(self, images: Sequence[object]) -> list[Decision]:
        items: list[tuple[object, str, str, str | None]] = []
        for image in images:
            ref, kind = _image_and_kind(image, None)
            s: str | None
            try:
                s = image_string(ref)
            except InvalidReference:  # evaluate() builds the error decision
                s = None
            items.append((image, ref, kind, s))
        strings = tuple(s for _, _, _, s in items if s is not None)
        if 0 < len(strings) <= _MASK_LIMIT:
            self._match_many(strings)
        decision = self._decision
        return [self.evaluate(image) if s is None else decision(ref, s, kind) for image, ref, kind, s in items]

    def explain(self, image: object, kind: str | None = None) -> list[RuleTrial]:
        """Every verifyImages entry and why it does or does not apply to this image."""
        ref, kind = _image_and_kind(image, kind)
        try:
            s = image_string(ref)
        except InvalidReference as exc:
            return [RuleTrial(e.index, e.rule_id, e.pattern, False, f"not tried: {exc}") for e in self.entries]
        found: dict[int, tuple[str | None, str | None]] = {idx: (r, skip) for idx, r, skip in self._matches(s)}
        trials: list[RuleTrial] = []
        for e in self.entries:
            rule = self.rules[e.rule_key]
            ok, why = rule.selects(kind)
            ref_pat, skip_pat = found.get(e.index, (None, None))
            if not ok:
                trials.append(RuleTrial(e.index, e.rule_id, e.pattern, False, f"rule not applied: {why}"))
            elif ref_pat is None:
                pats = ", ".join(f"'{p}'" for p in e.image_references) or "no imageReferences"
                trials.append(RuleTrial(e.index, e.rule_id, e.pattern, False, f"{pats} does not match '{s}'"))
            elif skip_pat is not None:
                trials.append(RuleTrial(e.index, e.rule_id, e.pattern, True,
                                        f"'{ref_pat}' matches '{s}' but skipImageReferences '{skip_pat}' skips it"))
            else:
                trials.append(RuleTrial(e.index, e.rule_id, e.pattern, True,
                                        f"'{ref_pat}' matches '{s}': verify ({e.describe()}); {why}"))
        return trials

    def outline(self) -> list[OutlineItem]:
        out: list[OutlineItem] = []
        for e in self.entries:
            action: Action = "verify" if e.image_references else "allow"
            out.append(OutlineItem(e.index, e.rule_id, e.pattern, action, e.line, e.end_line))
        return out


_MASK_LIMIT = 20_000  # image lists longer than this match image by image (AllMatches)


def _image_and_kind(image: object, kind: str | None) -> tuple[str, str]:
    if isinstance(image, str):
        ref = image
    else:
        kind = kind or getattr(image, "kind", None)
        ref = str(getattr(image, "reference", None) or getattr(image, "image", None) or image)
    if kind is None or kind not in WORKLOAD_GVK:
        kind = "Pod"  # unknown origin, or a kind without a pod template: taken as a Pod
    return ref, kind


