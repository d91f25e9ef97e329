"""`RegistryClient`: the OCI distribution API as pullguard asks it, one object per run.

The client speaks the /v2/ API to registries, to their mirrors and to OCI image layouts on disk
(`oci:PATH`, served by an httpx transport so the code path is the same). It routes each request
over the endpoints for its registry (mirrors in order, then upstream), checks every manifest and
blob fetched by digest against it, and says in each error what was asked for and where. The HTTP
side (retries, redirects, bounds) is `transport`, authorization is `tokens`, the answers are
`models`.
"""

from __future__ import annotations

import os
import re
from typing import Any, Awaitable, Callable, Iterable, Mapping, TypeVar
from urllib.parse import urlencode

import httpx

from .. import jsontext
from ..endpoints import EndpointSpec
from . import referrers
from .credentials import CredentialStore
from .errors import (
    AuthenticationError,
    DigestMismatchError,
    LimitExceededError,
    NotFoundError,
    ProtocolError,
    RegistryError,
    ServerError,
    error_code,
    error_detail,
)
from .hosts import DOCKER_HUB, DOCKER_HUB_API, is_loopback, normalize_host
from .mirrors import MirrorConfig
from .models import (
    DIGEST,
    MANIFEST_MEDIA_TYPES,
    MAX_BLOB_SIZE,
    MAX_MANIFEST_SIZE,
    MAX_REFERRERS,
    MAX_REFERRERS_SIZE,
    MAX_REFERRERS_TOTAL,
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    Descriptor,
    Manifest,
    ManifestHead,
    Referrers,
    check_digest,
    compute_digest,
)
from .netenv import NetworkSettings
from .tokens import TokenFlow
from .transport import MAX_ERROR_BODY, OCI_ORIGIN, RETRY_STATUSES, Answer, Clock, Sleep, Target, Transport, url_for_message

_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

T = TypeVar("T")


def connection_pool_size(concurrency: int) -> int:
    """Connections per client for `concurrency` images verified at once: one each, at least 4.

    An image's three signature lookups start together, but they mostly wait on the same round
    trip; more connections than images only add work to httpcore's pool, whose bookkeeping
    grows with the square of its size (36% of the event loop's CPU at 32 connections)."""
    return max(4, int(concurrency))


