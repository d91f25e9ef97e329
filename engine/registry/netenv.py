"""Network settings from the environment, read the way cosign (Go's net/http) reads them.

- Proxies: `HTTPS_PROXY` for https:// requests, `HTTP_PROXY` for http:// ones (the upper-case
  name first, then the lower-case one), `NO_PROXY` for exceptions: `*` (nothing proxied), a host
  name (that host and its subdomains; a leading `.` is the same), an IP address or CIDR block,
  each optionally with `:port`. A proxy value without a scheme means `http://`. Loopback
  registries (`localhost`, 127.0.0.0/8, ::1) are never proxied.
- CA certificates: `SSL_CERT_FILE` and/or `SSL_CERT_DIR` replace the default CA bundle, as they
  replace the system roots for Go programs.

Nothing else is taken from the environment: httpx's `trust_env` would also read `~/.netrc` and
send credentials from it, so the registry client keeps it off and uses these settings instead.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

from ..endpoints import redact_url
from .hosts import is_loopback


class NetworkSettingsError(ValueError):
    """A proxy or CA setting in the environment cannot be used; the message names the variable."""


@dataclass(frozen=True)
class NetworkSettings:
    http_proxy: str | None = None
    https_proxy: str | None = None
    no_proxy: tuple[str, ...] = ()
    ca_file: str | None = None
    ca_dir: str | None = None
    # Which variables the values came from, for messages (`HTTPS_PROXY`, `https_proxy`, ...).
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "NetworkSettings":
        env = os.environ if environ is None else environ

        def first(*names: str) -> tuple[str | None, str | None]:
            for name in names:
                value = env.get(name, "").strip()
                if value:
                    return value, name
            return None, None

        http_proxy, http_name = first("HTTP_PROXY", "http_proxy")
        https_proxy, https_name = first("HTTPS_PROXY", "https_proxy")
        no_proxy, _ = first("NO_PROXY", "no_proxy")
        sources = {}
        if http_name:
            sources["http"] = http_name
        if https_name:
            sources["https"] = https_name
        return cls(
            _proxy_url(http_proxy, http_name),
            _proxy_url(https_proxy, https_name),
            tuple(p.strip().lower() for p in (no_proxy or "").split(",") if p.strip()),
            env.get("SSL_CERT_FILE") or None,
            env.get("SSL_CERT_DIR") or None,
            sources,
        )

    def __repr__(self) -> str:
        http_proxy, https_proxy = (redact_url(p) if p else p for p in (self.http_proxy, self.https_proxy))
        return (f"NetworkSettings(http_proxy={http_proxy!r}, https_proxy={https_proxy!r}, "
                f"no_proxy={self.no_proxy!r}, ca_file={self.ca_file!r}, ca_dir={self.ca_dir!r})")

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL a request to `url` goes through, or None to connect directly."""
        parts = urlsplit(url)
        proxy = self.https_proxy if parts.scheme == "https" else self.http_proxy if parts.scheme == "http" else None
        if proxy is None:
            return None
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if is_loopback(host) or self._excluded(host, port):
            return None
        return proxy

    def _excluded(self, host: str, port: int) -> bool:
        for entry in self.no_proxy:
            if entry == "*":
                return True
            name, want_port = _split_port(entry)
            if want_port is not None and want_port != port:
                continue
            try:
                network = ipaddress.ip_network(name, strict=False)
            except ValueError:
                network = None
            if network is not None:
                try:
                    if ipaddress.ip_address(host) in network:
                        return True
                except ValueError:
                    pass
                continue
            name = name.lstrip(".").removeprefix("*.")
            if name and (host == name or host.endswith("." + name)):
                return True
        return False

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context for registries: the default CA bundle, or SSL_CERT_FILE/SSL_CERT_DIR."""
        if not self.ca_file and not self.ca_dir:
            import certifi  # what httpx verifies against by default

            return ssl.create_default_context(cafile=certifi.where())
        try:
            return ssl.create_default_context(cafile=self.ca_file, capath=self.ca_dir)
        except (OSError, ssl.SSLError) as exc:
            which = " and ".join(f"{n}={v}" for n, v in (("SSL_CERT_FILE", self.ca_file), ("SSL_CERT_DIR", self.ca_dir)) if v)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise NetworkSettingsError(f"cannot load CA certificates from {which}: {reason}") from None


def _proxy_url(value: str | None, name: str | None) -> str | None:
    if not value:
        return None
    if "://" not in value:
        value = "http://" + value  # as Go does for `proxy.example:3128`
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
        raise NetworkSettingsError(f"{name}={redact_url(value)}: not a proxy URL (expected http://host:port)")
    return value


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [::1]:5000
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None
