"""Registry errors: one family, each message says what failed and where.

Messages name the method, URL (host and repository) and the registry's answer, e.g.
`GET https://ghcr.io/v2/org/app/manifests/v1: 404 MANIFEST_UNKNOWN`. They never hold credentials:
URLs are built by the client without userinfo and token/auth headers are never formatted.
"""

from __future__ import annotations


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
        super().__init__(message)
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
