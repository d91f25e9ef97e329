"""What a verified signature proves, in the SPEC §2 `signature` shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

Format = Literal["legacy", "bundle", "bundle-referrer"]


def iso_utc(epoch_seconds: int) -> str:
    """`2026-04-09T07:23:29Z` for a Unix time, as the JSON output shows log times."""
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Identity:
    issuer: str | None
    subject: str | None

    def to_json(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "subject": self.subject}


@dataclass(frozen=True)
class TlogEntry:
    log_index: int
    integrated_time: int  # Unix seconds

    def to_json(self) -> dict[str, Any]:
        return {"log_index": self.log_index, "integrated_time": iso_utc(self.integrated_time)}


@dataclass
class SignatureEvidence:
    """The proof behind a `verified` outcome.

    `bundle_verified` is Talos's "bundle verified true": a Rekor signed entry timestamp (or, for
    Sigstore bundles, an inclusion proof) was checked against the trusted root.
    The caller sets `format` to "bundle-referrer" when the bundle came from the referrers API.
    """

    format: Format
    artifact_digest: str
    identity: Identity | None = None
    key_fingerprint: str | None = None
    tlog: TlogEntry | None = None
    bundle_verified: bool = False
    details: dict[str, Any] = field(default_factory=dict)  # e.g. predicate type; not part of the JSON contract
    # Where the signature was found when that is not the image's own repository (Kyverno
    # `repository`, cosign's COSIGN_REPOSITORY): `registry/repository`.
    repository: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.format,
            "artifact_digest": self.artifact_digest,
            "identity": self.identity.to_json() if self.identity else None,
            "key_fingerprint": self.key_fingerprint,
            "tlog": self.tlog.to_json() if self.tlog else None,
        }
        if self.repository is not None:
            out["repository"] = self.repository
        return out
