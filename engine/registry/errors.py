"""Registry errors: one family, each message says what failed and where.

Messages name the method, URL (host and repository) and the registry's answer, e.g.
`GET https://ghcr.io/v2/org/app/manifests/v1: 404 MANIFEST_UNKNOWN`. They never hold credentials:
URLs are built by the client without userinfo and token/auth headers are never formatted.
Parts of a message come from the registry (error codes, digests, redirect targets): every message
is stored with its control characters escaped, so a newline or ESC in an answer can never start a
fake output line (SPEC §6); the data fields (`code`) keep what the registry sent.
"""

from __future__ import annotations

from .. import jsontext
from ..display import escape_control


class RegistryError(Exception):
    """Base class: something about talking to a registry (or a mirror) failed."""

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        repository: str | None = None,
        status: int | None = None,
        code: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__()
        self.message = message
        self.host = host
        self.repository = repository
        self.status = status
        # The distribution error code (MANIFEST_UNKNOWN, UNAUTHORIZED, ...) when the body had one.
        self.code = code
        # Which endpoint answered (a mirror URL, `oci:PATH` or the upstream), for evidence.
        self.endpoint = endpoint
        # Earlier endpoints tried for the same request (mirrors before upstream): (endpoint, message).
        self.attempts: list[tuple[str, str]] = []

    @property
    def message(self) -> str:
        return self._message

    @message.setter
    def message(self, text: str) -> None:
        self._message = escape_control(text)
        self.args = (self._message,)

    def __str__(self) -> str:
        return self.message


class NotFoundError(RegistryError):
    """The registry answered, and the manifest, blob, tag or repository does not exist (404)."""


class AuthenticationError(RegistryError):
    """401/403: no credentials, wrong credentials, or the token service refused."""


class TransportError(RegistryError):
    """No usable HTTP answer: connection refused, DNS, TLS, reset, timeout."""


class RegistryTimeoutError(TransportError):
    """The per-request timeout expired."""


class ServerError(RegistryError):
    """The registry kept answering 429/5xx (retries exhausted) or answered an unexpected status."""


class LimitExceededError(RegistryError):
    """A manifest, blob or layer list is larger than the Talos limit allows."""


class DigestMismatchError(RegistryError):
    """Bytes served for a digest do not hash to it (or disagree with Docker-Content-Digest)."""


class ProtocolError(RegistryError):
    """The answer is not what the distribution spec says (bad JSON, bad media type, bad redirect)."""


class InsecureRegistryError(RegistryError):
    """Plain HTTP was needed for a host that is neither loopback nor marked insecure."""


def error_code(body: bytes) -> str | None:
    """The first `errors[].code` of a distribution error body (`MANIFEST_UNKNOWN`), if any."""
    first = _first_error(body)
    code = first.get("code") if first else None
    return str(code) if code else None


def error_detail(body: bytes) -> str:
    """The first `errors[].message` of a distribution error body ("" when there is none)."""
    first = _first_error(body)
    return str(first.get("message", "")) if first else ""


def _first_error(body: bytes) -> dict[str, object] | None:
    try:
        doc = jsontext.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return errors[0]
    return None