class RegistryClient:
    """Async OCI distribution client. Use `async with RegistryClient(...) as client:`.

    mirrors: `{host: [endpoint, ...]}` or a `MirrorConfig` (mirror endpoints in order, then upstream
    unless skipFallback). insecure: HOST[:PORT] values allowed plain HTTP (loopback always is).
    credentials: a `CredentialStore`; by default loaded from the docker/podman files.
    timeout: seconds for each request, the waits between its retries included.
    transport: an httpx async transport (fault injection in tests); sleep and clock: the retry
    waits and the deadline's time (tests check them without waiting).
    network: proxies and CA certificates; by default read from the environment as cosign reads
    them (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, SSL_CERT_FILE, SSL_CERT_DIR; `pullguard.engine.registry.netenv`).
    """

    def __init__(
        self,
        *,
        mirrors: MirrorConfig | Mapping[str, Any] | None = None,
        insecure: Iterable[str] = (),
        timeout: float = 10.0,
        credentials: CredentialStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int | None = None,
        max_attempts: int = 3,
        max_retry_wait: float = 10.0,
        backoff: float = 0.2,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        user_agent: str = "pullguard/0.1",
        network: NetworkSettings | None = None,
    ) -> None:
        self.mirrors = MirrorConfig.coerce(mirrors)
        self.insecure = frozenset(normalize_host(h) for h in insecure)
        self.credentials = credentials if credentials is not None else CredentialStore.load()
        self.max_connections = max_connections or connection_pool_size(8)  # 8: verify's default concurrency
        # Hosts explicitly configured as http:// mirror endpoints: the user chose plain HTTP there.
        plain_http = set(self.insecure)
        for spec in self.mirrors.mirrors.values():
            plain_http.update(ep.host for ep in spec.endpoints if ep.scheme == "http")
        self.transport = Transport(
            timeout=timeout, max_connections=self.max_connections, max_attempts=max_attempts,
            max_retry_wait=max_retry_wait, backoff=backoff, user_agent=user_agent, network=network,
            plain_http_hosts=frozenset(plain_http), transport=transport, sleep=sleep, clock=clock,
        )
        self.tokens = TokenFlow(self.credentials, self.transport)

    def __repr__(self) -> str:
        return (
            f"RegistryClient(mirrors={sorted(self.mirrors.mirrors)!r}, insecure={sorted(self.insecure)!r}, "
            f"timeout={self.timeout!r}, credentials={self.credentials!r})"
        )

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()

    @property
    def timeout(self) -> float:
        return self.transport.timeout

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (redirect hops and retries included)."""
        return self.transport.request_count

    def proxy_for(self, url: str) -> str | None:
        """The proxy a request to `url` goes through (None: direct)."""
        return self.transport.proxy_for(url)

    # ---- the API --------------------------------------------------------------------------

    def endpoints(self, registry: str) -> list[str]:
        """Where requests for `registry` go, in order (evidence for the UI)."""
        return [t.label for t in self._targets(registry)]

    async def ping(self, registry: str) -> str:
        """`GET /v2/`; returns the label of the endpoint that answered (401 counts as alive)."""

        async def op(t: Target) -> str:
            ans = await self.transport.exchange(t, "GET", t.api_base + "/", {}, max_size=MAX_ERROR_BODY)
            self.tokens.learn(t, ans)
            if ans.status in (200, 401):
                return t.label
            raise self._status_error(t, "", "GET", ans)

        return await self._routed(registry, "", op)

    async def get_manifest(
        self,
        registry: str,
        repository: str,
        reference: str,
        *,
        accept: Iterable[str] = MANIFEST_MEDIA_TYPES,
        max_size: int = MAX_MANIFEST_SIZE,
    ) -> Manifest:
        """A manifest or index by tag or digest. By digest the bytes are checked against it; by
        tag the computed digest is compared with Docker-Content-Digest when the registry sends one."""
        _check_repository(repository)
        by_digest = reference.startswith(("sha256:", "sha512:"))
        if by_digest:
            check_digest(reference)
        elif not _TAG.match(reference):
            raise ValueError(f"invalid tag {reference!r}")
        headers = {"Accept": ", ".join(accept)}

        async def op(t: Target) -> Manifest:
            url = f"{t.api_base}/{repository}/manifests/{reference}"
            ans = await self._send(t, repository, "GET", url, headers, max_size=max_size, what="manifest")
            if ans.status != 200:
                raise self._status_error(t, repository, "GET", ans)
            digest = _verified_manifest_digest(t, repository, url, ans, reference if by_digest else None)
            return Manifest(ans.body, _media_type(t, url, ans), digest, t.label)

        return await self._routed(registry, repository, op, _subject(registry, repository, reference))

    async def head_manifest(self, registry: str, repository: str, reference: str) -> ManifestHead:
        """Resolve a tag (or check a digest) with HEAD; falls back to GET when the registry
        does not send Docker-Content-Digest."""
        _check_repository(repository)
        headers = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}

        async def op(t: Target) -> ManifestHead:
            url = f"{t.api_base}/{repository}/manifests/{reference}"
            ans = await self._send(t, repository, "HEAD", url, headers, max_size=0, what="manifest")
            if ans.status != 200:
                raise self._status_error(t, repository, "HEAD", ans)
            digest = ans.headers.get("docker-content-digest")
            if not digest or not DIGEST.match(digest):
                if t.is_mirror:
                    raise ProtocolError(f"HEAD {url_for_message(url)}: no Docker-Content-Digest header", endpoint=t.label)
                m = await self.get_manifest(t.registry, repository, reference)
                return ManifestHead(m.digest, m.media_type, len(m.data), m.endpoint)
            size = ans.headers.get("content-length")
            return ManifestHead(
                digest,
                ans.headers.get("content-type", "").split(";")[0].strip(),
                int(size) if size and size.isdigit() else None,
                t.label,
            )

        return await self._routed(registry, repository, op, _subject(registry, repository, reference))

    async def get_blob(self, registry: str, repository: str, digest: str, *, max_size: int = MAX_BLOB_SIZE) -> Blob:
        """A blob by digest, streamed with a size cap and hash-checked."""
        _check_repository(repository)
        check_digest(digest)

        async def op(t: Target) -> Blob:
            url = f"{t.api_base}/{repository}/blobs/{digest}"
            ans = await self._send(t, repository, "GET", url, {}, max_size=max_size, what="blob")
            if ans.status != 200:
                raise self._status_error(t, repository, "GET", ans)
            got = compute_digest(ans.body, digest.split(":", 1)[0])
            if got != digest:
                raise DigestMismatchError(
                    f"GET {url_for_message(url)}: blob content has digest {got}, not the requested {digest}",
                    host=t.label, repository=repository, endpoint=t.label,
                )
            return Blob(ans.body, digest, t.label)

        return await self._routed(registry, repository, op, f"{_subject(registry, repository)} blob {digest}")

    async def get_referrers(
        self, registry: str, repository: str, digest: str, *, artifact_type: str | None = None,
        all_pages: bool = False,
    ) -> Referrers:
        """OCI referrers API, entries filtered by `artifact_type`. An unsupported API (404, 400,
        405, 501) gives `supported=False`.

        The first page only, unless `all_pages`: Talos (containerd's FetchReferrers) and cosign
        (go-containerregistry's remote.Referrers) read one page and never follow `Link: <…>;
        rel="next"`, so a signature on a later page does not verify there and must not here.
        `pullguard tree` reads every page (see `referrers`) to show what is attached.

        All pages together stay within the per-image bounds: each page within MAX_REFERRERS_SIZE,
        MAX_REFERRERS_TOTAL read in all, at most MAX_REFERRER_PAGES pages. The pages stop once
        more than MAX_REFERRERS entries are in hand: that many already exceed the callers' limit,
        which they report."""
        _check_repository(repository)
        check_digest(digest)

        async def op(t: Target) -> Referrers:
            url = f"{t.api_base}/{repository}/referrers/{digest}"
            params = {"artifactType": artifact_type} if artifact_type else {}
            headers = {"Accept": OCI_INDEX}
            found: list[Descriptor] = []
            seen: set[str] = set()
            read = 0
            page = 1
            while True:
                limit = min(MAX_REFERRERS_SIZE, MAX_REFERRERS_TOTAL - read)
                if limit <= 0:
                    raise LimitExceededError(f"GET {url_for_message(url)} (referrers page {page}): the referrers pages "
                                             f"exceed the {MAX_REFERRERS_TOTAL >> 20} MiB per-image limit ({read} bytes "
                                             f"in {page - 1} pages)", endpoint=t.label)
                try:
                    if page == 1:
                        ans = await self._send(t, repository, "GET", url, headers, params=params, max_size=limit,
                                               what="referrers index")
                    else:  # the link is the registry's whole URL for the page: sent as it is
                        ans = await self.tokens.send(t, repository, "GET", url, headers, max_size=limit,
                                                     what="referrers index")
                except LimitExceededError as exc:
                    if limit < MAX_REFERRERS_SIZE:
                        exc.message = (f"{exc.message}: the referrers pages exceed the "
                                       f"{MAX_REFERRERS_TOTAL >> 20} MiB per-image limit ({read} bytes in "
                                       f"{page - 1} pages before this one)")
                    raise
                if page == 1 and ans.status in (404, 400, 405, 501):
                    return Referrers(False, (), t.label)
                if ans.status != 200:
                    error = self._status_error(t, repository, "GET", ans)
                    if page > 1 and isinstance(error, NotFoundError):
                        # A page the registry linked to is missing: a fault, never "no referrers".
                        error = ProtocolError(f"{error.message} (referrers page {page})", endpoint=t.label)
                    raise error
                read += len(ans.body)
                seen.update((url, ans.url) if page > 1 else (ans.url,))
                descs, link = referrers.read_page(t, ans, page, digest, artifact_type, follow=all_pages)
                found += descs
                if link is None or len(found) > MAX_REFERRERS:
                    return Referrers(True, tuple(found), t.label)
                url = referrers.next_page_url(t, ans, link, page, seen)
                page += 1

        return await self._routed(registry, repository, op, f"{_subject(registry, repository)} referrers of {digest}")

    # ---- routing ----------------------------------------------------------------------------

    def _targets(self, registry: str) -> list[Target]:
        registry = normalize_host(registry)
        targets: list[Target] = []
        spec = self.mirrors.lookup(registry)
        if spec:
            targets.extend(_mirror_target(registry, ep) for ep in spec.endpoints)
        if not spec or not spec.skip_fallback or not targets:
            api_host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
            scheme = "http" if (is_loopback(api_host) or api_host in self.insecure) else "https"
            upstream = f"{scheme}://{api_host}"
            targets.append(Target(upstream, upstream + "/v2", registry, registry, False))
        return targets

    async def _routed(
        self, registry: str, repository: str, op: Callable[[Target], Awaitable[T]], subject: str = ""
    ) -> T:
        """Try `op` on each endpoint for `registry` in order; raise the last failure.

        A failure that a mirror gave (or that came after mirrors were tried) names what was asked
        for, as the image's registry knows it (`ghcr.io/org/app:v1`), ahead of the endpoint's own
        answer, since the mirror's URL or `oci:` path does not say which registry's image it was:
        `ghcr.io/org/app:v1 via mirror oci:/layout: HEAD oci:/layout/v2/org/app/manifests/v1: 404`.
        """
        failures: list[tuple[str, RegistryError]] = []
        targets = self._targets(registry)
        for target in targets:
            try:
                return await op(target)
            except RegistryError as exc:
                if exc.endpoint is None:
                    exc.endpoint = target.label
                if target.oci is not None:
                    # Name the layout, not the placeholder URL its transport is reached through.
                    exc.message = exc.message.replace(OCI_ORIGIN, target.label)
                failures.append((target.label, exc))
        last_label, last = failures[-1]
        if len(failures) > 1:
            last.attempts = [(label, str(e)) for label, e in failures[:-1]]
            tried = "; ".join(f"{label}: {e}" for label, e in failures[:-1])
            last.message = f"{last.message} (mirrors tried first: {tried})"
            # Not found everywhere is still "not found"; any other mix keeps the last error's class.
        subject = subject or normalize_host(registry)
        if targets[-1].is_mirror:  # skipFallback: a mirror gave the last word
            last.message = f"{subject} via mirror {last_label}: {last.message}"
        elif len(failures) > 1:
            last.message = f"{subject}: {last.message}"
        raise last

    async def _send(
        self, t: Target, repository: str, method: str, url: str, headers: dict[str, str], *,
        params: dict[str, str] | None = None, max_size: int, what: str,
    ) -> Answer:
        params = dict(params or {})
        if t.is_mirror:
            # As containerd does: tell a mirror which registry the image belongs to.
            params["ns"] = t.registry
        full = url + ("?" + urlencode(params) if params else "")
        return await self.tokens.send(t, repository, method, full, headers, max_size=max_size, what=what)

    # ---- answers ------------------------------------------------------------------------------

    def _status_error(self, t: Target, repository: str, method: str, ans: Answer) -> RegistryError:
        code = error_code(ans.body)
        text = f"{method} {url_for_message(ans.url)}: {ans.status}" + (f" {code}" if code else "")
        if t.oci is not None and ans.status >= 500:
            detail = error_detail(ans.body)  # a broken layout says what is wrong with it (not to HEAD)
            if not detail and not os.path.isfile(os.path.join(t.oci, "index.json")):
                detail = (f"{t.oci} not found or not an OCI image layout (no index.json); a relative oci: path is "
                          "read from the policy file's folder")
            text += f": {detail}"
        kw: dict[str, Any] = dict(host=t.label, repository=repository, status=ans.status, code=code, endpoint=t.label)
        if ans.status == 404:
            return NotFoundError(text, **kw)
        if ans.status in (401, 403):
            try:
                cred = self.tokens.credential(t)
            except RegistryError as exc:  # the helper that failed is the reason
                return AuthenticationError(f"{text} ({exc})", **kw)
            return AuthenticationError(text + self.tokens.refusal_hint(t, cred), **kw)
        if ans.status in RETRY_STATUSES and ans.attempts > 1:
            text += f" (after {ans.attempts} attempts)"
        if ans.gave_up:
            text += f" ({ans.gave_up})"
        return ServerError(text, **kw)


def _mirror_target(registry: str, ep: EndpointSpec) -> Target:
    if ep.is_oci:
        return Target(ep.url, OCI_ORIGIN + "/v2", "", registry, True, oci=str(ep.oci_path))
    return Target(ep.url, ep.api_base, ep.host, registry, True)


def _check_repository(repository: str) -> None:
    if not _REPOSITORY.match(repository):
        raise ValueError(f"invalid repository name {repository!r}")


def _media_type(t: Target, url: str, ans: Answer) -> str:
    """The manifest's own `mediaType`, else the Content-Type the registry sent, else a guess."""
    header = str(ans.headers.get("content-type", "")).split(";")[0].strip()
    try:
        doc = jsontext.loads(ans.body)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(f"GET {url_for_message(url)}: manifest is not valid JSON", endpoint=t.label) from None
    field_type = doc.get("mediaType") if isinstance(doc, dict) else None
    if isinstance(field_type, str) and field_type:
        return field_type
    if header in MANIFEST_MEDIA_TYPES:
        return header
    if isinstance(doc, dict) and "manifests" in doc:
        return OCI_INDEX
    return header or OCI_MANIFEST


def _verified_manifest_digest(t: Target, repository: str, url: str, ans: Answer, requested: str | None) -> str:
    """The manifest's digest, checked against the one asked for or, by tag, Docker-Content-Digest."""
    header = ans.headers.get("docker-content-digest")
    expected = requested or (header if header and DIGEST.match(header) else None)
    algorithm = expected.split(":", 1)[0] if expected else "sha256"
    got = compute_digest(ans.body, algorithm)
    if expected and got != expected:
        source = "the requested digest" if requested else "its Docker-Content-Digest header"
        raise DigestMismatchError(
            f"GET {url_for_message(url)}: manifest content has digest {got}, not {expected} ({source})",
            host=t.label, repository=repository, endpoint=t.label,
        )
    return got


def _subject(registry: str, repository: str, reference: str = "") -> str:
    """`ghcr.io/org/app:v1`, `ghcr.io/org/app@sha256:…`: what was asked for, as the image's
    registry names it (Docker Hub as `docker.io`, the way people write it)."""
    host = normalize_host(registry)
    name = f"{'docker.io' if host == DOCKER_HUB else host}/{repository}" if repository else host
    if not reference:
        return name
    return name + ("@" if reference.startswith(("sha256:", "sha512:")) else ":") + reference
