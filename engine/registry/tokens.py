"""The token flow: a `WWW-Authenticate` challenge answered with basic credentials or a bearer token.

As docker does: the first 401 from an origin teaches its challenge, and from then on requests to
that origin carry the header up front (a new repository costs one token fetch, not an extra
round trip). Bearer tokens come from the challenge's realm, scoped `repository:<name>:pull`,
with the host's credentials (if any) as basic auth; concurrent requests share one token, and a
token the registry refuses is fetched again once. An identity token (docker's `identitytoken`, an
OAuth2 refresh token) is exchanged as docker's registry client does: a POST to the realm with
`grant_type=refresh_token`, `refresh_token`, `service`, `scope` and `client_id`.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from .. import jsontext
from .credentials import Credential, CredentialStore
from .errors import AuthenticationError, error_code
from .hosts import origin
from .transport import Answer, Target, Transport, url_for_message

# A token answer is a small JSON document.
MAX_TOKEN_ANSWER = 64 * 1024
CLIENT_ID = "pullguard"


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "bearer" or "basic"
    params: dict[str, str]


_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


def parse_challenge(header: str) -> Challenge | None:
    """Parse one `WWW-Authenticate` value: `Bearer realm="…",service="…",scope="…"`."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            break
        value = m.group(2) if m.group(2) is not None else (m.group(3) or "")
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
        pos = m.end()
    return Challenge(scheme.lower(), params)


def repository_scope(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"


class TokenFlow:
    """Authorization for requests to registries: challenges learnt per origin, tokens per scope."""

    def __init__(self, credentials: CredentialStore, transport: Transport) -> None:
        self.credentials = credentials
        self.transport = transport
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._token_locks: dict[tuple[str, str], asyncio.Lock] = {}

    def credential(self, t: Target) -> Credential | None:
        return self.credentials.get(t.cred_host) if t.cred_host else None

    async def _credential(self, t: Target) -> Credential | None:
        """As `credential`, in a thread the first time: a credential helper may take a while."""
        if not t.cred_host or self.credentials.known(t.cred_host):
            return self.credential(t)
        return await asyncio.to_thread(self.credential, t)

    def refusal_hint(self, t: Target, cred: Credential | None) -> str:
        """Which credentials a 401/403 answered: their source, or every source looked at."""
        host = t.cred_host or t.label
        if cred is not None:
            return f" (credentials for {host} from {cred.source or 'the credential store'})"
        if not t.cred_host:
            return ""
        looked_at = self.credentials.looked_at(t.cred_host)
        if not looked_at:
            return f" (no credentials for {host}: no credential source was given)"
        return f" (no credentials for {host}; looked at: {looked_at})"

    def learn(self, t: Target, answer: Answer) -> Challenge | None:
        """Keep the challenge of a 401 answer from `t` (a ping, or any request)."""
        challenge = parse_challenge(answer.headers.get("www-authenticate", "")) if answer.status == 401 else None
        if challenge is not None:
            self._challenges[origin(t.api_base)] = challenge
        return challenge

    async def send(
        self, t: Target, repository: str, method: str, url: str, headers: dict[str, str], *, max_size: int, what: str,
    ) -> Answer:
        """The request with the Authorization the origin asks for; after a 401, once more with it."""
        auth = await self._header(t, repository)
        ans = await self.transport.exchange(t, method, url, {**headers, **auth}, max_size=max_size, what=what)
        challenge = self.learn(t, ans)
        if challenge is not None:
            sent = auth.get("Authorization", "")
            if challenge.scheme == "basic" and sent.startswith("Basic "):
                return ans  # our credentials were refused; asking again would loop
            auth = await self._header(t, repository, rejected=sent)
            if auth and auth.get("Authorization") != sent:
                ans = await self.transport.exchange(t, method, url, {**headers, **auth}, max_size=max_size, what=what)
        return ans

    async def _header(self, t: Target, repository: str, rejected: str = "") -> dict[str, str]:
        """The Authorization header for a request to `t`, from the challenge learnt for its origin."""
        known = self._challenges.get(origin(t.api_base))
        if known is None:
            return {}
        cred = await self._credential(t)
        if known.scheme == "basic":
            return {"Authorization": cred.basic_header()} if cred and cred.username else {}
        if known.scheme == "bearer":
            token = await self._token(t, repository, known, cred, rejected.removeprefix("Bearer "))
            return {"Authorization": f"Bearer {token}"} if token else {}
        return {}

    async def _token(
        self, t: Target, repository: str, challenge: Challenge, cred: Credential | None, rejected: str
    ) -> str | None:
        scope = repository_scope(repository) if repository else ""
        key = (origin(t.api_base), scope)
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
            if cred is not None and cred.identity_token:
                method, url = "POST", realm
                form = {**params, "grant_type": "refresh_token", "refresh_token": cred.identity_token,
                        "client_id": CLIENT_ID}
                ans = await self.transport.exchange(
                    t, "POST", realm, {"Content-Type": "application/x-www-form-urlencoded"},
                    max_size=MAX_TOKEN_ANSWER, what="token", content=urlencode(form).encode())
            else:
                method = "GET"
                url = realm + ("&" if "?" in realm else "?") + urlencode(params) if params else realm
                headers = {"Authorization": cred.basic_header()} if cred else {}
                ans = await self.transport.exchange(t, "GET", url, headers, max_size=MAX_TOKEN_ANSWER, what="token")
            where = f"token service {url_for_message(realm)} for {t.label}/{repository}"
            if ans.status in (401, 403):
                code = error_code(ans.body)
                what = ("the identity token" if cred.identity_token else "the credentials") if cred else "anonymous access"
                raise AuthenticationError(
                    f"{method} {url_for_message(realm if method == 'POST' else url)}: {ans.status} {code or 'UNAUTHORIZED'}: "
                    f"{where} refused {what}{self.refusal_hint(t, cred)}",
                    host=t.label, repository=repository, status=ans.status, code=code,
                )
            if ans.status != 200:
                raise AuthenticationError(
                    f"{method} {url_for_message(realm if method == 'POST' else url)}: {ans.status}: {where} failed",
                    host=t.label, repository=repository, status=ans.status,
                )
            token, ttl = _read_token(ans.body)
            if not token:
                raise AuthenticationError(f"{where}: answer has no token", host=t.label, repository=repository)
            self._tokens[key] = (token, time.monotonic() + ttl)
            return token


def _read_token(body: bytes) -> tuple[str | None, float]:
    """(`token` or `access_token`, seconds to keep it: `expires_in` less a margin, at least 10)."""
    try:
        doc = jsontext.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, 0.0
    if not isinstance(doc, dict):
        return None, 0.0
    token = doc.get("token") or doc.get("access_token")
    expires_in = doc.get("expires_in") or 60
    try:
        ttl = max(10.0, float(expires_in) - 5.0)
    except (TypeError, ValueError):
        ttl = 55.0
    return (token if isinstance(token, str) and token else None), ttl
