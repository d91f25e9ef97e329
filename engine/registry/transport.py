"""One logical registry request over httpx: retries, redirects, a deadline and a size bound.

- Retries as go-containerregistry (what Talos uses) retries: on 408, 429, 500, 502, 503, 504 and
  on connections reset mid-answer, with `Retry-After` honoured (capped) or an exponential backoff.
- `--timeout` bounds the whole request, the waits between its attempts included: a `Retry-After`
  longer than the time left fails the request at once, saying so (SPEC §6).
- Redirects are followed here, not by httpx, so credentials never travel to another origin.
- Plain HTTP only to loopback, `--insecure-registry` hosts and `http://` mirror endpoints.
- Every body is read with a bound: the caller's limit for a 200, a small one for errors, nothing
  past it (an oversize answer is cut off, not read to its end).
- Proxies and CA certificates from the environment (`netenv`); a transport given for tests is
  used as is.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Awaitable, Callable
from urllib.parse import urljoin, urlsplit

import httpx

from ..endpoints import redact_url
from .errors import InsecureRegistryError, LimitExceededError, ProtocolError, RegistryTimeoutError, TransportError
from .hosts import is_loopback, normalize_host, origin
from .netenv import NetworkSettings

# As go-containerregistry retries: 408, 429, 500, 502, 503, 504.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Error bodies are read for their distribution error code, never more than this.
MAX_ERROR_BODY = 16 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
# The placeholder origin an `oci:` layout's transport is reached through (never resolved).
OCI_ORIGIN = "http://oci-layout.invalid"

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Target:
    """One place to send a request: a mirror endpoint, an OCI layout or the upstream registry."""

    label: str  # shown as evidence: `https://ghcr.io`, `http://mirror:5000`, `oci:/path`
    api_base: str  # no trailing slash; `<api_base>/<name>/manifests/<ref>`
    cred_host: str  # whose credentials apply
    registry: str  # the registry the image belongs to (the `ns` a mirror is told)
    is_mirror: bool
    oci: str | None = None  # layout path for oci: targets


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str  # final URL, after redirects
    # How many attempts the request took, and why it stopped retrying early (for the message).
    attempts: int = 1
    gave_up: str = ""


class Transport:
    """The HTTP side of a `RegistryClient`: pools, proxies, retries, redirects, bounds.

    plain_http_hosts: hosts the user allowed plain HTTP to (--insecure-registry, http:// mirror
    endpoints). transport: an httpx transport used as is (tests, fault injection: no proxy, no
    TLS settings). sleep and clock: injected by tests that check the waits without waiting.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        max_connections: int = 8,
        max_attempts: int = 3,
        max_retry_wait: float = 10.0,
        backoff: float = 0.2,
        user_agent: str = "pullguard/0.1",
        network: NetworkSettings | None = None,
        plain_http_hosts: frozenset[str] = frozenset(),
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.timeout = float(timeout)
        self.max_connections = max_connections
        self.max_attempts = max(1, int(max_attempts))
        self.max_retry_wait = float(max_retry_wait)
        self.backoff = float(backoff)
        self.network = network if network is not None else NetworkSettings.from_environment()
        self.plain_http_hosts = plain_http_hosts
        self.sleep: Sleep = sleep or asyncio.sleep
        self.clock: Clock = clock or time.monotonic
        # Request counting, for `HTTP requests per verified image`.
        self.request_count = 0
        self._direct_only = transport is not None
        self._user_agent = user_agent
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._verify: ssl.SSLContext | bool = True if self._direct_only else self.network.ssl_context()
        self._http = self._new_client(transport=transport)
        # One client per proxy URL (HTTPS_PROXY and HTTP_PROXY may differ), made when first used.
        self._proxy_clients: dict[str, httpx.AsyncClient] = {}
        self._oci_clients: dict[str, httpx.AsyncClient] = {}

    def _new_client(
        self, *, transport: httpx.AsyncBaseTransport | None = None, proxy: str | None = None
    ) -> httpx.AsyncClient:
        # trust_env off: httpx would also send credentials from ~/.netrc.
        return httpx.AsyncClient(
            limits=self._limits, timeout=httpx.Timeout(self.timeout), follow_redirects=False, verify=self._verify,
            trust_env=False, headers={"User-Agent": self._user_agent}, transport=transport, proxy=proxy,
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        for client in [*self._oci_clients.values(), *self._proxy_clients.values()]:
            await client.aclose()
        self._oci_clients.clear()
        self._proxy_clients.clear()

    def proxy_for(self, url: str) -> str | None:
        """The proxy a request to `url` goes through (None: direct)."""
        return None if self._direct_only else self.network.proxy_for(url)

    def _client_for(self, t: Target, url: str) -> httpx.AsyncClient:
        if t.oci is None:
            proxy = self.proxy_for(url)
            if proxy is None:
                return self._http
            client = self._proxy_clients.get(proxy)
            if client is None:
                client = self._proxy_clients[proxy] = self._new_client(proxy=proxy)
            return client
        client = self._oci_clients.get(t.oci)
        if client is None:
            from .ocilayout import OCILayoutTransport

            client = httpx.AsyncClient(transport=OCILayoutTransport(t.oci), follow_redirects=False)
            self._oci_clients[t.oci] = client
        return client

    def _check_scheme(self, t: Target, url: str) -> None:
        parts = urlsplit(url)
        if t.oci is not None or parts.scheme == "https":
            return
        host = parts.netloc.lower()
        if parts.scheme == "http" and (is_loopback(host) or normalize_host(host) in self.plain_http_hosts):
            return
        raise InsecureRegistryError(
            f"refusing plain HTTP to {host}: only loopback registries and --insecure-registry hosts may use http://",
            host=host, endpoint=t.label,
        )

    async def exchange(
        self, t: Target, method: str, url: str, headers: dict[str, str], *, max_size: int, what: str = "response",
        content: bytes | None = None,
    ) -> Answer:
        """One logical request within `timeout`, its retries and their waits included (`content`:
        a request body, which like the Authorization header never follows a redirect elsewhere)."""
        deadline = self.clock() + self.timeout
        attempt = 0
        while True:
            attempt += 1
            left = deadline - self.clock()
            try:
                ans = await self._attempt(t, method, url, headers, max_size=max_size, what=what, within=left,
                                          content=content)
            except _Retryable as exc:
                wait = self._backoff_wait(attempt, None)
                if attempt < self.max_attempts and wait < deadline - self.clock():
                    await self.sleep(wait)
                    continue
                raise TransportError(
                    f"{method} {url_for_message(url)}: connection to {urlsplit(url).netloc} failed "
                    f"after {attempt} attempt{'s' if attempt > 1 else ''}: {exc.reason}",
                    host=urlsplit(url).netloc, endpoint=t.label,
                ) from None
            ans.attempts = attempt
            if ans.status not in RETRY_STATUSES or t.oci is not None or attempt >= self.max_attempts:
                return ans
            retry_after = _retry_after(ans.headers.get("retry-after"))
            wait = self._backoff_wait(attempt, retry_after)
            left = deadline - self.clock()
            if retry_after is not None and retry_after > left:
                ans.gave_up = (f"the registry asked to retry after {_seconds(retry_after)}, longer than the "
                               f"{_seconds(max(left, 0))} left of the {self.timeout:g}s timeout")
                return ans
            if wait >= left:
                ans.gave_up = f"no time left for a retry within the {self.timeout:g}s timeout"
                return ans
            await self.sleep(wait)

    def _backoff_wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_wait)
        base = self.backoff * 2.0 ** (attempt - 1)
        return min(base + random.uniform(0, base / 2), self.max_retry_wait)

    def _timed_out(self, t: Target, method: str, url: str) -> RegistryTimeoutError:
        host = urlsplit(url).netloc
        return RegistryTimeoutError(
            f"{method} {url_for_message(url)}: registry {host or t.label} did not answer within {self.timeout:g}s",
            host=host, endpoint=t.label,
        )

    async def _attempt(
        self, t: Target, method: str, url: str, headers: dict[str, str], *, max_size: int, what: str, within: float,
        content: bytes | None = None,
    ) -> Answer:
        if within <= 0:
            raise self._timed_out(t, method, url)
        _check_url(t, method, url)
        request_origin = origin(url)
        headers = dict(headers)
        try:
            async with asyncio.timeout(within):
                for _ in range(_MAX_REDIRECTS + 1):
                    self._check_scheme(t, url)
                    client = self._client_for(t, url)  # per hop: a redirect may leave the proxy's scope
                    request = client.build_request(method, url, headers=headers, content=content)
                    self.request_count += 1
                    response = await client.send(request, stream=True)
                    try:
                        if response.status_code in _REDIRECTS and "location" in response.headers:
                            nxt = _check_url(t, method, response.headers["location"], redirected_from=url)
                            if origin(nxt) != request_origin:
                                # Storage redirects (S3, CDN) must never see registry credentials.
                                headers.pop("Authorization", None)
                                content = None  # a token request's body holds a secret too
                                request_origin = origin(nxt)
                            if response.status_code == 303:
                                method = "GET" if method != "HEAD" else "HEAD"
                                content = None
                            url = nxt
                            continue
                        limit = max_size if response.status_code == 200 else MAX_ERROR_BODY
                        if method == "HEAD":
                            # No body, but reading to its end is what returns the connection to the
                            # pool; closing early drops it (one new connection, one TLS handshake
                            # per resolved tag). A HEAD answer with a body is read within the bound.
                            await _read_bounded(response, MAX_ERROR_BODY)
                            body = b""
                        else:
                            body = await self._read_capped(t, method, url, response, limit, what)
                        return Answer(response.status_code, response.headers, body, url)
                    finally:
                        await response.aclose()
                raise ProtocolError(f"{method} {url_for_message(url)}: more than {_MAX_REDIRECTS} redirects", endpoint=t.label)
        except (TimeoutError, httpx.TimeoutException):
            raise self._timed_out(t, method, url) from None
        except (httpx.ConnectError, httpx.ProxyError) as exc:
            proxy = self.proxy_for(url) if t.oci is None else None
            via = f" through proxy {redact_url(proxy)}" if proxy else ""
            raise TransportError(
                f"cannot connect to registry {urlsplit(url).netloc}{via}: {_connect_reason(exc)}",
                host=urlsplit(url).netloc, endpoint=t.label,
            ) from None
        except httpx.RemoteProtocolError as exc:
            if str(exc).startswith("Invalid URL in location header"):
                # httpx parses a redirect's Location itself: a bad one is the registry's answer,
                # not a dropped connection, and asking again gets the same answer.
                raise ProtocolError(f"{method} {url_for_message(url)}: redirect to an invalid URL ({exc})",
                                    endpoint=t.label) from None
            raise _Retryable(_connect_reason(exc)) from None
        except (httpx.ReadError, httpx.WriteError) as exc:
            raise _Retryable(_connect_reason(exc)) from None
        except httpx.UnsupportedProtocol as exc:
            raise ProtocolError(f"{method} {url_for_message(url)}: {exc}", endpoint=t.label) from None
        except httpx.HTTPError as exc:
            raise TransportError(
                f"{method} {url_for_message(url)}: {type(exc).__name__}: {_connect_reason(exc)}",
                host=urlsplit(url).netloc, endpoint=t.label,
            ) from None

    async def _read_capped(
        self, t: Target, method: str, url: str, response: httpx.Response, limit: int, what: str
    ) -> bytes:
        """The body, at most `limit` bytes: a 200 past it is an error, an error answer is cut."""
        declared = response.headers.get("content-length")
        too_big = LimitExceededError(
            f"{method} {url_for_message(url)}: {what} is larger than the limit of {limit} bytes",
            host=urlsplit(url).netloc, endpoint=t.label, status=response.status_code,
        )
        if declared and declared.isdigit() and int(declared) > limit:
            if response.status_code != 200:
                return b""
            raise too_big
        body, complete = await _read_bounded(response, limit)
        if not complete and response.status_code == 200:
            raise too_big  # cut off: the rest of an oversize body is never read
        return body


