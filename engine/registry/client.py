"""An async OCI distribution client: one object owns the connection pools, timeouts and auth.

`RegistryClient` speaks the /v2/ API to registries, to their mirrors and to OCI image layouts on
disk (`oci:PATH`, served by an httpx transport so the code path is the same). Every manifest and
blob fetched by digest is hashed and checked; sizes are capped as Talos caps them. Redirects are
followed here, not by httpx, so credentials never travel to another host.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Awaitable, Callable, Iterable, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from .auth import DOCKER_HUB, Challenge, Credential, CredentialStore, normalize_host, parse_challenge, repository_scope
from .errors import (
    AuthenticationError,
    DigestMismatchError,
    InsecureRegistryError,
    LimitExceededError,
    NotFoundError,
    ProtocolError,
    RegistryError,
    RegistryTimeoutError,
    ServerError,
    TransportError,
)
from .mirrors import Endpoint, MirrorConfig
from .netenv import NetworkSettings, redact

# Media types.
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)
INDEX_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)

# Limits, as Talos (and cosign underneath it) sets them.
MAX_MANIFEST_SIZE = 128 * 1024
MAX_BLOB_SIZE = 1024 * 1024
MAX_LAYERS = 100
# A referrers answer is an index that may list many artifacts.
MAX_REFERRERS_SIZE = 1024 * 1024
_MAX_ERROR_BODY = 16 * 1024

# As go-containerregistry (what Talos uses) retries: 408, 429, 500, 502, 503, 504.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_DOCKER_HUB_API = "registry-1.docker.io"
_OCI_ORIGIN = "http://oci-layout.invalid"

_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

T = TypeVar("T")


def connection_pool_size(concurrency: int) -> int:
    """Connections per client for `concurrency` images verified at once: one each, at least 4.

    An image's three signature lookups start together, but they mostly wait on the same round
    trip; more connections than images only add work to httpcore's pool, whose bookkeeping
    grows with the square of its size (36% of the event loop's CPU at 32 connections)."""
    return max(4, int(concurrency))


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object, *, where: str = "descriptor") -> "Descriptor":
        if not isinstance(obj, dict):
            raise ProtocolError(f"{where}: not a JSON object")
        media_type, digest, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise ProtocolError(f"{where}: invalid digest {digest!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ProtocolError(f"{where}: invalid size {size!r}")
        annotations = obj.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise ProtocolError(f"{where}: annotations must be an object")
        artifact_type = obj.get("artifactType")
        return cls(
            media_type if isinstance(media_type, str) else "",
            digest,
            size,
            artifact_type if isinstance(artifact_type, str) else None,
            {str(k): str(v) for k, v in annotations.items()},
        )

    def to_json(self) -> dict:
        out: dict = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class Manifest:
    data: bytes = field(repr=False)
    media_type: str
    digest: str
    # Which endpoint served it: an upstream origin, a mirror URL or `oci:PATH` (evidence for the UI).
    endpoint: str

    def json(self) -> dict:
        try:
            doc = json.loads(self.data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"manifest {self.digest} from {self.endpoint} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ProtocolError(f"manifest {self.digest} from {self.endpoint} is not a JSON object")
        return doc

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    def descriptors(self, max_count: int = MAX_LAYERS) -> list[Descriptor]:
        """An image manifest's layers or an index's manifests, at most `max_count` (Talos: 100)."""
        key = "manifests" if self.is_index else "layers"
        items = self.json().get(key) or []
        if not isinstance(items, list):
            raise ProtocolError(f"manifest {self.digest}: `{key}` is not a list")
        if len(items) > max_count:
            raise LimitExceededError(
                f"manifest {self.digest} from {self.endpoint} has {len(items)} {key}, more than the limit of {max_count}"
            )
        return [Descriptor.from_json(d, where=f"manifest {self.digest} {key}[{i}]") for i, d in enumerate(items)]

    def config(self) -> Descriptor | None:
        cfg = self.json().get("config")
        return Descriptor.from_json(cfg, where=f"manifest {self.digest} config") if cfg is not None else None

    def subject(self) -> Descriptor | None:
        sub = self.json().get("subject")
        return Descriptor.from_json(sub, where=f"manifest {self.digest} subject") if sub is not None else None

    def annotations(self) -> dict[str, str]:
        ann = self.json().get("annotations") or {}
        return {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {}

    def artifact_type(self) -> str | None:
        doc = self.json()
        at = doc.get("artifactType")
        if isinstance(at, str):
            return at
        cfg = doc.get("config")
        return cfg.get("mediaType") if isinstance(cfg, dict) and isinstance(cfg.get("mediaType"), str) else None


@dataclass(frozen=True)
class ManifestHead:
    digest: str
    media_type: str
    size: int | None
    endpoint: str


@dataclass(frozen=True)
class Blob:
    data: bytes = field(repr=False)
    digest: str
    endpoint: str


@dataclass(frozen=True)
class Referrers:
    """The referrers API answer. `supported=False`: the registry has no referrers API (404 or
    similar), so the caller falls back to the `sha256-<hex>` tag."""

    supported: bool
    descriptors: tuple[Descriptor, ...]
    endpoint: str


@dataclass(frozen=True)
class _Target:
    """One place to send a request: a mirror endpoint, an OCI layout or the upstream registry."""

    label: str  # shown as evidence: `https://ghcr.io`, `http://mirror:5000`, `oci:/path`
    api_base: str  # no trailing slash; `<api_base>/<name>/manifests/<ref>`
    cred_host: str  # whose credentials apply
    registry: str  # the registry the image belongs to (the `ns` a mirror is told)
    is_mirror: bool
    oci: str | None = None  # layout path for oci: targets


@dataclass
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str  # final URL, after redirects


def is_loopback(host: str) -> bool:
    """`localhost`, 127.0.0.0/8, ::1 (host with or without port, IPv6 in brackets)."""
    name = httpx.URL(f"http://{host}").host if host else ""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:" + hashlib.new(algorithm, data).hexdigest()


def _check_digest(digest: str) -> None:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ValueError(f"invalid digest {digest!r}: expected sha256:<64 hex>")


def _redact_url(url: str) -> str:
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if ":" in (parts.hostname or "") and parts.hostname:
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{host}{parts.path}"


def _error_code(body: bytes) -> str | None:
    try:
        doc = json.loads(body)
        errs = doc.get("errors")
        if isinstance(errs, list) and errs and isinstance(errs[0], dict):
            code = errs[0].get("code")
            return str(code) if code else None
    except (ValueError, AttributeError, UnicodeDecodeError):
        pass
    return None


def _error_message(body: bytes) -> str:
    try:
        return str(json.loads(body)["errors"][0].get("message", ""))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, UnicodeDecodeError):
        return ""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class RegistryClient:
    """Async OCI distribution client. Use `async with RegistryClient(...) as client:`.

    mirrors: `{host: [endpoint, ...]}` or a `MirrorConfig` (mirror endpoints in order, then upstream
    unless skipFallback). insecure: HOST[:PORT] values allowed plain HTTP (loopback always is).
    credentials: a `CredentialStore`; by default loaded from the docker/podman files.
    transport: an httpx async transport (fault injection in tests).
    network: proxies and CA certificates; by default read from the environment as cosign reads
    them (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, SSL_CERT_FILE, SSL_CERT_DIR; `pullguard.engine.registry.netenv`).
    httpx's own `trust_env` stays off: it would also send credentials from ~/.netrc.
    """

    def __init__(
        self,
        *,
        mirrors: MirrorConfig | dict | None = None,
        insecure: Iterable[str] = (),
        timeout: float = 10.0,
        credentials: CredentialStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int | None = None,
        max_attempts: int = 3,
        max_retry_wait: float = 10.0,
        backoff: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        user_agent: str = "pullguard/0.1",
        network: NetworkSettings | None = None,
    ) -> None:
        self.mirrors = MirrorConfig.coerce(mirrors)
        self.insecure = frozenset(normalize_host(h) for h in insecure)
        self.timeout = float(timeout)
        self.credentials = credentials if credentials is not None else CredentialStore.load()
        self.max_attempts = max(1, int(max_attempts))
        self.max_retry_wait = float(max_retry_wait)
        self.backoff = float(backoff)
        self._sleep = sleep or asyncio.sleep
        self.max_connections = max_connections or connection_pool_size(8)  # 8: verify's default concurrency
        pool = self.max_connections
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        self.network = network if network is not None else NetworkSettings.from_environment()
        # A given transport (tests, fault injection) is used as is: no proxy, no TLS settings.
        self._direct_only = transport is not None
        self._client_options = dict(
            limits=limits,
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            verify=True if self._direct_only else self.network.ssl_context(),
            trust_env=False,
            headers={"User-Agent": user_agent},
        )
        self._http = httpx.AsyncClient(transport=transport, **self._client_options)
        # One client per proxy URL (HTTPS_PROXY and HTTP_PROXY may differ), made when first used.
        self._proxy_clients: dict[str, httpx.AsyncClient] = {}
        self._oci_clients: dict[str, httpx.AsyncClient] = {}
        # Hosts explicitly configured as http:// mirror endpoints: the user chose plain HTTP there.
        self._http_ok = set(self.insecure)
        for spec in self.mirrors.mirrors.values():
            for ep in spec.endpoints:
                if not ep.is_oci and ep.url.startswith("http://"):
                    self._http_ok.add(ep.host)
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._token_locks: dict[tuple[str, str], asyncio.Lock] = {}
        # Request counting, for `HTTP requests per verified image`.
        self.request_count = 0
        self.requests_by_host: Counter[str] = Counter()

    def __repr__(self) -> str:
        return (
            f"RegistryClient(mirrors={sorted(self.mirrors.mirrors)!r}, insecure={sorted(self.insecure)!r}, "
            f"timeout={self.timeout!r}, credentials={self.credentials!r})"
        )

    async def __aenter__(self) -> "RegistryClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        for client in [*self._oci_clients.values(), *self._proxy_clients.values()]:
            await client.aclose()
        self._oci_clients.clear()
        self._proxy_clients.clear()

    # ---- public API -------------------------------------------------------------------------

    def endpoints(self, registry: str) -> list[str]:
        """Where requests for `registry` go, in order (evidence for the UI)."""
        return [t.label for t in self._targets(registry)]

    async def ping(self, registry: str) -> str:
        """`GET /v2/`; returns the label of the endpoint that answered (401 counts as alive)."""

        async def op(t: _Target) -> str:
            ans = await self._exchange(t, "GET", t.api_base + "/", {}, max_size=_MAX_ERROR_BODY)
            challenge = parse_challenge(ans.headers.get("www-authenticate", "")) if ans.status == 401 else None
            if challenge is not None:
                self._challenges[_origin(t.api_base)] = challenge
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
        self._check_repo(repository)
        by_digest = reference.startswith(("sha256:", "sha512:"))
        if by_digest:
            _check_digest(reference)
        elif not _TAG.match(reference):
            raise ValueError(f"invalid tag {reference!r}")
        headers = {"Accept": ", ".join(accept)}

        async def op(t: _Target) -> Manifest:
            url = f"{t.api_base}/{repository}/manifests/{reference}"
            ans = await self._authed(t, repository, "GET", url, headers, max_size=max_size, what="manifest")
            if ans.status != 200:
                raise self._status_error(t, repository, "GET", ans)
            digest = self._verify_manifest_digest(t, repository, url, ans, reference if by_digest else None)
            return Manifest(ans.body, self._media_type(t, url, ans), digest, t.label)

        return await self._routed(registry, repository, op, _subject(registry, repository, reference))

    async def head_manifest(self, registry: str, repository: str, reference: str) -> ManifestHead:
        """Resolve a tag (or check a digest) with HEAD; falls back to GET when the registry
        does not send Docker-Content-Digest."""
        self._check_repo(repository)
        headers = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}

        async def op(t: _Target) -> ManifestHead:
            url = f"{t.api_base}/{repository}/manifests/{reference}"
            ans = await self._authed(t, repository, "HEAD", url, headers, max_size=0, what="manifest")
            if ans.status != 200:
                raise self._status_error(t, repository, "HEAD", ans)
            digest = ans.headers.get("docker-content-digest")
            if not digest or not _DIGEST.match(digest):
                m = await self.get_manifest(t.registry, repository, reference) if not t.is_mirror else None
                if m is None:
                    raise ProtocolError(
                        f"HEAD {_redact_url(url)}: no Docker-Content-Digest header", endpoint=t.label
                    )
                return ManifestHead(m.digest, m.media_type, len(m.data), m.endpoint)
            size = ans.headers.get("content-length")
            return ManifestHead(
                digest,
                ans.headers.get("content-type", "").split(";")[0].strip(),
                int(size) if size and size.isdigit() else None,
                t.label,
            )

        return await self._routed(registry, repository, op, _subject(registry, repository, reference))

    async def get_blob(
        self, registry: str, repository: str, digest: str, *, max_size: int = MAX_BLOB_SIZE
    ) -> Blob:
        """A blob by digest, streamed with a size cap and hash-checked."""
        self._check_repo(repository)
        _check_digest(digest)

        async def op(t: _Target) -> Blob:
            url = f"{t.api_base}/{repository}/blobs/{digest}"
            ans = await self._authed(t, repository, "GET", url, {}, max_size=max_size, what="blob")
            if ans.status != 200:
                raise self._status_error(t, repository, "GET", ans)
            got = compute_digest(ans.body, digest.split(":", 1)[0])
            if got != digest:
                raise DigestMismatchError(
                    f"GET {_redact_url(url)}: blob content has digest {got}, not the requested {digest}",
                    host=t.label, repository=repository, endpoint=t.label,
                )
            return Blob(ans.body, digest, t.label)

        return await self._routed(registry, repository, op, f"{_subject(registry, repository)} blob {digest}")

    async def get_referrers(
        self, registry: str, repository: str, digest: str, *, artifact_type: str | None = None
    ) -> Referrers:
        """OCI referrers API. An unsupported API (404, 400, 405, 501) gives `supported=False`."""
        self._check_repo(repository)
        _check_digest(digest)

        async def op(t: _Target) -> Referrers:
            url = f"{t.api_base}/{repository}/referrers/{digest}"
            params = {"artifactType": artifact_type} if artifact_type else {}
            ans = await self._authed(
                t, repository, "GET", url, {"Accept": OCI_INDEX}, params=params,
                max_size=MAX_REFERRERS_SIZE, what="referrers index",
            )
            if ans.status in (404, 400, 405, 501):
                return Referrers(False, (), t.label)
            if ans.status != 200:
                raise self._status_error(t, repository, "GET", ans)
            try:
                doc = json.loads(ans.body)
            except (ValueError, UnicodeDecodeError):
                raise ProtocolError(f"GET {_redact_url(url)}: referrers answer is not JSON", endpoint=t.label) from None
            items = doc.get("manifests") if isinstance(doc, dict) else None
            if not isinstance(items, list):
                raise ProtocolError(f"GET {_redact_url(url)}: referrers answer is not an image index", endpoint=t.label)
            descs = [Descriptor.from_json(d, where=f"referrers of {digest}[{i}]") for i, d in enumerate(items)]
            if artifact_type:
                # A registry that ignores the filter says so by not sending OCI-Filters-Applied.
                descs = [d for d in descs if d.artifact_type == artifact_type]
            return Referrers(True, tuple(descs), t.label)

        return await self._routed(registry, repository, op, f"{_subject(registry, repository)} referrers of {digest}")

    # ---- routing ----------------------------------------------------------------------------

    def _targets(self, registry: str) -> list[_Target]:
        registry = normalize_host(registry)
        targets: list[_Target] = []
        spec = self.mirrors.lookup(registry)
        if spec:
            for ep in spec.endpoints:
                targets.append(self._mirror_target(registry, ep))
        if not spec or not spec.skip_fallback or not targets:
            api_host = _DOCKER_HUB_API if registry == DOCKER_HUB else registry
            scheme = "http" if (is_loopback(api_host) or api_host in self.insecure) else "https"
            origin = f"{scheme}://{api_host}"
            targets.append(_Target(origin, origin + "/v2", registry, registry, False))
        return targets

    def _mirror_target(self, registry: str, ep: Endpoint) -> _Target:
        if ep.is_oci:
            return _Target(ep.url, _OCI_ORIGIN + "/v2", "", registry, True, oci=str(ep.oci_path))
        return _Target(ep.url, ep.api_base, ep.host, registry, True)

    async def _routed(
        self, registry: str, repository: str, op: Callable[[_Target], Awaitable[T]], subject: str = ""
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
                    exc.message = exc.message.replace(_OCI_ORIGIN, target.label)
                    exc.args = (exc.message,)
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
        last.args = (last.message,)
        raise last

    # ---- HTTP with auth, retries, redirects -------------------------------------------------

    def proxy_for(self, url: str) -> str | None:
        """The proxy a request to `url` goes through (None: direct)."""
        return None if self._direct_only else self.network.proxy_for(url)

    def _client_for(self, t: _Target, url: str = "") -> httpx.AsyncClient:
        if t.oci is None:
            proxy = self.proxy_for(url) if url else None
            if proxy is None:
                return self._http
            client = self._proxy_clients.get(proxy)
            if client is None:
                client = self._proxy_clients[proxy] = httpx.AsyncClient(proxy=proxy, **self._client_options)
            return client
        client = self._oci_clients.get(t.oci)
        if client is None:
            from .ocilayout import OCILayoutTransport

            client = httpx.AsyncClient(transport=OCILayoutTransport(t.oci), follow_redirects=False)
            self._oci_clients[t.oci] = client
        return client

    def _credential(self, t: _Target) -> Credential | None:
        return self.credentials.get(t.cred_host) if t.cred_host else None

    async def _authed(
        self, t: _Target, repository: str, method: str, url: str, headers: dict[str, str], *,
        params: dict[str, str] | None = None, max_size: int, what: str,
    ) -> _Answer:
        params = dict(params or {})
        if t.is_mirror:
            # As containerd does: tell a mirror which registry the image belongs to.
            params["ns"] = t.registry
        full = url + ("?" + urlencode(params) if params else "")
        auth = await self._auth_header(t, repository)
        ans = await self._exchange(t, method, full, {**headers, **auth}, max_size=max_size, what=what)
        if ans.status == 401:
            challenge = parse_challenge(ans.headers.get("www-authenticate", ""))
            if challenge is not None:
                self._challenges[_origin(t.api_base)] = challenge
                sent = auth.get("Authorization", "")
                if challenge.scheme == "basic" and sent.startswith("Basic "):
                    return ans  # our credentials were refused; asking again would loop
                auth = await self._auth_header(t, repository, rejected=sent)
                if auth and auth.get("Authorization") != sent:
                    ans = await self._exchange(t, method, full, {**headers, **auth}, max_size=max_size, what=what)
        return ans

    async def _auth_header(self, t: _Target, repository: str, rejected: str = "") -> dict[str, str]:
        """The Authorization header for a request to `t`, from the challenge learnt for its origin
        (so after the first 401 a new repository costs one token fetch, not an extra round trip)."""
        known = self._challenges.get(_origin(t.api_base))
        if known is None:
            return {}
        cred = self._credential(t)
        if known.scheme == "basic":
            return {"Authorization": cred.basic_header()} if cred else {}
        if known.scheme == "bearer":
            token = await self._token(t, repository, known, cred, rejected.removeprefix("Bearer "))
            return {"Authorization": f"Bearer {token}"} if token else {}
        return {}

    async def _token(
        self, t: _Target, repository: str, challenge: Challenge, cred: Credential | None, rejected: str
    ) -> str | None:
        origin = _origin(t.api_base)
        scope = repository_scope(repository) if repository else ""
        key = (origin, scope)
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            # Concurrent requests share one token; a token the registry just refused is replaced.
            if cached and cached[1] > time.monotonic() and cached[0] != rejected:
                return cached[0]
            realm = challenge.params.get("realm")
            if not realm:
                raise AuthenticationError(
                    f"registry {t.label} asked for a bearer token without a realm", host=t.label, repository=repository
                )
            params = {}
            if challenge.params.get("service"):
                params["service"] = challenge.params["service"]
            if scope:
                params["scope"] = scope
            url = realm + ("&" if "?" in realm else "?") + urlencode(params) if params else realm
            headers = {"Authorization": cred.basic_header()} if cred else {}
            ans = await self._exchange(t, "GET", url, headers, max_size=64 * 1024, what="token", token_realm=True)
            where = f"token service {_redact_url(realm)} for {t.label}/{repository}"
            if ans.status in (401, 403):
                hint = "" if cred else f" (no credentials for {t.cred_host or t.label} in the docker config)"
                raise AuthenticationError(
                    f"GET {_redact_url(realm)}: {ans.status} {_error_code(ans.body) or 'UNAUTHORIZED'}: "
                    f"{where} refused {'the credentials' if cred else 'anonymous access'}{hint}",
                    host=t.label, repository=repository, status=ans.status, code=_error_code(ans.body),
                )
            if ans.status != 200:
                raise AuthenticationError(
                    f"GET {_redact_url(realm)}: {ans.status}: {where} failed",
                    host=t.label, repository=repository, status=ans.status,
                )
            try:
                doc = json.loads(ans.body)
                token = doc.get("token") or doc.get("access_token")
                expires_in = doc.get("expires_in") or 60
            except (ValueError, AttributeError, UnicodeDecodeError):
                token, expires_in = None, 0
            if not isinstance(token, str) or not token:
                raise AuthenticationError(f"{where}: answer has no token", host=t.label, repository=repository)
            try:
                ttl = max(10.0, float(expires_in) - 5.0)
            except (TypeError, ValueError):
                ttl = 55.0
            self._tokens[key] = (token, time.monotonic() + ttl)
            return token

    def _check_scheme(self, t: _Target, url: str) -> None:
        parts = urlsplit(url)
        if t.oci is not None or parts.scheme == "https":
            return
        host = parts.netloc.lower()
        if parts.scheme == "http" and (is_loopback(host) or normalize_host(host) in self._http_ok):
            return
        raise InsecureRegistryError(
            f"refusing plain HTTP to {host}: only loopback registries and --insecure-registry hosts may use http://",
            host=host, endpoint=t.label,
        )

    async def _exchange(
        self, t: _Target, method: str, url: str, headers: dict[str, str], *, max_size: int,
        what: str = "response", token_realm: bool = False,
    ) -> _Answer:
        """One logical request: retries on 429/502/503/504 and connection resets (honouring
        Retry-After, capped), redirects followed without credentials to another origin."""
        attempt = 0
        while True:
            attempt += 1
            try:
                ans = await self._attempt(t, method, url, headers, max_size=max_size, what=what)
            except _Retryable as exc:
                if attempt >= self.max_attempts:
                    raise TransportError(
                        f"{method} {_redact_url(url)}: connection to {urlsplit(url).netloc} failed "
                        f"after {attempt} attempts: {exc.reason}",
                        host=urlsplit(url).netloc, endpoint=t.label,
                    ) from None
                await self._sleep(self._backoff_wait(attempt, None))
                continue
            if ans.status in RETRY_STATUSES and attempt < self.max_attempts and t.oci is None:
                await self._sleep(self._backoff_wait(attempt, _retry_after(ans.headers.get("retry-after"))))
                continue
            if ans.status in RETRY_STATUSES and attempt > 1:
                ans.headers = httpx.Headers({**ans.headers, "x-pullguard-attempts": str(attempt)})
            return ans

    def _backoff_wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_wait)
        base = self.backoff * (2 ** (attempt - 1))
        return min(base + random.uniform(0, base / 2), self.max_retry_wait)

    async def _attempt(
        self, t: _Target, method: str, url: str, headers: dict[str, str], *, max_size: int, what: str
    ) -> _Answer:
        origin = _origin(url)
        headers = dict(headers)
        try:
            async with asyncio.timeout(self.timeout):
                for _ in range(_MAX_REDIRECTS + 1):
                    self._check_scheme(t, url)
                    client = self._client_for(t, url)  # per hop: a redirect may leave the proxy's scope
                    request = client.build_request(method, url, headers=headers)
                    self.request_count += 1
                    self.requests_by_host[urlsplit(url).netloc if t.oci is None else t.label] += 1
                    response = await client.send(request, stream=True)
                    try:
                        if response.status_code in _REDIRECTS and "location" in response.headers:
                            nxt = urljoin(url, response.headers["location"])
                            if _origin(nxt) != origin:
                                # Storage redirects (S3, CDN) must never see registry credentials.
                                headers.pop("Authorization", None)
                                origin = _origin(nxt)
                            if response.status_code == 303:
                                method = "GET" if method != "HEAD" else "HEAD"
                            url = nxt
                            continue
                        limit = max_size if response.status_code == 200 else _MAX_ERROR_BODY
                        if method == "HEAD":
                            # No body, but reading to its end is what returns the connection to the
                            # pool; closing early drops it (one new connection, one TLS handshake
                            # per resolved tag).
                            await response.aread()
                            body = b""
                        else:
                            body = await self._read_capped(t, method, url, response, limit, what)
                        return _Answer(response.status_code, response.headers, body, url)
                    finally:
                        await response.aclose()
                raise ProtocolError(f"{method} {_redact_url(url)}: more than {_MAX_REDIRECTS} redirects", endpoint=t.label)
        except TimeoutError:
            raise RegistryTimeoutError(
                f"{method} {_redact_url(url)}: registry {urlsplit(url).netloc or t.label} did not answer "
                f"within {self.timeout:g}s", host=urlsplit(url).netloc, endpoint=t.label,
            ) from None
        except httpx.TimeoutException:
            raise RegistryTimeoutError(
                f"{method} {_redact_url(url)}: registry {urlsplit(url).netloc} did not answer within {self.timeout:g}s",
                host=urlsplit(url).netloc, endpoint=t.label,
            ) from None
        except (httpx.ConnectError, httpx.ProxyError) as exc:
            proxy = self.proxy_for(url) if t.oci is None else None
            via = f" through proxy {redact(proxy)}" if proxy else ""
            raise TransportError(
                f"cannot connect to registry {urlsplit(url).netloc}{via}: {_connect_reason(exc)}",
                host=urlsplit(url).netloc, endpoint=t.label,
            ) from None
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            raise _Retryable(_connect_reason(exc)) from None
        except httpx.UnsupportedProtocol as exc:
            raise ProtocolError(f"{method} {_redact_url(url)}: {exc}", endpoint=t.label) from None
        except httpx.HTTPError as exc:
            raise TransportError(
                f"{method} {_redact_url(url)}: {type(exc).__name__}: {_connect_reason(exc)}",
                host=urlsplit(url).netloc, endpoint=t.label,
            ) from None

    async def _read_capped(
        self, t: _Target, method: str, url: str, response: httpx.Response, limit: int, what: str
    ) -> bytes:
        declared = response.headers.get("content-length")
        too_big = LimitExceededError(
            f"{method} {_redact_url(url)}: {what} is larger than the limit of {limit} bytes",
            host=urlsplit(url).netloc, endpoint=t.label, status=response.status_code,
        )
        if declared and declared.isdigit() and int(declared) > limit:
            if response.status_code != 200:
                return b""
            raise too_big
        buf = bytearray()
        async for chunk in response.aiter_bytes():
            buf += chunk
            if len(buf) > limit:
                if response.status_code != 200:
                    return bytes(buf[:limit])
                raise too_big  # cut off: do not read the rest of an oversize body
        return bytes(buf)

    # ---- answers ------------------------------------------------------------------------------

    def _check_repo(self, repository: str) -> None:
        if not _REPOSITORY.match(repository):
            raise ValueError(f"invalid repository name {repository!r}")

    def _status_error(self, t: _Target, repository: str, method: str, ans: _Answer) -> RegistryError:
        code = _error_code(ans.body)
        text = f"{method} {_redact_url(ans.url)}: {ans.status}" + (f" {code}" if code else "")
        if t.oci is not None and ans.status >= 500:
            text += f": {_error_message(ans.body)}"  # a broken layout says what is wrong with it
        kw = dict(host=t.label, repository=repository, status=ans.status, code=code, endpoint=t.label)
        if ans.status == 404:
            return NotFoundError(text, **kw)
        if ans.status in (401, 403):
            cred = self._credential(t)
            hint = "" if cred else f" (no credentials for {t.cred_host or t.label} in the docker config)"
            return AuthenticationError(text + hint, **kw)
        attempts = ans.headers.get("x-pullguard-attempts")
        if attempts:
            text += f" (after {attempts} attempts)"
        return ServerError(text, **kw)

    def _media_type(self, t: _Target, url: str, ans: _Answer) -> str:
        header = ans.headers.get("content-type", "").split(";")[0].strip()
        try:
            doc = json.loads(ans.body)
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError(f"GET {_redact_url(url)}: manifest is not valid JSON", endpoint=t.label) from None
        field_type = doc.get("mediaType") if isinstance(doc, dict) else None
        if isinstance(field_type, str) and field_type:
            return field_type
        if header in MANIFEST_MEDIA_TYPES:
            return header
        if isinstance(doc, dict) and "manifests" in doc:
            return OCI_INDEX
        return header or OCI_MANIFEST

    def _verify_manifest_digest(
        self, t: _Target, repository: str, url: str, ans: _Answer, requested: str | None
    ) -> str:
        header = ans.headers.get("docker-content-digest")
        expected = requested or (header if header and _DIGEST.match(header) else None)
        algorithm = expected.split(":", 1)[0] if expected else "sha256"
        got = compute_digest(ans.body, algorithm)
        if expected and got != expected:
            source = "the requested digest" if requested else "its Docker-Content-Digest header"
            raise DigestMismatchError(
                f"GET {_redact_url(url)}: manifest content has digest {got}, not {expected} ({source})",
                host=t.label, repository=repository, endpoint=t.label,
            )
        return got


class _Retryable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _subject(registry: str, repository: str, reference: str = "") -> str:
    """`ghcr.io/org/app:v1`, `ghcr.io/org/app@sha256:…`: what was asked for, as the image's
    registry names it (Docker Hub as `docker.io`, the way people write it)."""
    host = normalize_host(registry)
    name = f"{'docker.io' if host == DOCKER_HUB else host}/{repository}" if repository else host
    if not reference:
        return name
    return name + ("@" if reference.startswith(("sha256:", "sha512:")) else ":") + reference


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def _connect_reason(exc: BaseException) -> str:
    # httpcore wraps the OS error ("All connection attempts failed"); the cause says why.
    chain, seen = [], exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for item in chain:
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, ConnectionResetError):
            return "connection reset"
    text = " ".join(str(item) for item in chain) or type(exc).__name__
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo" in low:
        return "host name not found"
    if "certificate" in low:
        return "TLS certificate verification failed"
    if "reset" in low:
        return "connection reset"
    return str(exc) or type(exc).__name__
