"""Loopback only: every test process, and every process a test starts, refuses to look up a
host name other than `localhost` (or a loopback/unspecified address).

Tests name real registries in image references (`ghcr.io/acme/api`), and pullguard rightly
falls back to the upstream registry after a mirror (`--mirror` tries the layout first, then
the registry itself). Without this guard such a fallback sends a DNS query off the machine.
With it, the lookup fails at once exactly as on a machine with no network
(`socket.gaierror: EAI_NONAME`), so verdicts are the same and nothing leaves the host.

Installed by tests/conftest.py in the pytest process and, through PYTHONPATH, as the
`sitecustomize` of every Python subprocess (the `pullguard` CLI, benches run from tests).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_real_getaddrinfo = socket.getaddrinfo


def _is_local(host: object) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    name = name.strip("[]").rstrip(".").lower()
    if name in ("localhost", ""):
        return True
    try:
        address = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _loopback_only_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_local(host):
        # The resolver's own words for an unknown name, so messages (and the snapshots that show
        # them) read as they do on a machine without DNS.
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only_getaddrinfo
