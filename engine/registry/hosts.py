"""Registry host names: one spelling per registry, loopback, and URL origins.

`docker.io`, `index.docker.io`, `registry-1.docker.io` and `https://index.docker.io/v1/` all name
Docker Hub; credentials, mirrors and plain-HTTP rules are looked up by the normalized name.
Loopback registries (`localhost`, 127.0.0.0/8, ::1) may use plain HTTP and are never proxied.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

DOCKER_HUB = "index.docker.io"
# Where Docker Hub's /v2/ API answers.
DOCKER_HUB_API = "registry-1.docker.io"
_DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}


def normalize_host(value: str) -> str:
    """`https://index.docker.io/v1/` -> `index.docker.io`; `HTTP://Localhost:5000/v2` -> `localhost:5000`."""
    host = value.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].lower()
    if host in _DOCKER_HUB_ALIASES:
        return DOCKER_HUB
    return host


def is_loopback(host: str) -> bool:
    """`localhost`, 127.0.0.0/8, ::1: a host name or a host[:port] (IPv6 with or without brackets)."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin(url: str) -> str:
    """`scheme://host:port` with the default port filled in: what credentials are scoped to."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"
