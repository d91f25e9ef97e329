"""The session cache: successful verifications, keyed by what they depend on and the image digest.

Only digest-keyed results are kept. A tag is resolved again on every run (one manifest HEAD):
a tag that moved to another image must not keep the old image's verdict (issue 11 #2).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from pullguard.engine.signatures.attestation_discovery import FoundAttestation
from pullguard.engine.signatures.evidence import SignatureEvidence
from pullguard.engine.signatures.trust import TrustRoot
from pullguard.engine.vocabulary import Decision


def result_key(decision: Decision, trusted_root: str | None) -> Hashable:
    """What a verification result depends on besides the image digest: the dialect's
    requirements (or the rule's verifier) and the trusted root. Editing a pattern keeps the key,
    editing an identity or a key changes it. The TUI keys the results it shows with it too."""
    content: Hashable = decision.requirements.cache_key() if decision.requirements is not None else decision.verifier
    return (content, trusted_root)


def cache_key(decision: Decision, trusted_root: str | None, root: TrustRoot) -> Hashable:
    """The session cache's key: `result_key` and the trusted root's content, so a root file edited
    during a session (a CA retired, a key removed) does not keep the successes it would no longer give."""
    return (result_key(decision, trusted_root), root.fingerprint)


@dataclass(frozen=True)
class CachedSuccess:
    message: str
    signature: SignatureEvidence | None
    attestations: tuple[FoundAttestation, ...] = ()


class VerifyCache:
    """Successful verifications of this session, keyed by (`cache_key`, image digest).
    Failures and errors are never cached."""

    def __init__(self) -> None:
        self._results: dict[tuple[Hashable, str], CachedSuccess] = {}

    def __len__(self) -> int:
        return len(self._results)

    def clear(self) -> None:
        self._results.clear()

    def get(self, key: Hashable, digest: str) -> CachedSuccess | None:
        return self._results.get((key, digest))

    def put(self, key: Hashable, digest: str, message: str, signature: SignatureEvidence | None,
            attestations: tuple[FoundAttestation, ...] = ()) -> None:
        self._results[(key, digest)] = CachedSuccess(message, signature, attestations)
