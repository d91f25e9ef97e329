"""The seam between the registry and the signature checks: what discovery asks of a store.

A leaf module: `engine.signatures` (discovery) calls an `ArtifactStore` without knowing the
registry client, and `engine.registry.store` implements it without knowing signatures. Both
sides import only this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class ArtifactNotFound(Exception):
    """The registry answered: no such manifest or blob (HTTP 404 / MANIFEST_UNKNOWN)."""


class RegistryFault(Exception):
    """The registry could not be asked or answered with an error (unreachable, 5xx, 401,
    timeout, digest mismatch, oversize). The message names the host."""


class LimitExceeded(RegistryFault):
    """A per-image bound was hit (SPEC §6: bytes fetched, entries considered); the message names
    the limit. Like a fault, it makes the outcome `error`: a signature may lie beyond it."""


@dataclass(frozen=True)
class Fetched:
    media_type: str
    data: bytes
    digest: str


class ArtifactStore(Protocol):
    """What discovery needs from a registry (mirrors and `oci:` layouts hidden behind it)."""

    async def manifest(self, repository: str, reference: str, max_size: int) -> Fetched: ...

    async def blob(self, repository: str, digest: str, max_size: int) -> bytes: ...

    async def referrers(self, repository: str, digest: str, artifact_type: str) -> list[dict[str, Any]] | None:
        """Descriptors of the referrers; None when the registry has no referrers API."""
        ...
