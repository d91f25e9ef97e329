"""What changes between two policies over the same images: the rollout what-if behind `pullguard diff`.

An image has changed when its action changes or when the rule that decides it changes. A rule
is identified by its content — pattern, action, verifier — never by its position, so an image
that hits the same rule shifted down by an inserted rule has not changed. When the two policies
are in different dialects (a Talos policy against its Kyverno rewrite) patterns are written
differently (Talos and Kyverno normalize references differently), so only the action and the
verifier content are compared.

Kinds of change, checked in this order (the first that holds names the change):

- `newly-denied`: the new policy denies the image, the old one did not.
- `newly-verified`: the new policy requires verification, the old one did not (it skipped,
  allowed or denied the image).
- `newly-unverified`: the new policy admits the image without verification (skip or allow),
  the old one verified or denied it.
- `other-rule`: the image is handled the same way but by a rule of different content — the same
  action with another pattern or verifier, or skip <-> allow (both admit without verification).

An image whose reference a dialect cannot parse (action None) counts as denied by that policy:
it would not be admitted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .vocabulary import Decision, KeylessVerifier, PublicKeyVerifier, Verifier

if TYPE_CHECKING:
    from .policy.dialect import PolicyModel
    from .policy.kyverno.requirements import Requirements as KyvernoRequirements

# A rule's content as a hashable value (compared, never read).
Key = tuple[object, ...]

KINDS = ("newly-denied", "newly-unverified", "newly-verified", "other-rule")

_UNVERIFIED = ("skip", "allow")


@dataclass
class Change:
    image: str
    kind: str
    old: Decision
    new: Decision

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "kind": self.kind, "old": self.old.to_json(), "new": self.new.to_json()}


@dataclass
class PolicyDiff:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for change in self.changes:
            counts[change.kind] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [c.to_json() for c in self.changes],
            "counts": self.counts,
            "unchanged": self.unchanged,
        }


def verifier_key(verifier: Verifier | None, *, cross_dialect: bool = False) -> Key | None:
    """A verifier's content as a hashable key.

    Public keys compare by fingerprint (the same key in other PEM whitespace is the same
    verifier). Across dialects only what both dialects can express is compared: Talos matches
    keyless identities exactly and Kyverno with its wildcard, which for a literal identity is
    the same requirement.
    """
    if verifier is None:
        return None
    if isinstance(verifier, PublicKeyVerifier):
        key_id = verifier.fingerprint or "".join(verifier.pem.split())
        if cross_dialect:
            return ("public_key", key_id)
        return ("public_key", key_id, verifier.ignore_tlog, verifier.rekor_pubkey)
    identity = ("keyless", verifier.issuer, verifier.subject, verifier.subject_regex, verifier.issuer_regex)
    if cross_dialect:
        return identity
    return identity + (
        verifier.match,
        verifier.roots,
        verifier.rekor_url,
        verifier.rekor_pubkey,
        verifier.ignore_tlog,
        verifier.ctlog_pubkey,
        verifier.ignore_sct,
    )


def rule_key(decision: Decision, *, cross_dialect: bool = False, entry_keys: dict[int, tuple[object, object]] | None = None) -> Key:
    """The deciding rule's content; position (index, rule names, line numbers) plays no part.

    Talos: (action, pattern, verifier). Kyverno applies every matching verifyImages entry, so
    its key is the content of every applying entry with the pattern that made it apply.
    Across dialects: (action, verifier) only.
    """
    verifier = verifier_key(decision.verifier, cross_dialect=cross_dialect)
    if cross_dialect:
        return (decision.action, verifier)
    requirements = decision.requirements
    if requirements is not None and isinstance(requirements, _kyverno_requirements()):
        cache = {} if entry_keys is None else entry_keys
        entries: list[Key] = []
        for entry, pattern in requirements.verify:
            content = cache.get(id(entry))
            if content is None:
                content = cache[id(entry)] = (_content(entry), entry)  # keep entry alive for id()
            entries.append(("verify", pattern, content[0]))
        # A skipping entry's attestors play no part for the image it skips.
        entries += [("skip", pattern) for _, pattern in requirements.skipped]
        # All applying entries act together, in no particular order.
        digest = (requirements.digest_required, requirements.digest_added, requirements.missing_digest)
        return (decision.action, tuple(sorted(entries, key=repr)), digest)
    return (decision.action, decision.pattern, verifier)


def _kyverno_requirements() -> type[KyvernoRequirements]:
    """Kyverno's requirements type, imported only once a decision carries requirements (Talos
    decisions never do; the Kyverno loader is slow to import)."""
    from .policy.kyverno.requirements import Requirements

    return Requirements


# Fields that say where a rule is (or what it is called), not what it asks for. imageReferences
# are left out too: the pattern that matched the image stands for them.
_POSITION_FIELDS = frozenset(
    {"index", "policy", "rule", "entry", "rule_key", "line", "column", "end_line", "path", "image_references", "skip_image_references"}
)


def _content(value: object) -> object:
    """A dialect's rule object as a hashable, position-free value."""
    if isinstance(value, (PublicKeyVerifier, KeylessVerifier)):
        return verifier_key(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,) + tuple(
            (f.name, _content(getattr(value, f.name))) for f in dataclasses.fields(value) if f.name not in _POSITION_FIELDS
        )
    if isinstance(value, (list, tuple)):
        return tuple(_content(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted(((k, _content(v)) for k, v in value.items()), key=repr))
    return value


def classify(old: Decision, new: Decision) -> str:
    """The kind of change between two decisions known to differ (see the module docstring)."""
    old_action = old.action or "deny"
    new_action = new.action or "deny"
    if new_action == "deny" and old_action != "deny":
        return "newly-denied"
    if new_action == "verify" and old_action != "verify":
        return "newly-verified"
    if new_action in _UNVERIFIED and old_action not in _UNVERIFIED:
        return "newly-unverified"
    return "other-rule"


def unique_images(images: Iterable[str]) -> list[str]:
    """Images in first-seen order, each once: a fleet lists the same image for many pods."""
    return list(dict.fromkeys(images))


def diff_decisions(old: list[Decision], new: list[Decision], *, cross_dialect: bool = False) -> PolicyDiff:
    """Compare two decision lists made over the same images, in the same order."""
    if len(old) != len(new):
        raise ValueError(f"decision lists differ in length: {len(old)} old, {len(new)} new")
    result = PolicyDiff()
    # Many images hit the same few rules: build each rule's key once per distinct decision shape.
    old_keys = _KeyCache(cross_dialect)
    new_keys = _KeyCache(cross_dialect)
    for before, after in zip(old, new, strict=True):
        if old_keys.key(before) == new_keys.key(after):
            result.unchanged += 1
            continue
        # The action or the deciding rule's content differs: name the kind of change.
        result.changes.append(Change(after.image, classify(before, after), before, after))
    return result


def diff_policies(old_policy: PolicyModel, new_policy: PolicyModel, images: Iterable[str], *,
                  cross_dialect: bool = False) -> PolicyDiff:
    """Simulate both policy objects (`evaluate_many`) over the distinct images and compare."""
    distinct = unique_images(images)
    return diff_decisions(
        old_policy.evaluate_many(distinct),
        new_policy.evaluate_many(distinct),
        cross_dialect=cross_dialect,
    )


class _KeyCache:
    """rule_key memoized on the parts that decide it, so 50,000 decisions cost a dict lookup each."""

    def __init__(self, cross_dialect: bool):
        self.cross_dialect = cross_dialect
        self._cache: dict[Key, Key] = {}
        self._entry_keys: dict[int, tuple[object, object]] = {}
        # id() is only stable while the object lives: keep every keyed object alive.
        self._keep: list[object] = []

    def key(self, decision: Decision) -> Key:
        # Kyverno builds one requirements object per distinct reference; Talos shares none, and
        # its decisions are fully told by action, pattern and verifier.
        memo = (decision.action, decision.pattern, id(decision.verifier), id(decision.requirements))
        found = self._cache.get(memo)
        if found is None:
            found = rule_key(decision, cross_dialect=self.cross_dialect, entry_keys=self._entry_keys)
            self._cache[memo] = found
            self._keep.append((decision.verifier, decision.requirements))
        return found
