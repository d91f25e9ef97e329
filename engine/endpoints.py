"""The one set of rules for a registry-mirror endpoint string (SPEC §1 `--mirror`, §6 mirrors).

An endpoint is `http://host[:port][/path]`, `https://…` or `oci:PATH` (an OCI image layout
directory). The same rules serve `--mirror`, Talos `machine.registries.mirrors` /
`RegistryMirrorConfig` documents and PolicyTest files, so an endpoint one of them accepts the
others accept too. `parse_endpoint` returns plain frozen data; what routes requests with it is
the registry's business.

Endpoints are written by someone else and may hold a password (`https://bob:pw@host`): every
message here shows the value with its userinfo replaced by `***@`, split at the last `@` as URL
parsers split it, and no malformed value (`https://[::1`, `http://[zz]:5000`, a port out of
range, a control character) gets further than an `EndpointError`.
"""

from __future__ import annotations

import ipaddress
import os.path
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Scheme = Literal["http", "https", "oci"]

OCI_PREFIX = "oci:"
# What a person should write instead, named in the scheme error.
_EXAMPLES = "(e.g. https://mirror.example.com or oci:./layout)"
# A URL's scheme, and whatever follows it up to white space (a password may hold any other character).
_URL_IN_TEXT = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<rest>\S*)")
# C0 controls, DEL and C1 controls: never part of a URL (Python's urlsplit silently drops some).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class EndpointError(ValueError):
    """An endpoint that cannot be used; the message says why and never holds a password."""


@dataclass(frozen=True)
class EndpointSpec:
    """A well-formed endpoint, as plain data."""

    url: str  # as written (surrounding blanks dropped): `http(s)://host[:port][/path]` or `oci:PATH`
    scheme: Scheme
    host: str  # `host[:port]`, lowercased, an IPv6 address in brackets; "" for `oci:`
    path: str  # the URL path ("" or "/…"), or the layout directory for `oci:`
    override_path: bool = False  # Talos `overridePath`: the API is under `url` itself, not `url/v2`

    @property
    def is_oci(self) -> bool:
        return self.scheme == "oci"

    @property
    def oci_path(self) -> Path:
        """The layout directory of an `oci:` endpoint."""
        return Path(self.path)

    @property
    def api_base(self) -> str:
        """The URL under which `<name>/manifests/<ref>` lives (no trailing slash): `url/v2`, or
        `url` itself with overridePath."""
        base = self.url.rstrip("/")
        return base if self.override_path else base + "/v2"

    def __str__(self) -> str:
        return self.url

    def with_layout_under(self, directory: str) -> EndpointSpec:
        """An `oci:` layout written as a relative path, placed under `directory` (a policy file's
        directory: `oci:../registry` means next to that file); other endpoints unchanged. No disk access."""
        if not self.is_oci or os.path.isabs(self.path) or self.path.startswith("~"):
            return self
        layout = os.path.normpath(os.path.join(directory, self.path))
        return EndpointSpec(OCI_PREFIX + layout, "oci", "", layout, self.override_path)


def parse_endpoint(value: str, *, where: str = "mirror endpoint", override_path: bool = False,
                   check_layout: bool = False) -> EndpointSpec:
    """`value` as an EndpointSpec, or EndpointError whose message starts with `where`.

    With `check_layout`, an `oci:` path must be a directory holding an `oci-layout` file."""
    value = value.strip()
    redacted = redact_url(value)
    shown = repr(redacted)
    if _CONTROL.search(value):
        raise EndpointError(f"{where}: endpoint {shown} contains a control character")
    if value.startswith(OCI_PREFIX):
        layout = value[len(OCI_PREFIX):]
        if not layout:
            raise EndpointError(f"{where}: `oci:` needs a path to an OCI image layout directory, e.g. oci:./layout")
        if check_layout and not (Path(layout) / "oci-layout").is_file():
            raise EndpointError(f"{where}: {layout} is not an OCI image layout (no oci-layout file in that directory)")
        return EndpointSpec(value, "oci", "", layout, override_path)
    scheme_text, sep, rest = value.partition("://")
    scheme = scheme_text.lower()
    authority, path, tail = _split_authority(rest)
    if not sep or scheme not in ("http", "https") or not authority:
        raise EndpointError(f"{where}: endpoint {shown} must start with http://, https:// or oci: {_EXAMPLES}")
    if "@" in authority:
        raise EndpointError(f"{where}: credentials in the endpoint URL are not supported; use docker config.json")
    # Where a `@` was hidden (`http://bob:se/cret@h` is host `bob`, port `se`), no piece is quoted.
    problem = _host_problem(authority, quote=redacted == value)
    if problem:
        raise EndpointError(f"{where}: endpoint {shown} is not a valid URL: {problem}")
    if tail:
        raise EndpointError(f"{where}: endpoint {scheme_text}://{authority}{path} must not have a query")
    return EndpointSpec(value, "https" if scheme == "https" else "http", authority.lower(), path, override_path)


def redact_url(url: str) -> str:
    """One URL with its userinfo (everything up to the last `@` after `scheme://`) as `***@`."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def redact_userinfo(text: str) -> str:
    """`text` (a message, an environment value) with the userinfo of every URL in it as `***@`.

    Errs on the side of hiding: a URL runs to the next white space and its userinfo to the last
    `@` in it, so a password holding `@`, `/` or `:` is hidden whole."""
    return _URL_IN_TEXT.sub(_hide_userinfo, text)


def _hide_userinfo(url: re.Match[str]) -> str:
    rest = url["rest"]
    return url["scheme"] + ("***@" + rest.rpartition("@")[2] if "@" in rest else rest)


def _split_authority(rest: str) -> tuple[str, str, str]:
    """`host[:port][/path][?query][#fragment]` -> (authority, path, "?query#fragment")."""
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if 0 <= found < end:
            end = found
    authority, after = rest[:end], rest[end:]
    cut = min((i for i in (after.find("?"), after.find("#")) if i >= 0), default=len(after))
    return authority, after[:cut], after[cut:]


def _host_problem(authority: str, *, quote: bool) -> str | None:
    """Why `host[:port]` is not one a client can connect to, or None; with `quote`, the
    offending piece is named."""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            return "'[' opens an IPv6 address that no ']' closes"
        literal, port_part = authority[1:close], authority[close + 1:]
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return f"{_piece(literal, quote)}in brackets is not an IPv6 address"
        if port_part and not port_part.startswith(":"):
            return f"{_piece(port_part, quote)}after the IPv6 address is not ':PORT'"
        port = port_part[1:] if port_part else None
    else:
        host, colon, port_text = authority.partition(":")
        port = port_text if colon else None
        if not host:
            return "the host is empty"
        bad = next((c for c in host if not (c.isalnum() or c in "-._")), None)
        if bad is not None:
            found = f" {bad!r}" if quote else " a character that is not allowed"
            return f"the host holds{found} (a host name is letters, digits, '-', '.' and '_')"
    if port is not None and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return "the port must be a number from 1 to 65535" + (f", found {port!r}" if quote else "")
    return None


def _piece(text: str, quote: bool) -> str:
    return f"{text!r} " if quote else "the text "
