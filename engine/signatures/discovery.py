"""Signature discovery for one image digest, in Talos's order (SPEC §6).

Talos v1.13 (`internal/pkg/containers/image/verify/internal/cosign`) tries, for an image
`repo@sha256:<hex>`:

1. the OCI referrers API, artifactType `application/vnd.dev.sigstore.bundle.v0.3+json`;
   when the registry lists any bundle referrer, the verdict comes from those alone;
2. the fallback tag `sha256-<hex>` (an image manifest, or an index of manifests, whose layers
   have a media type starting `application/vnd.dev.sigstore.bundle`); when such layers exist
   the verdict comes from them alone;
3. the legacy tag `sha256-<hex>.sig` (cosign simple-signing layers with annotations).

pullguard starts the three lookups at once (one round trip instead of three) and then walks
the answers in that order, so the reported result is the one a Talos node would give.
Failure text keeps Talos's words (`bundle tag not found`, `no valid legacy signature: …`);
the stage errors of step 2 and 3 are joined with a newline as Go's `errors.Join` does.

The registry is reached through `ArtifactStore`, a narrow view of the registry client, and
signatures are checked through `SignatureChecker`; both are injected so that this module is
pure orchestration.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pullguard.engine import jsontext
from pullguard.engine.artifacts import ArtifactNotFound, ArtifactStore, Fetched, LimitExceeded, RegistryFault
from pullguard.engine.signatures.evidence import Format, SignatureEvidence

T = TypeVar("T")
Json = dict[str, Any]
RunCheck = Callable[[Callable[[], SignatureEvidence]], Awaitable[SignatureEvidence]]

BUNDLE_ARTIFACT_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"

# Talos's limits (cosign.go): manifest 128 KiB, bundle/payload 1 MiB, 100 layers.
MAX_MANIFEST = 128 * 1024
MAX_BUNDLE = 1024 * 1024
MAX_PAYLOAD = 1024 * 1024
MAX_LAYERS = 100
# pullguard's own bounds per image (SPEC §6; Talos has none): whatever a registry lists, one image
# costs at most this many bytes, candidates and concurrent requests.
MAX_IMAGE_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 64
MAX_IN_FLIGHT = 4
BYTES_LIMIT = "16 MiB per-image fetch limit"
ENTRIES_LIMIT = f"{MAX_ENTRIES}-entry per-image limit"


class SignatureChecker(Protocol):
    """Checks one candidate; raises an exception whose text says why it does not verify."""

    def bundle(self, bundle_bytes: bytes, image_digest: str) -> SignatureEvidence: ...

    def legacy(self, layer: Json, payload: bytes, image_digest: str) -> SignatureEvidence: ...


class ImageBudget:
    """The store as the discovery of one image sees it, within the per-image bounds (SPEC §6):
    at most `MAX_IN_FLIGHT` requests at once and `MAX_IMAGE_BYTES` fetched in all, counted from
    the answers. Each fetch may take only what is left of the budget (the store refuses to read
    past its `max_size`); a fetch that would need more is `LimitExceeded`, naming the limit."""

    def __init__(self, inner: ArtifactStore, max_bytes: int = MAX_IMAGE_BYTES, in_flight: int = MAX_IN_FLIGHT) -> None:
        self.inner = inner
        self.max_bytes = max_bytes
        self.fetched = 0
        self._reserved = 0
        self._slots = asyncio.Semaphore(in_flight)
        self._changed = asyncio.Condition()
        # Set once a fetch did not fit: later ones are refused without a request.
        self._exhausted = False

    async def _fetch(self, what: str, max_size: int, fetch: Callable[[int], Awaitable[T]], size: Callable[[T], int]) -> T:
        async with self._slots:
            async with self._changed:
                # Wait for requests in flight to hand back what they did not use before
                # refusing one for want of budget.
                while self._reserved and self.fetched + self._reserved + max_size > self.max_bytes:
                    await self._changed.wait()
                left = self.max_bytes - self.fetched - self._reserved
                if left <= 0 or self._exhausted:
                    raise LimitExceeded(f"{what} exceeds the {BYTES_LIMIT} ({self.fetched} bytes fetched)")
                grant = min(max_size, left)
                self._reserved += grant
            used = 0
            try:
                try:
                    answer = await fetch(grant)
                except RegistryFault as exc:
                    if grant < max_size:
                        self._exhausted = True
                        raise LimitExceeded(f"{what} exceeds the {BYTES_LIMIT} ({exc})") from None
                    raise
                used = size(answer)
                if used > grant:  # a store that does not bound its reads
                    self._exhausted = True
                    raise LimitExceeded(f"{what} exceeds the {BYTES_LIMIT} ({self.fetched + used} bytes)")
                return answer
            finally:
                async with self._changed:
                    self._reserved -= grant
                    self.fetched += min(used, grant)
                    self._changed.notify_all()

    async def manifest(self, repository: str, reference: str, max_size: int) -> Fetched:
        return await self._fetch(
            f"manifest {reference}", max_size,
            lambda limit: self.inner.manifest(repository, reference, limit), lambda f: len(f.data),
        )

    async def blob(self, repository: str, digest: str, max_size: int) -> bytes:
        return await self._fetch(f"blob {digest}", max_size, lambda limit: self.inner.blob(repository, digest, limit), len)

    async def referrers(self, repository: str, digest: str, artifact_type: str) -> list[Json] | None:
        async with self._slots:
            return await self.inner.referrers(repository, digest, artifact_type)


@dataclass
class Discovery:
    """What discovery concluded for one digest."""

    verified: bool
    # Talos's success message, or the failure chain after `image verification failed: `.
    message: str
    # "legacy" | "bundle" | "bundle-referrer" when verified.
    format: Format | None = None
    artifact_digest: str | None = None
    evidence: SignatureEvidence | None = None
    # Every error that made a signature fail, one line each, in discovery order:
    # - verified: only real failures met before the winner (a candidate that did not verify or
    #   could not be fetched, a malformed bundle-tag manifest, a registry fault). A lookup that
    #   simply found nothing (`bundle tag not found`) is not an error of any signature, and is
    #   left out.
    # - not verified: Talos's whole chain of why nothing verified, "not found" lookups included,
    #   since they are the reason (`bundle tag not found`, `legacy signature tag not found`).
    errors: list[str] = field(default_factory=list)
    # Registry faults met on the way (not "not found"), and limits hit; a failure with faults is an `error`.
    faults: list[str] = field(default_factory=list)


class _Errors(list[str]):
    """The errors of one search; `miss()` records a lookup that found nothing, which counts
    only when nothing verifies (see `Discovery.errors`)."""

    def __init__(self) -> None:
        super().__init__()
        self._misses: list[int] = []

    def miss(self, text: str) -> None:
        self._misses.append(len(self))
        self.append(text)

    def failures(self) -> list[str]:
        misses = set(self._misses)
        return [e for i, e in enumerate(self) if i not in misses]


class _Stage(Exception):
    """A Talos stage error (its text is Talos's wording)."""


def _tag_of(digest: str) -> str:
    return digest.replace(":", "-")


def _json(data: bytes, what: str) -> Json:
    try:
        value = jsontext.loads(data)
    except ValueError as exc:
        raise _Stage(f"failed to decode {what}: {exc}") from None
    if not isinstance(value, dict):
        raise _Stage(f"failed to decode {what}: not a JSON object")
    return value


def _descriptors(doc: Json, key: str) -> list[Json]:
    items = doc.get(key) or []
    if not isinstance(items, list):
        return []
    # Talos reads at most 100 entries of a manifest's layers or an index's manifests.
    return [d for d in items[:MAX_LAYERS] if isinstance(d, dict)]


def _distinct(descriptors: list[Json]) -> list[Json]:
    """One candidate per digest: the same blob listed again has the same bytes and the same verdict."""
    return list({str(d.get("digest", "")): d for d in reversed(descriptors)}.values())[::-1]


def _limited(found: int, what: str) -> Discovery:
    msg = f"{found} {what} exceed the {ENTRIES_LIMIT}"
    return Discovery(False, msg, errors=[msg], faults=[msg])


async def discover(
    store: ArtifactStore,
    repository: str,
    digest: str,
    checker: SignatureChecker,
    *,
    run_check: RunCheck | None = None,
    tag_prefix: str = "",
) -> Discovery:
    """Find and verify the signatures of `repository@digest` the way Talos does.

    `tag_prefix` goes before the legacy `.sig` tag, as cosign's WithPrefix writes it
    (`<prefix>sha256-<hex>.sig`, pkg/oci/remote/remote.go); the bundle tag is the referrers API's
    fallback tag, which has none. `store` is bounded per image with `ImageBudget` unless it already is one (the caller shares
    one budget between several searches of the same image). `run_check(fn)` runs a CPU-bound
    check (default: inline); pass a thread offloader to keep an event loop responsive.
    """
    run = run_check or _inline
    if not isinstance(store, ImageBudget):
        store = ImageBudget(store)
    errors = _Errors()
    faults: list[str] = []

    # One round trip for all three lookups; answers are consumed in Talos's order below.
    referrers_task = asyncio.ensure_future(_quiet(store.referrers(repository, digest, BUNDLE_ARTIFACT_TYPE)))
    bundle_tag_task = asyncio.ensure_future(_quiet(store.manifest(repository, _tag_of(digest), MAX_MANIFEST)))
    sig_tag = tag_prefix + _tag_of(digest) + ".sig"
    legacy_tag_task = asyncio.ensure_future(_quiet(store.manifest(repository, sig_tag, MAX_MANIFEST)))
    tasks = (referrers_task, bundle_tag_task, legacy_tag_task)
    try:
        # Step 1: referrers. Talos ignores a referrers error and moves on.
        referrers, exc = await referrers_task
        if isinstance(exc, RegistryFault):
            faults.append(f"referrers: {exc}")
            errors.append(f"referrers: {exc}")
        bundle_refs = [
            r for r in (referrers or []) if isinstance(r, dict) and str(r.get("artifactType", "")).startswith(BUNDLE_MEDIA_PREFIX)
        ]
        if len(bundle_refs) > MAX_ENTRIES:
            return _limited(len(bundle_refs), "bundle referrers")
        if bundle_refs:
            return await _verify_referrers(store, repository, digest, bundle_refs, checker, run, errors, faults)

        # Step 2: the bundle tag.
        bundle_err: str | None = None
        fetched, exc = await bundle_tag_task
        if exc is not None:
            if isinstance(exc, ArtifactNotFound):
                bundle_err = "bundle tag not found"
                errors.miss(bundle_err)
            else:
                bundle_err = f"failed to resolve bundle tag {_tag_of(digest)}: {exc}"
                faults.append(bundle_err)
                errors.append(bundle_err)
        else:
            layers = await _bundle_layers(store, repository, fetched, errors, faults)
            if isinstance(layers, Discovery):
                return layers
            if isinstance(layers, str):
                bundle_err = layers
                errors.append(bundle_err)
            elif layers:
                return await _verify_bundle_layers(store, repository, digest, layers, checker, run, errors, faults)

        # Step 3: the legacy `.sig` tag.
        legacy = await _verify_legacy_tag(store, repository, digest, sig_tag, legacy_tag_task, checker, run, errors, faults)
        if legacy.verified:
            legacy.errors = errors.failures()
            legacy.faults = faults
            return legacy
        chain = "\n".join(e for e in (bundle_err, legacy.message) if e)
        return Discovery(False, chain, errors=list(errors), faults=faults)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()


async def _inline(fn: Callable[[], SignatureEvidence]) -> SignatureEvidence:
    return fn()


async def _quiet(awaitable: Awaitable[T]) -> tuple[T | None, BaseException | None]:
    """Await and hand back (value, exception) so a later stage's failure never leaks early."""
    try:
        return await awaitable, None
    except (ArtifactNotFound, RegistryFault) as exc:
        return None, exc
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug in the store is still reported per stage, not as a crash
        return None, RegistryFault(str(exc) or type(exc).__name__)


async def _get_manifest(store: ArtifactStore, repository: str, digest: str, faults: list[str]) -> Json:
    try:
        fetched = await store.manifest(repository, digest, MAX_MANIFEST)
    except ArtifactNotFound as exc:
        raise _Stage(f"failed to fetch: {exc or 'not found'}") from None
    except RegistryFault as exc:
        faults.append(str(exc))
        raise _Stage(f"failed to fetch: {exc}") from None
    return _json(fetched.data, "manifest")


async def _get_blob(store: ArtifactStore, repository: str, digest: str, limit: int, what: str, faults: list[str]) -> bytes:
    try:
        return await store.blob(repository, digest, limit)
    except ArtifactNotFound as exc:
        raise _Stage(f"failed to fetch {what}: {exc or 'not found'}") from None
    except RegistryFault as exc:
        faults.append(str(exc))
        raise _Stage(f"failed to fetch {what}: {exc}") from None


async def _bundle_from_manifest(store: ArtifactStore, repository: str, manifest_digest: str, faults: list[str]) -> bytes:
    try:
        manifest = await _get_manifest(store, repository, manifest_digest, faults)
    except _Stage as exc:
        raise _Stage(f"failed to fetch bundle manifest: {exc}") from None
    layers = manifest.get("layers") or []
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        count = len(layers) if isinstance(layers, list) else 0
        raise _Stage(f"expected exactly one layer in bundle manifest, got {count}")
    return await _get_blob(store, repository, str(layers[0].get("digest", "")), MAX_BUNDLE, "bundle layer", faults)


async def _verify_referrers(
    store: ArtifactStore, repository: str, digest: str, refs: list[Json], checker: SignatureChecker, run: RunCheck,
    errors: _Errors, faults: list[str],
) -> Discovery:
    # Fetch the referrers' bundles ahead (the budget bounds how many at once); check them in
    # the registry's order.
    fetches = [asyncio.ensure_future(_capture(_bundle_from_manifest(store, repository, str(r.get("digest", "")), faults))) for r in refs]
    last = None
    try:
        for ref, fut in zip(refs, fetches, strict=True):
            ref_digest = str(ref.get("digest", ""))
            bundle, exc = await fut
            if bundle is not None:
                try:
                    evidence = await run(functools.partial(checker.bundle, bundle, digest))
                except Exception as check_exc:
                    exc = check_exc
                else:
                    return Discovery(
                        True,
                        f"verified via bundle referrer with digest {ref_digest}",
                        "bundle-referrer",
                        ref_digest,
                        evidence,
                        errors.failures(),
                        faults,
                    )
            last = str(exc)
            errors.append(f"bundle referrer {ref_digest}: {exc}")
    finally:
        _cancel(fetches)
    return Discovery(False, f"no valid bundle referrer: {last}", errors=list(errors), faults=faults)


async def _bundle_layers(
    store: ArtifactStore, repository: str, fetched: Fetched | None, errors: _Errors, faults: list[str]
) -> list[Json] | str | Discovery:
    """The bundle layers under the bundle tag, a Talos stage error string, or a limit hit."""
    if fetched is None:
        return []
    try:
        doc = _json(fetched.data, "manifest")
    except _Stage as exc:
        return f"failed to fetch bundle manifest: {exc}"
    media_type = fetched.media_type or doc.get("mediaType", "")
    if media_type == OCI_MANIFEST:
        return _distinct([la for la in _descriptors(doc, "layers") if str(la.get("mediaType", "")).startswith(BUNDLE_MEDIA_PREFIX)])
    if media_type == OCI_INDEX:
        entries = [m for m in _descriptors(doc, "manifests") if m.get("mediaType") == OCI_MANIFEST]
        if len(entries) > MAX_ENTRIES:
            return _limited(len(entries), "bundle index entries")
        subs = await asyncio.gather(
            *(_capture(_get_manifest(store, repository, str(m.get("digest", "")), faults)) for m in entries)
        )
        layers: list[Json] = []
        for entry, (manifest, why) in zip(entries, subs, strict=True):
            if manifest is None:
                # Talos skips an index entry it cannot fetch; we keep the reason for the user.
                errors.append(f"bundle index entry {entry.get('digest')}: {why}")
                continue
            layers += [la for la in _descriptors(manifest, "layers") if str(la.get("mediaType", "")).startswith(BUNDLE_MEDIA_PREFIX)]
        return _distinct(layers)
    # Talos: any other media type under the bundle tag is not a bundle; move on silently.
    return []


async def _verify_bundle_layers(
    store: ArtifactStore, repository: str, digest: str, layers: list[Json], checker: SignatureChecker, run: RunCheck,
    errors: _Errors, faults: list[str],
) -> Discovery:
    layer, evidence, last = await _first_verified(
        layers,
        lambda la: _get_blob(store, repository, str(la.get("digest", "")), MAX_BUNDLE, "bundle layer", faults),
        lambda la, bundle: checker.bundle(bundle, digest),
        run, errors, "bundle layer",
    )
    if layer is not None:
        return Discovery(True, "verified via bundle", "bundle", str(layer.get("digest")), evidence, errors.failures(), faults)
    return Discovery(False, f"no valid bundle layer: {last}", errors=list(errors), faults=faults)


async def _verify_legacy_tag(
    store: ArtifactStore, repository: str, digest: str, sig_tag: str,
    task: asyncio.Future[tuple[Fetched | None, BaseException | None]],
    checker: SignatureChecker, run: RunCheck, errors: _Errors, faults: list[str],
) -> Discovery:
    fetched, exc = await task
    if fetched is None:
        if isinstance(exc, ArtifactNotFound):
            msg = "legacy signature tag not found"
            errors.miss(msg)
        else:
            msg = f"failed to resolve .sig tag {sig_tag}: {exc}"
            faults.append(msg)
            errors.append(msg)
        return Discovery(False, msg)
    try:
        doc = _json(fetched.data, "manifest")
    except _Stage as stage:
        msg = f"failed to fetch .sig manifest: {stage}"
        errors.append(msg)
        return Discovery(False, msg)
    media_type = fetched.media_type or doc.get("mediaType", "")
    if media_type != OCI_MANIFEST:
        msg = f"unexpected media type for .sig manifest: {media_type}"
        errors.append(msg)
        return Discovery(False, msg)
    layers = _descriptors(doc, "layers")
    if not layers:
        msg = "no legacy signatures found"
        errors.miss(msg)
        return Discovery(False, msg)
    layer, evidence, last = await _first_verified(
        layers,
        lambda la: _get_blob(store, repository, str(la.get("digest", "")), MAX_PAYLOAD, "signature layer", faults),
        lambda la, payload: checker.legacy(la, payload, digest),
        run, errors, "legacy signature layer",
    )
    if layer is not None:
        verified_set = bool(evidence is not None and evidence.bundle_verified)
        return Discovery(
            True,
            f"verified via legacy signature (bundle verified {'true' if verified_set else 'false'})",
            "legacy",
            fetched.digest,
            evidence,
        )
    return Discovery(False, f"no valid legacy signature: {last}")


async def _first_verified(
    layers: list[Json],
    fetch: Callable[[Json], Awaitable[bytes]],
    check: Callable[[Json, bytes], SignatureEvidence],
    run: RunCheck,
    errors: _Errors,
    kind: str,
) -> tuple[Json | None, SignatureEvidence | None, str | None]:
    """Fetch the layers ahead (the budget bounds how many at once) and check them in order:
    (layer, evidence, None) for the first that verifies, or (None, None, last error) with each
    failure recorded in `errors` as '<kind> <i> (<digest>): <why>' (Talos reports the last one;
    we keep them all)."""
    # Blobs are content-addressed: a layer listed again (one payload signed by several keys, or a
    # hostile index repeating one blob) is fetched once.
    by_digest: dict[str, asyncio.Future[tuple[bytes | None, BaseException | None]]] = {}
    for layer in layers:
        key = str(layer.get("digest", ""))
        if key not in by_digest:
            by_digest[key] = asyncio.ensure_future(_capture(fetch(layer)))
    fetches = [by_digest[str(layer.get("digest", ""))] for layer in layers]
    last = None
    try:
        for i, (layer, fut) in enumerate(zip(layers, fetches, strict=True)):
            data, exc = await fut
            if data is not None:
                try:
                    evidence = await run(functools.partial(check, layer, data))
                except Exception as check_exc:
                    exc = check_exc
                else:
                    return layer, evidence, None
            last = str(exc)
            errors.append(f"{kind} {i} ({layer.get('digest')}): {exc}")
    finally:
        _cancel(fetches)
    return None, None, last


async def _capture(awaitable: Awaitable[T]) -> tuple[T | None, BaseException | None]:
    try:
        return await awaitable, None
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return None, exc


def _cancel(futures: Sequence[asyncio.Future[Any]]) -> None:
    for fut in futures:
        if not fut.done():
            fut.cancel()
