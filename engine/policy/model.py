"""What a policy asks of an image, independent of the dialect it was written in.

The dialect loaders (`policy.talos`, `policy.kyverno`) turn YAML into these; simulation,
verification and the UI only ever see these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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

    def to_json(self) -> dict:
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

    def to_json(self) -> dict:
        return {"type": "public_key", "key_fingerprint": self.fingerprint}


Verifier = KeylessVerifier | PublicKeyVerifier
