"""The referrers API over several pages (`Link: <…>; rel="next"`, OCI distribution spec).

docker-registry 2.8 (Debian's) has no referrers API at all, so the pages come from a scripted
loopback server (real HTTP) or, where a whole signed image is needed, from an httpx transport in
front of an OCI layout. Every bound is asserted as requests made or bytes served, never time:
pages followed within the limits (as `tree` reads them), and the registries that try to get past
them (loops, endless or empty pages, oversize pages, a link to another host while credentials are
in use, garbage pages). Verification reads the first page only, as Talos (containerd's
FetchReferrers) and cosign (go-containerregistry's remote.Referrers) do: a signature on a later
page does not verify there, so it must not here, and `tree` still shows it.
"""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from devtools.oci_layout_writer import OCILayoutWriter
from pullguard.engine.policy import load_policy
from pullguard.engine.registry.client import RegistryClient
from pullguard.engine.registry.credentials import Credential, CredentialStore
from pullguard.engine.registry.errors import LimitExceededError, ProtocolError, RegistryError
from pullguard.engine.registry.links import LinkSyntaxError, next_link
from pullguard.engine.registry.models import MAX_REFERRER_PAGES, MAX_REFERRERS, OCI_INDEX, OCI_MANIFEST, sha256_digest
from pullguard.engine.registry.ocilayout import OCILayoutTransport
from pullguard.engine.registry.store import RegistryStore
from pullguard.engine.signatures.discovery import ImageBudget, discover
from pullguard.engine.signatures.inventory import inventory
from pullguard.engine.verify import VerifyOptions, verify_images
from tests.support.policies import keyless_policy
from tests.support.scripted_http import scripted_server
from tests.support.signing import ALICE

ANON = CredentialStore()
SUBJECT = sha256_digest(b"the image")
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SBOM = "application/vnd.example.sbom.v1"
PATH = f"/v2/org/app/referrers/{SUBJECT}"


def run(coro):
    return asyncio.run(coro)


def entry(name: str, artifact_type: str, **extra) -> dict:
    return {"mediaType": OCI_MANIFEST, "digest": sha256_digest(name.encode()), "size": 10,
            "artifactType": artifact_type, **extra}


