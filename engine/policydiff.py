"""What changes between two policies over the same images: the rollout what-if behind `pullguard diff`.

An image has changed when its action changes or when the rule that decides it changes. A rule
is identified by its content — pattern, action, verifier — never by its position, so an image
that hits the same rule shifted down by an inserted rule has not changed. When the two policies
are in different dialects (a Talos policy against its Kyverno rewrite) patterns are written
differently (Talos and Kyverno normalize references differently), so only the action and the
verifier content are compared.

Kinds of change, checked in this order (the first that holds names the change):

- `newly-denied`: the new policy denies the image, the old one did not.
- `newly-requires-verification`: the new policy requires verification, the old one did not (it
  skipped, allowed or denied the image; nothing was verified).
- `newly-unverified`: the new policy admits the image without verification (skip or allow),
  the old one verified or denied it.
- `verifier-weakened` / `verifier-strengthened` / `verifier-changed`: both verify, by the same
  rule (Talos: the same pattern; Kyverno: the same applying entries, by the patterns that made
  them apply; across dialects: any), and its verifier now accepts a superset of the signers it
  accepted / a subset / neither or not decidable (engine/verifierorder.py).
- `other-rule`: the image is handled the same way but by a rule of different content — the same
  action with another pattern or verifier, or skip <-> allow (both admit without verification).

`KINDS` is the order they are listed in: a weakened verifier first, as it is the change a
review must not miss (every signer the old rule took still passes, and others too).

An image whose reference a dialect cannot parse (action None) counts as denied by that policy:
it would not be admitted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .verifierorder import Order, combine, compare
from .vocabulary import Decision, KeylessVerifier, PublicKeyVerifier, Verifier

if TYPE_CHECKING:
    from .policy.dialect import PolicyModel
    from .policy.kyverno.requirements import AttestorReq, AttestorSetReq, VerifyEntry
    from .policy.kyverno.requirements import Requirements as KyvernoRequirements

# A rule's content as a hashable value (compared, never read).
Key = tuple[object, ...]

KINDS = ("verifier-weakened", "newly-denied", "newly-unverified", "newly-requires-verification",
         "verifier-changed", "verifier-strengthened", "other-rule")
_RANK = {kind: rank for rank, kind in enumerate(KINDS)}
_VERIFIER_KINDS: dict[Order, str] = {"weaker": "verifier-weakened", "stronger": "verifier-strengthened",
                                     "changed": "verifier-changed", "same": "verifier-changed"}

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
            (f.name, _content(getattr(value, f.name))) for f in dataclasses.fields(value)
            if f.compare and f.name not in _POSITION_FIELDS  # compare=False: a cache or a derived name
        )
    if isinstance(value, (list, tuple)):
        return tuple(_content(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted(((k, _content(v)) for k, v in value.items()), key=repr))
    return value


def classify(old: Decision, new: Decision, *, cross_dialect: bool = False) -> str:
    """The kind of change between two decisions known to differ (see the module docstring)."""
    old_action = old.action or "deny"
    new_action = new.action or "deny"
    if new_action == "deny" and old_action != "deny":
        return "newly-denied"
    if new_action == "verify" and old_action != "verify":
        return "newly-requires-verification"
    if new_action in _UNVERIFIED and old_action not in _UNVERIFIED:
        return "newly-unverified"
    if new_action == "verify":
        order = verifier_order(old, new, cross_dialect=cross_dialect)
        if order is not None:
            return _VERIFIER_KINDS[order]
    return "other-rule"


def verifier_order(old: Decision, new: Decision, *, cross_dialect: bool = False) -> Order | None:
    """How the verification of the same rule changed between two verify decisions; None when
    another rule decides (another pattern, other Kyverno entries apply)."""
    old_req, new_req = old.requirements, new.requirements
    if not cross_dialect and old_req is not None and new_req is not None:
        kyverno = _kyverno_requirements()
        if isinstance(old_req, kyverno) and isinstance(new_req, kyverno):
            return _requirements_order(old_req, new_req)
        return None
    if old.verifier is None or new.verifier is None:
        return None
    if not cross_dialect and old.pattern != new.pattern:
        return None
    return compare(old.verifier, new.verifier, cross_dialect=cross_dialect)


def _requirements_order(old: KyvernoRequirements, new: KyvernoRequirements) -> Order | None:
    """Kyverno: the same entries apply (paired by the pattern that made each apply) and skip."""
    old_verify = sorted(old.verify, key=lambda item: item[1])
    new_verify = sorted(new.verify, key=lambda item: item[1])
    if [p for _, p in old_verify] != [p for _, p in new_verify]:
        return None
    if sorted(p for _, p in old.skipped) != sorted(p for _, p in new.skipped):
        return None
    orders: list[Order] = []
    if (old.digest_required, old.missing_digest) != (new.digest_required, new.missing_digest):
        orders.append("changed")
    orders += [_entry_order(a, b) for (a, _), (b, _) in zip(old_verify, new_verify, strict=True)]
    return combine(orders)


_ATTESTOR_FIELDS = frozenset({"attestor_sets", "attestations"})


def _entry_order(old: VerifyEntry, new: VerifyEntry) -> Order:
    """An entry requires every attestor set (and attestation): their orders combine."""
    rest = [(f.name, _content(getattr(old, f.name)), _content(getattr(new, f.name)))
            for f in dataclasses.fields(old) if f.compare and f.name not in _POSITION_FIELDS | _ATTESTOR_FIELDS]
    if any(a != b for _, a, b in rest):
        return "changed"
    if len(old.attestor_sets) != len(new.attestor_sets) or _content(old.attestations) != _content(new.attestations):
        return "changed"
    return combine([_set_order(a, b) for a, b in zip(old.attestor_sets, new.attestor_sets, strict=True)])


def _set_order(old: AttestorSetReq, new: AttestorSetReq) -> Order:
    """An attestor set holds when `required` of its entries verify. Fewer required, more entries
    to choose from (the same number required) or weaker entries: weaker; and the reverse."""
    if len(old.entries) == len(new.entries):
        parts = [_attestor_order(a, b) for a, b in zip(old.entries, new.entries, strict=True)]
        parts.append(_count_order(old.required, new.required))
        return combine(parts)
    old_keys = [e.cache_key() for e in old.entries]
    new_keys = [e.cache_key() for e in new.entries]
    if old.required != new.required:
        return "changed"
    if len(old_keys) < len(new_keys) and all(new_keys.count(k) >= old_keys.count(k) for k in old_keys):
        return "weaker"  # an added key (or identity) that may count towards `required`
    if len(old_keys) > len(new_keys) and all(old_keys.count(k) >= new_keys.count(k) for k in new_keys):
        return "stronger"
    return "changed"


def _count_order(old_required: int, new_required: int) -> Order:
    if old_required == new_required:
        return "same"
    return "weaker" if new_required < old_required else "stronger"


def _attestor_order(old: AttestorReq, new: AttestorReq) -> Order:
    if old.kind != new.kind or old.detail != new.detail:
        return "changed"
    if old.nested is not None or new.nested is not None:
        if old.nested is None or new.nested is None:
            return "changed"
        return _set_order(old.nested, new.nested)
    return compare(old.verifier, new.verifier)


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
        result.changes.append(Change(after.image, classify(before, after, cross_dialect=cross_dialect), before, after))
    result.changes.sort(key=lambda change: _RANK[change.kind])  # by kind (KINDS), then image order
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
