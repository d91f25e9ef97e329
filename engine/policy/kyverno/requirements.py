"""What Kyverno requires of an image: the verifyImages entries that apply and their attestors.

`Requirements` is the Kyverno dialect's `pullguard.engine.vocabulary.Requirements`: simulation
builds it (no network), verification checks it (`verify` entries, each attestor set with its
count, nested sets, and `unsupported`: what pullguard cannot check, each an `error` outcome
"not verified by pullguard: …" before any request is made).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

from ...vocabulary import KeylessVerifier, PublicKeyVerifier, Verifier
from .conditions import Condition, ConditionBlock, cache_text

AttestorKind = Literal["keys", "keyless", "certificates", "kms", "secret", "nested", "none"]


@dataclass
class AttestorReq:
    """One attestor (after Kyverno splits a multi-key `publicKeys` into one entry per key)."""

    kind: AttestorKind
    path: str  # e.g. `attestors[0].entries[1]`
    verifier: Verifier | None = None
    nested: AttestorSetReq | None = None
    detail: str = ""  # KMS URI, secret name, certificate note
    # Where its signatures and attestations are looked up when not in the image's own repository
    # (the attestor's `repository`, else the entry's): `registry/repository`, as cosign's
    # WithTargetRepository; "" for the image's own.
    repository: str = ""

    def describe(self) -> str:
        text = self._describe()
        return f"{text} (signatures in {self.repository})" if self.repository else text

    def _describe(self) -> str:
        v = self.verifier
        if isinstance(v, PublicKeyVerifier):
            over = f" over {v.hash_algorithm}" if v.hash_algorithm not in (None, "sha256") else ""
            return f"public key {v.fingerprint or '(unparseable)'}{over}"
        if isinstance(v, KeylessVerifier):
            parts = ["keyless"]
            if v.issuer:
                parts.append(f"issuer {v.issuer}")
            if v.issuer_regex:
                parts.append(f"issuerRegExp {v.issuer_regex}")
            if v.subject:
                parts.append(f"subject {v.subject}")
            if v.subject_regex:
                parts.append(f"subjectRegExp {v.subject_regex}")
            return " ".join(parts)
        if self.nested is not None:
            return f"nested ({self.nested.describe()})"
        return f"{self.kind} {self.detail}".strip()

    def cache_key(self) -> Hashable:
        nested = self.nested.cache_key() if self.nested is not None else None
        return (self.kind, self.verifier, nested, self.detail, self.repository)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "kind": self.kind}
        v = self.verifier
        if isinstance(v, PublicKeyVerifier):
            out.update(v.to_json())
            out.update({"ignore_tlog": v.ignore_tlog})
            if v.hash_algorithm not in (None, "sha256"):
                out["signature_algorithm"] = v.hash_algorithm
        elif isinstance(v, KeylessVerifier):
            out.update(v.to_json())
            out.update({"issuer_regex": v.issuer_regex, "rekor_url": v.rekor_url,
                        "ignore_tlog": v.ignore_tlog, "ignore_sct": v.ignore_sct})
        if self.nested is not None:
            out["attestor"] = self.nested.to_json()
        if self.detail:
            out["detail"] = self.detail
        if self.repository:
            out["repository"] = self.repository
        return out


@dataclass
class AttestorSetReq:
    count: int | None  # as written
    entries: list[AttestorReq]

    @property
    def required(self) -> int:
        """AttestorSet.RequiredCount: nil or 0 means every entry."""
        return len(self.entries) if not self.count else self.count

    # Read only once loaded, and shared by the entries whose attestors are written alike (a
    # fleet's policy: thousands), so its words and JSON are worked out once.
    _text: str | None = field(default=None, init=False, repr=False, compare=False)
    _json: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def describe(self) -> str:
        if self._text is None:
            inner = "; ".join(e.describe() for e in self.entries)
            if len(self.entries) <= 1:
                self._text = inner
            elif self.required >= len(self.entries):
                self._text = f"all of: {inner}"
            else:
                self._text = f"{self.required} of {len(self.entries)}: {inner}"
        return self._text

    def cache_key(self) -> Hashable:
        return (self.required, tuple(e.cache_key() for e in self.entries))

    def to_json(self) -> dict[str, Any]:  # shared by every outcome (read only)
        if self._json is None:
            self._json = {"count": self.count, "required": self.required,
                          "entries": [e.to_json() for e in self.entries]}
        return self._json


@dataclass
class AttestationReq:
    """One `verifyImages[].attestations[]` item: statements of `type` signed by its attestor sets
    (none written: Kyverno's one empty attestor, any keyless signer of the trusted root), whose
    predicate satisfies `conditions`."""

    path: str  # attestations[0]
    name: str
    type: str  # the predicate type (`type`, else the deprecated `predicateType`); "" when missing
    attestor_sets: list[AttestorSetReq]
    conditions: tuple[ConditionBlock, ...] = ()

    def describe(self) -> str:
        text = f"attestation {self.type or '?'}"
        if self.attestor_sets:
            text += " by " + "; ".join(s.describe() for s in self.attestor_sets)
        if self.conditions:
            count = sum(len(b.all) + len(b.any or ()) for b in self.conditions)
            text += f" with {count} condition{'s' if count != 1 else ''}"
        return text

    def cache_key(self) -> Hashable:
        return (self.name, self.type, tuple(s.cache_key() for s in self.attestor_sets), cache_text(self.conditions))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name or None, "type": self.type or None,
            "attestors": [s.to_json() for s in self.attestor_sets],
            "conditions": [
                {"any": None if b.any is None else [_condition_json(c) for c in b.any],
                 "all": [_condition_json(c) for c in b.all]}
                for b in self.conditions
            ],
        }


def _condition_json(c: Condition) -> dict[str, Any]:
    return {"key": c.key, "operator": c.operator, "value": c.value, "message": c.message or None}


NOTARY_UNSUPPORTED = "type Notary is not supported for verification by pullguard"


@dataclass
class VerifyEntry:
    index: int  # flat position among every verifyImages entry in the file
    policy: str
    rule: str
    entry: int
    rule_key: int  # index into KyvernoPolicySet.rules
    image_references: list[str]
    skip_image_references: list[str]
    type: str
    required: bool
    mutate_digest: bool
    verify_digest: bool
    use_cache: bool
    failure_action: str  # effective: "Audit" or "Enforce"
    repository: str
    attestor_sets: list[AttestorSetReq]
    attestations: list[AttestationReq]
    line: int
    column: int
    end_line: int
    # Fields that change Kyverno's verdict and that pullguard does not check, one line each
    # ("not verified by pullguard: <field> …"): the entry cannot be verified.
    unsupported: tuple[str, ...] = ()
    rule_id: str = field(init=False, compare=False)  # `<policy>/<rule>#<entry>`
    # to_json by (action, pattern): an entry takes part in several outcomes of a fleet
    _json: dict[tuple[str, str | None], dict[str, Any]] = field(default_factory=dict, init=False, repr=False,
                                                                 compare=False)
    _text: str | None = field(default=None, init=False, repr=False, compare=False)  # describe()

    def __post_init__(self) -> None:
        self.rule_id = f"{self.policy}/{self.rule}#{self.entry}"

    @property
    def pattern(self) -> str:
        return ", ".join(self.image_references)

    @property
    def supported(self) -> bool:
        """Whether pullguard can check this entry (not Notary, no unsupported field)."""
        return self.type != "Notary" and not self.unsupported

    def first_verifier(self) -> Verifier | None:
        if self.type == "Notary":
            return None
        return _first_verifier(self.attestor_sets) or _first_verifier([s for a in self.attestations for s in a.attestor_sets])

    def describe(self) -> str:
        # An entry is read once and asked again for every outcome it takes part in (a fleet's
        # policy: tens of thousands); what depends on the entry alone is worked out once.
        if self._text is None:
            self._text = self._description()
        return self._text

    def _description(self) -> str:
        if self.type == "Notary":
            return NOTARY_UNSUPPORTED
        if self.unsupported:
            return "; ".join(self.unsupported)
        parts = []
        for s in self.attestor_sets:
            parts.append(s.describe())
        for attestation in self.attestations:
            parts.append(attestation.describe())
        return " + ".join(parts) if parts else "no attestors: no signature check"

    def cache_key(self) -> Hashable:
        """Equal for entries that accept the same signatures (names, patterns and lines aside)."""
        return (
            self.type, self.unsupported,
            tuple(s.cache_key() for s in self.attestor_sets),
            tuple(a.cache_key() for a in self.attestations),
        )

    def to_json(self, action: str, pattern: str | None) -> dict[str, Any]:  # shared (read only)
        found = self._json.get((action, pattern))
        if found is None:
            found = self._json[(action, pattern)] = {
                "policy": self.policy, "rule": self.rule, "entry": self.entry, "rule_id": self.rule_id,
                "action": action, "pattern": pattern, "type": self.type, "supported": self.supported,
                "required": self.required, "verify_digest": self.verify_digest,
                "mutate_digest": self.mutate_digest, "failure_action": self.failure_action,
                "repository": self.repository or None,
                "attestors": [s.to_json() for s in self.attestor_sets],
                "attestations": [a.to_json() for a in self.attestations],
            }
        return found


def _first_verifier(sets: list[AttestorSetReq]) -> Verifier | None:
    """The first verifier of the sets, nested sets included, in order. (A module function: a
    recursive local function is a reference cycle, one per call, left to the cyclic collector.)"""
    for s in sets:
        for a in s.entries:
            if a.verifier is not None:
                return a.verifier
            if a.nested is not None:
                found = _first_verifier([a.nested])
                if found is not None:
                    return found
    return None


@dataclass
class Requirements:
    """What Kyverno would require of one image (simulate; no network)."""

    verify: list[tuple[VerifyEntry, str]]  # (entry, matching pattern)
    skipped: list[tuple[VerifyEntry, str]]  # (entry, skipping pattern)
    has_digest: bool
    digest_added: bool  # an applying rule has mutateDigest: the digest would be added
    digest_required: bool  # an applying entry has verifyDigest
    missing_digest: bool  # verifyDigest and no digest and none would be added: Kyverno fails it
    # "<rule id>: <why>" for every applying entry pullguard cannot check (Notary, a field it
    # does not enforce): the image's outcome is `error`, never a silent pass.
    unsupported: list[str]
    json: dict[str, Any] | None = field(default=None, compare=False)  # to_json(), computed once

    def cache_key(self) -> Hashable:
        """Equal for requirements that accept the same signatures: the applying entries' attestors
        in order, and whether a missing digest fails the image (skips and patterns aside)."""
        return ("kyverno", self.missing_digest, tuple(e.cache_key() for e, _ in self.verify))

    def to_json(self) -> dict[str, Any]:
        if self.json is None:
            self.json = {
                "entries": [e.to_json("verify", p) for e, p in self.verify]
                + [e.to_json("skip", p) for e, p in self.skipped],
                "digest_required": self.digest_required,
                "digest_added": self.digest_added,
                "missing_digest": self.missing_digest,
                "unsupported": self.unsupported,
            }
        return self.json