async def _read_bounded(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body, and whether that was all of it."""
    buf = bytearray()
    async for chunk in response.aiter_bytes():
        buf += chunk
        if len(buf) > limit:
            return bytes(buf[:limit]), False
    return bytes(buf), True


class _Retryable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_url(t: Target, method: str, url: str, *, redirected_from: str | None = None) -> str:
    """`url` (a Location resolved against `redirected_from`), or ProtocolError when it cannot be
    requested: a token realm or a redirect target comes from the registry, and `http://[zz`, a
    port `abc` or a control character in it must be an error message, not a traceback."""
    try:
        if redirected_from is not None:
            url = urljoin(redirected_from, url)
        urlsplit(url).port  # noqa: B018 - parsing it is the check
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        shown = redact_url(url.partition("?")[0])
        if redirected_from is not None:
            raise ProtocolError(f"{method} {url_for_message(redirected_from)}: redirect to an invalid URL {shown}",
                                endpoint=t.label) from None
        raise ProtocolError(f"{method} {shown}: not a valid URL", endpoint=t.label) from None
    return url


def url_for_message(url: str) -> str:
    """`scheme://host[:port]/path`: no userinfo, no query (a token service's query may hold secrets)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _seconds(value: float) -> str:
    return f"{value:.0f}s" if value >= 100 else f"{value:.3g}s"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when: float = parsedate_to_datetime(value).timestamp()
        return max(0.0, when - time.time())
    except (TypeError, ValueError):
        return None


def _connect_reason(exc: BaseException) -> str:
    # httpcore wraps the OS error ("All connection attempts failed"); the cause says why.
    chain: list[BaseException] = []
    seen: BaseException | None = exc
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
