"""The `rel="next"` target of HTTP `Link` headers (RFC 8288), as a registry sends them to page
a list (OCI distribution spec: tags and referrers).

A header may hold several links (`<a>; rel="prev", <b>; rel="next"`), and a response several
`Link` headers; a `rel` may name several relation types (`rel="next last"`). The target is
returned as written (relative or absolute): the caller resolves it against the page's URL and
decides whether it may be followed. Text that is not a link is an error, not a guess.
"""

from __future__ import annotations

from collections.abc import Iterable


class LinkSyntaxError(ValueError):
    """A `Link` header that RFC 8288 cannot read."""


def next_link(values: Iterable[str]) -> str | None:
    """The target of the first link whose `rel` holds `next` among the `Link` header values."""
    for value in values:
        for target, params in _links(value):
            relations = params.get("rel", "").lower().split()
            if "next" in relations:
                return target
    return None


def _links(value: str) -> list[tuple[str, dict[str, str]]]:
    links: list[tuple[str, dict[str, str]]] = []
    at, end = 0, len(value)
    while True:
        at = _skip(value, at, " \t,")
        if at >= end:
            return links
        if value[at] != "<":
            raise LinkSyntaxError(f"expected '<' at character {at + 1} of Link header {value!r}")
        close = value.find(">", at)
        if close < 0:
            raise LinkSyntaxError(f"no '>' after '<' in Link header {value!r}")
        target = value[at + 1:close]
        params: dict[str, str] = {}
        at = close + 1
        while True:
            at = _skip(value, at, " \t")
            if at >= end or value[at] == ",":
                break
            if value[at] != ";":
                raise LinkSyntaxError(f"expected ';' or ',' at character {at + 1} of Link header {value!r}")
            name, param, at = _param(value, at + 1)
            # RFC 8288 3.3: a second `rel` on the same link is ignored.
            params.setdefault(name, param)
        links.append((target, params))


def _param(value: str, at: int) -> tuple[str, str, int]:
    """`name[=token|"quoted"]` from `at`; returns (name lower-cased, value, where it ends)."""
    end = len(value)
    at = _skip(value, at, " \t")
    start = at
    while at < end and value[at] not in "=;, \t":
        at += 1
    name = value[start:at].lower()
    at = _skip(value, at, " \t")
    if at >= end or value[at] != "=":
        return name, "", at
    at = _skip(value, at + 1, " \t")
    if at < end and value[at] == '"':
        out: list[str] = []
        at += 1
        while at < end and value[at] != '"':
            if value[at] == "\\" and at + 1 < end:
                at += 1
            out.append(value[at])
            at += 1
        if at >= end:
            raise LinkSyntaxError(f"unterminated quoted parameter in Link header {value!r}")
        return name, "".join(out), at + 1
    start = at
    while at < end and value[at] not in ";, \t":
        at += 1
    return name, value[start:at], at


def _skip(value: str, at: int, chars: str) -> int:
    while at < len(value) and value[at] in chars:
        at += 1
    return at
