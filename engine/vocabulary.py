"""The vocabulary every layer shares: what a policy asks of an image and what it decides.

This is a leaf module (it imports nothing of pullguard's): the dialects (`engine.policy.*`)
produce these, simulation, signatures and verification consume them, and the faces (CLI, TUI)
show them. One place for the words: actions, outcomes, verifiers, decisions.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, Protocol, TypedDict

DialectName = Literal["talos", "kyverno", "kyverno-ivpol"]

Outcome = Literal["verified", "failed", "skipped", "denied", "allowed", "error"]
OUTCOMES: tuple[Outcome, ...] = ("verified", "failed", "skipped", "denied", "allowed", "error")
# What a node lets through: a pull with one of these outcomes goes ahead (SPEC §1 exit codes).
ADMITTED: frozenset[Outcome] = frozenset({"verified", "skipped", "allowed"})

Action = Literal["verify", "skip", "deny", "allow"]


@dataclass(frozen=True)
class KeylessVerifier:
    """A Fulcio certificate identity to require.

    Talos compares `issuer` and `subject` exactly (`match="exact"`); Kyverno compares them with
    its wildcard (`match="wildcard"`). `subject_regex`/`issuer_regex` are unanchored RE2 searches.
    """

    issuer: str | None = None
    subject: str | None = None
    subject_regex: str | None = None
    issuer_regex: str | None = None
    match: Literal["exact", "wildcard"] = "exact"
    # Kyverno only: custom roots / Rekor / CT log material (PEM) and switches.
    roots: str | None = None
    rekor_url: str | None = None
    rekor_pubkey: str | None = None
    ignore_tlog: bool = False
    ctlog_pubkey: str | None = None
    ignore_sct: bool = False
    # Kyverno `certificates` with `certChain` and `cert`: the signing certificate must be this PEM.
    certificate: str | None = None
    # Kyverno `keyless.additionalExtensions`: (name, value) the Fulcio certificate must carry.
    extensions: tuple[tuple[str, str], ...] = ()
    # Kyverno attestor `annotations`: (key, value) the signed payload's `optional` must hold.
    annotations: tuple[tuple[str, str], ...] = ()
    # ImageValidatingPolicy `cosign.annotations`: (key, value) the signature's own OCI annotations
    # must hold (cosign's `oci.Signature.Annotations()`, not the payload).
    oci_annotations: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "keyless",
            "issuer": self.issuer,
            "subject": self.subject,
            "subject_regex": self.subject_regex,
        }


@dataclass(frozen=True)
class PublicKeyVerifier:
    """A PEM `PUBLIC KEY` the signature must verify with.

    `fingerprint` is `sha256:<hex of DER SubjectPublicKeyInfo>` (SPEC §2); None where the PEM
    does not parse (the policy then has an error diagnostic and is not verified).
    Talos sets IgnoreTlog for public-key rules: no transparency-log entry is required.
    """

    pem: str
    fingerprint: str | None
    ignore_tlog: bool = True
    rekor_pubkey: str | None = None
    # Kyverno attestor `annotations`: (key, value) the signed payload's `optional` must hold.
    annotations: tuple[tuple[str, str], ...] = ()
    # ImageValidatingPolicy `cosign.annotations`: as KeylessVerifier.oci_annotations.
    oci_annotations: tuple[tuple[str, str], ...] = ()
    # Kyverno `signatureAlgorithm` / IVPol `hashAlgorithm` (sha224, sha256, sha384, sha512): the
    # digest the key verifies signatures over, and nothing else (sigstore's LoadVerifier: ECDSA
    # with it, RSA PKCS#1 v1.5 with it, Ed25519 pure). None: Talos's leniency (ECDSA over SHA-256
    # or the curve's hash, RSA PKCS#1 v1.5 or PSS over SHA-256).
    hash_algorithm: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": "public_key", "key_fingerprint": self.fingerprint}


Verifier = KeylessVerifier | PublicKeyVerifier

class Requirements(Protocol):
    """What verification must establish for an image beyond one verifier: a dialect's own
    requirements (Kyverno's attestor sets and attestations). Verification picks its strategy
    by the concrete type; everything else only needs these two calls."""

    def cache_key(self) -> Hashable:
        """Equal for requirements that accept exactly the same signatures (the session cache's
        key together with the trusted root and the image digest)."""
        ...

    def to_json(self) -> dict[str, Any]: ...


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


class AppliedRule(TypedDict):
    """One rule entry that applies to an image (SPEC §2 `rules`, Kyverno). An
    ImageValidatingPolicy has no rule (None), its matchImageReferences entry (None: it has none)
    and its validations."""

    policy: str
    rule: str | None
    entry: int | None
    action: Literal["verify", "skip"]
    validations: NotRequired[list[str]]


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
    rules: list[AppliedRule] | None = None
    # Kyverno: what verification would require (the dialect's own type, in the JSON as
    # `requirements`); None for Talos.
    requirements: Requirements | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
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
        if self.requirements is not None:
            out["requirements"] = self.requirements.to_json()
        return out