def index(entries: list[dict]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()


def page_number(path: str) -> int:
    return int(parse_qs(urlsplit(path).query).get("page", ["1"])[0])


def paged(pages: list[list[dict]], link, *, filtered: bool = False, status=None):
    """answer(method, path, headers) serving `pages` (page N at `?page=N`); link(host, n) is the
    Link header value pointing at page n (None: no header)."""
    host: list[str] = []

    def answer(method, path, headers):
        if not path.startswith(PATH):
            return 404, {}, b""
        n = page_number(path)
        if status and n in status:
            return status[n], {}, b""
        out = {"Content-Type": OCI_INDEX}
        if filtered:
            out["OCI-Filters-Applied"] = "artifactType"
        if n < len(pages):
            value = link(host[0], n + 1)
            if value is not None:
                out["Link"] = value
        return 200, out, index(pages[n - 1]) if n <= len(pages) else b""
    return answer, host


def referrers(host: str, artifact_type: str | None = BUNDLE, **kw):
    kw_all_pages = kw.pop("all_pages", True)

    async def go():
        async with RegistryClient(credentials=kw.pop("credentials", ANON), **kw) as client:
            return await client.get_referrers(host, "org/app", SUBJECT, artifact_type=artifact_type,
                                              all_pages=kw_all_pages)
    return run(go())


# ---- RFC 8288 Link headers -----------------------------------------------------------------

LINKS = [
    (['</v2/x?page=2>; rel="next"'], "/v2/x?page=2"),
    (["</v2/x?page=2>; rel=next"], "/v2/x?page=2"),
    (['</p1>; rel="prev", </p3>; rel="next"'], "/p3"),
    (['</p1>; rel="prev"', '</p3>; rel="next"'], "/p3"),  # two Link headers
    (['<http://127.0.0.1:5000/v2/x?a=1,b=2>; title="a, b; c"; rel="last next"'], "http://127.0.0.1:5000/v2/x?a=1,b=2"),
    (['</p2>; REL="Next"'], "/p2"),
    (['</p2>; rel="next"; rel="prev"'], "/p2"),  # RFC 8288 3.3: the first rel counts
    (['</p2>; rel="prev"; rel="next"'], None),
    (['</p2>; rel="nextish"'], None),
    ([""], None),
    ([], None),
]


@pytest.mark.parametrize("values, target", LINKS)
def test_next_link(values, target):
    assert next_link(values) == target


@pytest.mark.parametrize("value", ['/p2; rel="next"', '</p2; rel="next"', '</p2> rel="next"', '</p2>; rel="next'])
def test_a_link_header_that_is_not_one_is_an_error(value):
    with pytest.raises(LinkSyntaxError):
        next_link([value])


# ---- pages followed ------------------------------------------------------------------------

SIG = entry("signature", BUNDLE)
SBOMS = [entry(f"sbom {i}", SBOM) for i in range(6)]


def relative(host, n):
    return f'<{PATH}?page={n}>; rel="next"'


def absolute(host, n):
    return f'<http://{host}{PATH}?page={n}>; rel="next"'


def among_others(host, n):
    return f'<{PATH}?page=1>; rel="first", <{PATH}?page={n}>; rel=next'


def relative_to_the_page(host, n):
    return f'<./{SUBJECT}?page={n}>; rel="next"'  # resolved against the page's own URL


FOLLOWED = [
    # (name, pages, link, registry filtered, artifact type asked, expected entries)
    ("signature on page 3, relative links", [SBOMS[:2], SBOMS[2:4], [SIG]], relative, False, BUNDLE, [SIG]),
    ("signature on page 3, absolute links", [SBOMS[:2], SBOMS[2:4], [SIG]], absolute, False, BUNDLE, [SIG]),
    ("signature on page 2, several links", [SBOMS[:3], [*SBOMS[3:], SIG]], among_others, False, BUNDLE, [SIG]),
    ("path relative to the page", [SBOMS[:3], [SIG]], relative_to_the_page, False, BUNDLE, [SIG]),
    ("registry filtered, signature on page 2", [[], [SIG]], relative, True, BUNDLE, [SIG]),
    ("no filter asked: every entry", [SBOMS[:2], [SIG], SBOMS[2:]], absolute, False, None, [*SBOMS[:2], SIG, *SBOMS[2:]]),
]


@pytest.mark.parametrize("name, pages, link, filtered, artifact_type, expected", FOLLOWED, ids=[r[0] for r in FOLLOWED])
def test_every_page_is_read(name, pages, link, filtered, artifact_type, expected):
    answer, host_ref = paged(pages, link, filtered=filtered)
    with scripted_server(answer) as (host, requests):
        host_ref.append(host)
        got = referrers(host, artifact_type)
    assert got.supported and [d.to_json() for d in got.descriptors] == expected
    assert [page_number(path) for _, path, _ in requests] == list(range(1, len(pages) + 1))
    if artifact_type:  # the filter is asked of the registry on the first page
        assert parse_qs(urlsplit(requests[0][1]).query)["artifactType"] == [artifact_type]


def test_a_filter_the_registry_claims_but_did_not_apply_is_applied_here():
    answer, host_ref = paged([[SBOMS[0]], [SBOMS[1], SIG]], relative, filtered=True)
    with scripted_server(answer) as (host, _):
        host_ref.append(host)
        assert referrers(host).descriptors == referrers(host, None).descriptors[-1:]


def test_unsupported_api_is_still_the_fallback_signal_and_a_missing_later_page_is_a_fault():
    answer, host_ref = paged([[], [SIG]], relative, status={1: 404})
    with scripted_server(answer) as (host, requests):
        host_ref.append(host)
        assert referrers(host).supported is False
    answer, host_ref = paged([[], [SIG]], relative, status={2: 404})
    with scripted_server(answer) as (host, requests):
        host_ref.append(host)
        with pytest.raises(ProtocolError, match=r"404.*\(referrers page 2\)"):
            referrers(host)
    assert len(requests) == 2


# ---- registries that try to get past the limits ---------------------------------------------


def endless(host, n):
    return f'<{PATH}?page={n}>; rel="next"'


LIMITS = [
    # (name, pages, link, error, message, requests made)
    ("link back to the first page", [[], [], []], lambda h, n: f'<{PATH}?{urlencode({"artifactType": BUNDLE})}>; rel="next"',
     ProtocolError, "goes back to a page already read", 1),
    ("link back to page 2", [[], [], [], []], lambda h, n: f'<{PATH}?page={2 if n == 4 else n}>; rel="next"',
     ProtocolError, "goes back to a page already read", 3),
    ("1000 empty pages", [[]] * 1000, endless, LimitExceededError,
     f"more than {MAX_REFERRER_PAGES} pages, the per-image limit", MAX_REFERRER_PAGES),
    ("1000 pages of other artifacts", [[SBOMS[0]]] * 1000, endless, LimitExceededError,
     f"more than {MAX_REFERRER_PAGES} pages", MAX_REFERRER_PAGES),
]


@pytest.mark.parametrize("name, pages, link, error, message, made", LIMITS, ids=[r[0] for r in LIMITS])
def test_pages_stop_at_a_loop_or_the_page_limit(name, pages, link, error, message, made):
    answer, host_ref = paged(pages, link)
    with scripted_server(answer) as (host, requests):
        host_ref.append(host)
        with pytest.raises(error, match=message):
            referrers(host)
    assert len(requests) == made


def padded(name: str, size: int) -> dict:
    """An SBOM entry whose annotation makes its page `size` bytes long."""
    base = len(index([entry(name, SBOM, annotations={"pad": ""})]))
    return entry(name, SBOM, annotations={"pad": "x" * (size - base)})


def test_a_page_over_the_size_limit_is_refused_unread():
    big = padded("big", 1024 * 1024 + 1)
    answer, host_ref = paged([[SBOMS[0]], [big], [SIG]], relative)
    with scripted_server(answer) as (host, requests):
        host_ref.append(host)
        with pytest.raises(LimitExceededError, match="larger than the limit of 1048576 bytes"):
            referrers(host)
    assert len(requests) == 2


def test_all_pages_together_stay_within_16_mib():
    size = 1_000_000
    pages = [[padded(f"page {n}", size)] for n in range(1, 30)]
    answer, host_ref = paged(pages, relative)
    with scripted_server(answer) as (host, requests):
        host_ref.append(host)
        with pytest.raises(LimitExceededError) as info:
            referrers(host)
    assert len(index(pages[0])) == size
    # 16 pages fit in 16 MiB; the 17th may take only what is left, and does not fit.
    left = 16 * 1024 * 1024 - 16 * size
    assert len(requests) == 17
    assert f"larger than the limit of {left} bytes: the referrers pages exceed the 16 MiB per-image limit " \
           f"({16 * size} bytes in 16 pages before this one)" in str(info.value)


def test_pages_stop_once_more_referrers_than_the_entry_limit_are_in_hand():
    per_page = 10
    pages = [[entry(f"bundle {n}.{i}", BUNDLE) for i in range(per_page)] for n in range(20)]
    answer, host_ref = paged(pages, relative)
    with scripted_server(answer) as (host, requests):
        host_ref.append(host)
        got = referrers(host)

        class NeverChecked:
            def bundle(self, *args):
                raise AssertionError("a referrer over the limit was checked")

            legacy = bundle

        async def discovered():
            async with RegistryStore(RegistryClient(credentials=ANON), all_referrer_pages=True) as store:
                return await discover(ImageBudget(store), f"{host}/org/app", SUBJECT, NeverChecked())

        found = run(discovered())
    pages_read = MAX_REFERRERS // per_page + 1
    assert len(got.descriptors) == pages_read * per_page
    # The client read no page past the limit; discovery says which limit, as for one long page.
    assert [page_number(path) for _, path, _ in requests[:pages_read]] == list(range(1, pages_read + 1))
    assert not found.verified
    assert found.faults == [f"{pages_read * per_page} bundle referrers exceed the {MAX_REFERRERS}-entry per-image limit"]


# ---- a link elsewhere never gets the registry's credentials ---------------------------------

CREDS = ("pages-user", "pages-Pa55")
AUTH = "Basic " + base64.b64encode(":".join(CREDS).encode()).decode()


@pytest.mark.parametrize("elsewhere", ["another loopback host", "same host, another port", "https on the same port",
                                       "user info in the link"])
def test_a_next_page_on_another_origin_is_never_asked(elsewhere):
    def other(method, path, headers):
        return 200, {"Content-Type": OCI_INDEX}, index([SIG])

    with scripted_server(other, host="127.0.0.2" if elsewhere == "another loopback host" else "127.0.0.1") as (
            other_host, other_requests):
        def registry(method, path, headers):
            if headers.get("Authorization") != AUTH:
                return 401, {"WWW-Authenticate": 'Basic realm="pages"'}, b""
            return 200, {"Content-Type": OCI_INDEX, "Link": f'<{target}>; rel="next"'}, index([SBOMS[0]])

        with scripted_server(registry) as (host, registry_requests):
            target = {
                "another loopback host": f"http://{other_host}{PATH}?page=2",
                "same host, another port": f"http://{other_host}{PATH}?page=2",
                "https on the same port": f"https://{host}{PATH}?page=2",
                "user info in the link": f"http://{CREDS[0]}:{CREDS[1]}@{host}{PATH}?page=2",
            }[elsewhere]
            with pytest.raises(ProtocolError) as info:
                referrers(host, credentials=CredentialStore({host: Credential(*CREDS)}))
    assert other_requests == []
    assert [path for _, path, _ in registry_requests].count(f"{PATH}?page=2") == 0
    assert "next page is on another origin" in str(info.value)
    assert f"followed only on http://{host}" in str(info.value)
    assert CREDS[1] not in str(info.value)


# ---- garbage pages ---------------------------------------------------------------------------

GARBAGE = [
    ("not JSON", {"Content-Type": OCI_INDEX}, b"<html>\x1b[2J\nnope", "referrers answer is not JSON"),
    ("a list", {"Content-Type": OCI_INDEX}, b"[]", "not an image index"),
    ("no manifests list", {"Content-Type": OCI_INDEX}, b'{"manifests": "x"}', "not an image index"),
    ("another media type", {"Content-Type": OCI_INDEX},
     json.dumps({"mediaType": "text/html\x1b]0;pwned\x07\nFAKE", "manifests": []}).encode(), "not an image index"),
    ("another Content-Type", {"Content-Type": "text/html"}, b'{"manifests": []}', "not an image index"),
    ("a broken Link", {"Content-Type": OCI_INDEX, "Link": "nope"}, index([]), "expected '<'"),
    ("a Link that is no URL", {"Content-Type": OCI_INDEX, "Link": '<http://[zz/>; rel="next"'}, index([]),
     "is not a valid URL"),
    ("a bad descriptor", {"Content-Type": OCI_INDEX}, index([{"digest": "sha256:\x1b[2J", "size": 1}]), "invalid digest"),
]


@pytest.mark.parametrize("name, headers, body, message", GARBAGE, ids=[r[0] for r in GARBAGE])
def test_a_garbage_later_page_is_an_error_with_its_words_escaped(name, headers, body, message):
    def answer(method, path, request_headers):
        if page_number(path) == 1:
            return 200, {"Content-Type": OCI_INDEX, "Link": f'<{PATH}?page=2>; rel="next"'}, index([])
        return 200, headers, body

    with scripted_server(answer) as (host, requests):
        with pytest.raises(RegistryError) as info:
            referrers(host)
    assert message in str(info.value)
    assert "page 2" in str(info.value)
    for text in (str(info.value), repr(info.value.args)):
        assert "\x1b" not in text and "\n" not in text and "\x07" not in text
    assert len(requests) == 2


# ---- verification reads the first page, as Talos and cosign; tree every page ----------------


class PagedLayout(httpx.AsyncBaseTransport):
    """An OCI layout behind a registry that pages its referrers: `fillers` pages of SBOM entries
    first (no filter applied), then the layout's own referrers list."""

    def __init__(self, root, fillers: int) -> None:
        self.layout = OCILayoutTransport(root)
        self.fillers = fillers
        self.referrer_requests = 0

    async def handle_async_request(self, request):
        if "/referrers/" not in request.url.path:
            return await self.layout.handle_async_request(request)
        self.referrer_requests += 1
        n = int(request.url.params.get("page", "1"))
        if n > self.fillers:
            return await self.layout.handle_async_request(httpx.Request("GET", request.url.copy_with(query=None)))
        return httpx.Response(200, headers={"Content-Type": OCI_INDEX,
                                            "Link": f'<{request.url.path}?page={n + 1}>; rel="next"'},
                              content=index([entry(f"sbom {n}", SBOM)]))


@pytest.fixture(scope="module")
def signed_layout(sigstore, tmp_path_factory):
    lay = OCILayoutWriter(tmp_path_factory.mktemp("paged"))
    digest = lay.image("localhost:5000/org/app:v1", {"app": b"paged"})
    referrer = lay.bundle_referrer(digest, lay.size_of(digest), sigstore.sign_bundle(digest, identity=ALICE))
    return lay.root, digest, referrer


@pytest.mark.parametrize("fillers, outcome, requests", [
    (0, "verified", 1),  # the signature on the first page
    (2, "failed", 1),  # on page 3: Talos and cosign never see it, nor does pullguard
])
def test_verify_reads_the_first_referrers_page_as_talos_and_cosign(sigstore, signed_layout, tmp_path, fillers,
                                                                   outcome, requests):
    root, digest, referrer = signed_layout
    transport = PagedLayout(root, fillers=fillers)
    loaded = load_policy(keyless_policy("localhost:5000/org/*", ALICE), "p.yaml")
    options = VerifyOptions(trusted_root=str(sigstore.write_trusted_root(tmp_path / "trusted_root.json")))

    async def go():
        async with RegistryStore(RegistryClient(credentials=ANON, transport=transport)) as store:
            return await verify_images(loaded, [f"localhost:5000/org/app@{digest}"], options, store=store)

    [result] = run(go())
    assert result.outcome == outcome, result.message
    if outcome == "verified":
        assert result.message == f"verified via bundle referrer with digest {referrer}"
    assert transport.referrer_requests == requests


def test_a_broken_link_on_the_first_page_is_not_read_by_verification():
    """Talos and cosign do not parse the Link header: garbage there changes nothing."""
    answer, host_ref = paged([[SIG], [SBOMS[0]]], lambda host, n: "garbage <<")
    with scripted_server(answer) as (host, requests):
        host_ref.append(host)
        got = referrers(host, all_pages=False)
        assert [d.to_json() for d in got.descriptors] == [SIG] and len(requests) == 1
        with pytest.raises(ProtocolError):
            referrers(host)


def test_tree_lists_the_referrers_of_every_page(signed_layout):
    root, digest, referrer = signed_layout
    transport = PagedLayout(root, fillers=2)

    async def go():
        async with RegistryStore(RegistryClient(credentials=ANON, transport=transport), all_referrer_pages=True) as store:
            return await inventory(store, "localhost:5000/org/app", digest)

    found = run(go())
    listed = [a.reference for a in found.artifacts]
    assert listed[:3] == [f"localhost:5000/org/app@{sha256_digest(b'sbom 1')}",
                          f"localhost:5000/org/app@{sha256_digest(b'sbom 2')}",
                          f"localhost:5000/org/app@{referrer}"]
    assert found.problems == []
    assert transport.referrer_requests == 3
