"""The registry as one run and one image see it: the store of a run (`RunStore`) and the
per-image memo that lets several Kyverno attestors share one set of fetches (`MemoStore`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Protocol, TypeVar

from pullguard.engine.artifacts import ArtifactStore, Fetched
from pullguard.engine.registry.credentials import DeclaredAuth
from pullguard.engine.registry.mirrors import MirrorConfig

from .results import VerifyOptions

T = TypeVar("T")


class ImageStore(ArtifactStore, Protocol):
    """An artifact store that also resolves tags (the registry client, or a test's fake)."""

    async def resolve(self, context: str, tag: str | None) -> str: ...


class ClosableStore(ImageStore, Protocol):
    async def aclose(self) -> None: ...


def open_store(options: VerifyOptions, mirrors: MirrorConfig, declared: Sequence[DeclaredAuth] = (), *,
               all_referrer_pages: bool = False) -> ClosableStore:
    """The registry client for one run, with a connection pool sized for its concurrency, and
    credentials from the pull secrets, the policy file's `declared` ones and the user's files.
    Verification reads the first referrers page, as Talos and cosign; `tree` every page."""
    from pullguard.engine.registry.client import connection_pool_size
    from pullguard.engine.registry.credentials import CredentialStore
    from pullguard.engine.registry.store import RegistryStore

    credentials = CredentialStore.load(pull_secrets=options.pull_secrets, declared=declared)
    store: ClosableStore = RegistryStore.open(
        mirrors=mirrors, insecure=options.insecure, timeout=options.timeout,
        max_connections=connection_pool_size(options.concurrency), credentials=credentials,
        all_referrer_pages=all_referrer_pages,
    )
    return store


class RunStore:
    """The store as one `verify_images` run sees it.

    A registry that answered that it has no referrers API (the store's None) is not asked
    again during the run: OCI distribution 1.1 forbids a registry that implements the API to
    answer 404, so the answer holds for the whole registry, not just one repository. Talos
    asks every time; the verdicts are the same, with one request less per image.
    """

    def __init__(self, inner: ImageStore) -> None:
        self.inner = inner
        self._no_referrers: set[str] = set()

    async def resolve(self, context: str, tag: str | None) -> str:
        return await self.inner.resolve(context, tag)

    async def manifest(self, repository: str, reference: str, max_size: int) -> Fetched:
        return await self.inner.manifest(repository, reference, max_size)

    async def blob(self, repository: str, digest: str, max_size: int) -> bytes:
        return await self.inner.blob(repository, digest, max_size)

    async def referrers(self, repository: str, digest: str, artifact_type: str) -> list[dict[str, Any]] | None:
        registry = repository.partition("/")[0]
        if registry in self._no_referrers:
            return None
        answer = await self.inner.referrers(repository, digest, artifact_type)
        if answer is None:
            self._no_referrers.add(registry)
        return answer


class MemoStore:
    """Per-image memo over a store, so N attestors cost the requests of one."""

    def __init__(self, inner: ArtifactStore) -> None:
        self.inner = inner
        self._memo: dict[Hashable, asyncio.Future[Any]] = {}

    async def _once(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        fut = self._memo.get(key)
        if fut is None:
            fut = self._memo[key] = asyncio.ensure_future(make())
        result: T = await asyncio.shield(fut)
        return result

    async def manifest(self, repository: str, reference: str, max_size: int) -> Fetched:
        return await self._once(("m", repository, reference), lambda: self.inner.manifest(repository, reference, max_size))

    async def blob(self, repository: str, digest: str, max_size: int) -> bytes:
        return await self._once(("b", repository, digest), lambda: self.inner.blob(repository, digest, max_size))

    async def referrers(self, repository: str, digest: str, artifact_type: str) -> list[dict[str, Any]] | None:
        return await self._once(
            ("r", repository, digest, artifact_type), lambda: self.inner.referrers(repository, digest, artifact_type)
        )

    def settle(self) -> None:
        # Consume exceptions of lookups nobody awaited (Talos order stops early).
        for fut in self._memo.values():
            if fut.done() and not fut.cancelled():
                fut.exception()
            elif not fut.done():
                fut.cancel()
