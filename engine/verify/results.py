"""What verification tells about each image: the options of a run, one result per image, the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pullguard.engine.signatures.attestation_discovery import FoundAttestation
from pullguard.engine.signatures.evidence import SignatureEvidence
from pullguard.engine.vocabulary import ADMITTED, OUTCOMES, Decision, Outcome

if TYPE_CHECKING:  # only a type here: the ivpol dialect imports what verification returns
    from pullguard.engine.policy.ivpol.verification import ValidationTrial

# SPEC §3: every failure message starts so, followed by Talos's own error chain.
FAILED_PREFIX = "image verification failed: no valid signature found: "


@dataclass
class VerifyOptions:
    trusted_root: str | None = None
    mirrors: dict[str, list[str]] = field(default_factory=dict)
    insecure: list[str] = field(default_factory=list)
    concurrency: int = 8
    timeout: float = 10.0
    # `--pull-secret FILE` (repeatable): dockerconfigjson Secret manifests or bare config.json files.
    pull_secrets: list[str] = field(default_factory=list)


@dataclass
class VerifyResult:
    decision: Decision
    digest: str | None
    outcome: Outcome
    message: str
    signature: SignatureEvidence | None = None
    # SPEC §2 "every error that made a signature fail" (signatures.discovery.Discovery.errors):
    # for a verified image only real failures met before the winning signature (a candidate
    # that did not verify, a registry fault), never a lookup that merely found nothing; for a
    # failed or error result the whole chain of why nothing verified, "not found" included.
    errors: list[str] = field(default_factory=list)
    # True when the result came from the session cache (no signature was fetched).
    cached: bool = False
    # Kyverno `attestations`: the attestations that verified and satisfied their conditions.
    attestations: list[FoundAttestation] = field(default_factory=list)
    # ImageValidatingPolicy: each validation tried, in order, and its value (the last one false
    # or unanswered when the image was not verified)
    validations: list[ValidationTrial] = field(default_factory=list)

    @property
    def admitted(self) -> bool:
        return self.outcome in ADMITTED

    def to_json(self) -> dict[str, Any]:
        out = self.decision.to_json()
        out.update(
            {
                "digest": self.digest,
                "outcome": self.outcome,
                "message": self.message,
                "signature": self.signature.to_json() if self.signature is not None else None,
                "errors": list(self.errors),
            }
        )
        if self.attestations:
            out["attestations"] = [a.to_json() for a in self.attestations]
        if self.validations:
            out["validations"] = [{"policy": v.policy, "index": v.index, "expression": v.expression, "line": v.line,
                                   "value": v.value, "message": v.message} for v in self.validations]
        return out


def summary(results: list[VerifyResult]) -> dict[str, int]:
    """SPEC §2 top-level `summary`: a count for every outcome, zeros included."""
    counts: dict[str, int] = {name: 0 for name in OUTCOMES}
    for result in results:
        counts[result.outcome] += 1
    return counts
