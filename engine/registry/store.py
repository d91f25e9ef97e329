"""`RegistryStore`: the registry client seen through `pullguard.engine.artifacts.ArtifactStore`.

Discovery speaks in image contexts (`ghcr.io/org/app`, as `Reference.context` gives them) and
two exceptions (`ArtifactNotFound`, `RegistryFault`); this adapter splits the context into
registry and repository and maps the client's error family onto those two. Every answer it
returns was read within the size bound the caller passed (or the Talos limit).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Iterable

import httpx

from .. import artifacts
from .client import RegistryClient
from .credentials import CredentialStore
from .errors import NotFoundError, RegistryError
from .mirrors import MirrorConfig


def split_context(context: str) -> tuple[str, str]:
    """`ghcr.io/org/app` -> (`ghcr.io`, `org/app`)."""
    registry, sep, repository = context.partition("/")
    if not sep or not repository:
        raise ValueError(f"image context {context!r} has no registry/repository")
    return registry, repository


class RegistryStore(artifacts.ArtifactStore):
    def __init__(self, client: RegistryClient, *, all_referrer_pages: bool = False) -> None:
        self.client = client
        # Verification reads the first referrers page only, as Talos and cosign do; `tree` all.
        self.all_referrer_pages = all_referrer_pages

    @classmethod
    def open(
        cls, *, mirrors: MirrorConfig | None = None, insecure: Iterable[str] = (), timeout: float = 10.0,
        max_connections: int | None = None, credentials: CredentialStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None, all_referrer_pages: bool = False,
    ) -> RegistryStore:
        return cls(RegistryClient(mirrors=mirrors, insecure=insecure, timeout=timeout, credentials=credentials,
                                  max_connections=max_connections, transport=transport),
                   all_referrer_pages=all_referrer_pages)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> RegistryStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def resolve(self, context: str, tag: str | None) -> str:
        """The digest a tag points at (HEAD, one round trip)."""
        registry, repository = split_context(context)
        async with _mapped():
            head = await self.client.head_manifest(registry, repository, tag or "latest")
            return head.digest

    async def manifest(self, repository: str, reference: str, max_size: int) -> artifacts.Fetched:
        registry, name = split_context(repository)
        async with _mapped():
            m = await self.client.get_manifest(registry, name, reference, max_size=max_size)
            return artifacts.Fetched(m.media_type, m.data, m.digest)

    async def blob(self, repository: str, digest: str, max_size: int) -> bytes:
        registry, name = split_context(repository)
        async with _mapped():
            return (await self.client.get_blob(registry, name, digest, max_size=max_size)).data

    async def referrers(self, repository: str, digest: str, artifact_type: str) -> list[dict[str, Any]] | None:
        registry, name = split_context(repository)
        async with _mapped():
            answer = await self.client.get_referrers(registry, name, digest, artifact_type=artifact_type,
                                                     all_pages=self.all_referrer_pages)
            if not answer.supported:
                return None
            return [d.to_json() for d in answer.descriptors]


class _mapped:
    """Turn the client's errors into discovery's two kinds (message kept word for word)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, NotFoundError):
            raise artifacts.ArtifactNotFound(str(exc)) from exc
        if isinstance(exc, (RegistryError, ValueError)):
            raise artifacts.RegistryFault(str(exc)) from exc
