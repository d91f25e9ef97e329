"""One page of a referrers list, and whether and where to read the next one.

The OCI distribution spec lets a registry split `GET /v2/<name>/referrers/<digest>` over pages,
each an image index, linked by `Link: <url>; rel="next"`. A page is read as an image index or
refused (its words shown escaped); its entries are filtered by `artifactType` here whether or not
the registry says it filtered (`OCI-Filters-Applied`), as containerd and go-containerregistry do.

A next page is followed only on the origin (scheme, host, port) that the first request went to:
go-containerregistry refuses a tag-list page elsewhere ("potential SSRF attack"), and a link to
another host is refused here too, so that host is never asked, with credentials or without.
A link back to a page already read, or past the page limit, stops the walk with an error.
Verification reads the first page only (Talos and cosign follow no link; see
RegistryClient.get_referrers); a Link header there is then not even parsed, as upstream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import httpx

from .. import jsontext
from .errors import LimitExceededError, ProtocolError
from .hosts import origin
from .links import LinkSyntaxError, next_link
from .models import MAX_REFERRER_PAGES, OCI_INDEX, Descriptor
from .transport import Answer, Target, url_for_message

# How much of a registry's own words (a media type, a link) a message quotes.
_QUOTE = 120


def read_page(
    t: Target, ans: Answer, page: int, digest: str, artifact_type: str | None, *, follow: bool = True
) -> tuple[list[Descriptor], str | None]:
    """The page's descriptors (those of `artifact_type`, when given) and its `rel="next"` link
    (None when there is none, or when not to `follow` it)."""
    where = _where(ans.url, page)
    try:
        doc = jsontext.loads(ans.body)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(f"{where}: referrers answer is not JSON", endpoint=t.label) from None
    if not isinstance(doc, dict):
        raise ProtocolError(f"{where}: referrers answer is not an image index", endpoint=t.label)
    # The index's own mediaType, else the Content-Type it came with; neither said is no claim.
    declared = doc.get("mediaType", str(ans.headers.get("content-type", "")).split(";")[0].strip())
    if declared and declared != OCI_INDEX:
        raise ProtocolError(f"{where}: referrers answer is not an image index (media type {_quote(declared)})",
                            endpoint=t.label)
    items = doc.get("manifests")
    if not isinstance(items, list):
        raise ProtocolError(f"{where}: referrers answer is not an image index", endpoint=t.label)
    label = f"referrers of {digest}" + (f" page {page}" if page > 1 else "")
    descs = [Descriptor.from_json(d, where=f"{label}[{i}]") for i, d in enumerate(items)]
    if artifact_type:
        descs = [d for d in descs if d.artifact_type == artifact_type]
    if not follow:
        return descs, None
    try:
        link = next_link(ans.headers.get_list("link"))
    except LinkSyntaxError as exc:
        raise ProtocolError(f"{where}: {exc}", endpoint=t.label) from None
    return descs, link or None


def next_page_url(t: Target, ans: Answer, link: str, page: int, seen: Iterable[str]) -> str:
    """The absolute URL of the page after `page`, or an error saying why it is not followed."""
    where = _where(ans.url, page)
    try:
        url = urljoin(ans.url, link)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing it is the check
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise ProtocolError(f"{where}: next page link {_quote(link)} is not a valid URL", endpoint=t.label) from None
    if origin(url) != origin(t.api_base) or parts.username is not None or parts.password is not None:
        raise ProtocolError(
            f"{where}: next page is on another origin ({url_for_message(url)}); referrers pages are "
            f"followed only on {_origin_label(t)}, whose credentials never leave it", endpoint=t.label,
        )
    if url in seen:
        raise ProtocolError(f"{where}: next page link goes back to a page already read ({url_for_message(url)})",
                            endpoint=t.label)
    if page >= MAX_REFERRER_PAGES:
        raise LimitExceededError(f"{where}: referrers list has more than {MAX_REFERRER_PAGES} pages, "
                                 f"the per-image limit", endpoint=t.label)
    return url


def _where(url: str, page: int) -> str:
    return f"GET {url_for_message(url)}" + (f" (referrers page {page})" if page > 1 else "")


def _origin_label(t: Target) -> str:
    parts = urlsplit(t.api_base)
    return f"{parts.scheme}://{parts.netloc}"


def _quote(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text if len(text) <= _QUOTE else text[:_QUOTE] + "…")
