"""`RegistryStore`: the registry client seen through `pullguard.engine.artifacts.ArtifactStore`.

Discovery speaks in image contexts (`ghcr.io/org/app`, as `Reference.context` gives them) and
two exceptions (`ArtifactNotFound`, `RegistryFault`); this adapter splits the context into
registry and repository and maps the client's error family onto those two.
"""

from __future__ import annotations

from typing import Iterable

from .. import artifacts
from .errors import NotFoundError, RegistryError


def split_context(context: str) -> tuple[str, str]:
    """`ghcr.io/org/app` -> (`ghcr.io`, `org/app`)."""
    registry, sep, repository = context.partition("/")
    if not sep or not repository:
        raise ValueError(f"image context {context!r} has no registry/repository")
    return registry, repository


class RegistryStore:
    def __init__(self, client) -> None:
        self.client = client

    @classmethod
    def open(cls, *, mirrors=None, insecure: Iterable[str] = (), timeout: float = 10.0,
             max_connections: int | None = None, credentials=None, transport=None) -> "RegistryStore":
        from .client import RegistryClient

        return cls(RegistryClient(mirrors=mirrors, insecure=insecure, timeout=timeout, credentials=credentials,
                                  max_connections=max_connections, transport=transport))

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> "RegistryStore":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def resolve(self, context: str, tag: str | None) -> str:
        """The digest a tag points at (HEAD, one round trip)."""
        registry, repository = split_context(context)
        async with _mapped():
            head = await self.client.head_manifest(registry, repository, tag or "latest")
            return head.digest

    async def manifest(self, context: str, reference: str, max_size: int) -> artifacts.Fetched:
        registry, repository = split_context(context)
        async with _mapped():
            m = await self.client.get_manifest(registry, repository, reference, max_size=max_size)
            return artifacts.Fetched(m.media_type, m.data, m.digest)

    async def blob(self, context: str, digest: str, max_size: int) -> bytes:
        registry, repository = split_context(context)
        async with _mapped():
            return (await self.client.get_blob(registry, repository, digest, max_size=max_size)).data

    async def referrers(self, context: str, digest: str, artifact_type: str) -> list[dict] | None:
        registry, repository = split_context(context)
        async with _mapped():
            answer = await self.client.get_referrers(registry, repository, digest, artifact_type=artifact_type)
            if not answer.supported:
                return None
            return [d.to_json() for d in answer.descriptors]


class _mapped:
    """Turn the client's errors into discovery's two kinds (message kept word for word)."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        if exc is None:
            return False
        if isinstance(exc, NotFoundError):
            raise artifacts.ArtifactNotFound(str(exc)) from exc
        if isinstance(exc, (RegistryError, ValueError)):
            raise artifacts.RegistryFault(str(exc)) from exc
        return False
