"""RegistryClient against the real docker-registry (anonymous, htpasswd, token auth), plus the
faults a real server cannot produce (fault transports) and small loopback servers for
redirects and timeouts."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time

import httpx
import pytest

from devtools.oci_layout_writer import OCI_CONFIG, OCI_EMPTY, OCI_LAYER
from pullguard.engine.registry.client import RegistryClient
from pullguard.engine.registry.credentials import Credential, CredentialStore
from pullguard.engine.registry.errors import (
    AuthenticationError,
    DigestMismatchError,
    InsecureRegistryError,
    LimitExceededError,
    NotFoundError,
    RegistryError,
    RegistryTimeoutError,
    ServerError,
    TransportError,
)
from pullguard.engine.registry.hosts import is_loopback
from pullguard.engine.registry.models import DOCKER_MANIFEST, MAX_MANIFEST_SIZE, OCI_INDEX, OCI_MANIFEST, sha256_digest
from tests.support.push import descriptor, manifest_descriptor, push_blob, push_image, push_index, push_manifest
from tests.support.registry import REGISTRY_USER, TokenServer, free_port, start_registry
from tests.support.scripted_http import scripted_server

ANON = CredentialStore()


def run(coro):
    return asyncio.run(coro)


async def _with_client(fn, **kw):
    kw.setdefault("credentials", ANON)
    async with RegistryClient(**kw) as client:
        return await fn(client), client


# ---- images in the real registry ------------------------------------------------------------


@pytest.fixture(scope="module")
def images(registry):
    """app:v1 (OCI manifest), app:list (OCI index over v1), docker:v2 (Docker media type)."""
    url = registry.url
    v1 = push_image(url, "org/app", "v1", layers=[b"layer one", b"layer two"])
    v1_desc = manifest_descriptor(url, "org/app", v1)
    index = push_index(url, "org/app", "list", [{**v1_desc, "platform": {"os": "linux", "architecture": "amd64"}}])
    config = b'{"architecture":"amd64","os":"linux"}'
    push_blob(url, "org/docker", config)
    push_blob(url, "org/docker", b"docker layer")
    docker = push_manifest(url, "org/docker", "v2", {
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": descriptor("application/vnd.docker.container.image.v1+json", config),
        "layers": [descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", b"docker layer")],
    })
    return {"v1": v1, "list": index, "docker": docker}


@pytest.mark.parametrize(
    "repo, ref, media_type, key",
    [
        ("org/app", "v1", OCI_MANIFEST, "v1"),
        ("org/app", "@v1", OCI_MANIFEST, "v1"),  # by digest
        ("org/app", "list", OCI_INDEX, "list"),
        ("org/app", "@list", OCI_INDEX, "list"),
        ("org/docker", "v2", DOCKER_MANIFEST, "docker"),
    ],
)
def test_manifest_by_tag_and_digest(registry, images, repo, ref, media_type, key):
    reference = images[key] if ref.startswith("@") else ref
    m, client = run(_with_client(lambda c: c.get_manifest(registry.host, repo, reference)))
    assert m.media_type == media_type
    assert m.digest == images[key] == sha256_digest(m.data)
    assert m.endpoint == registry.url
    assert client.request_count == 1  # anonymous registry: no auth round trip


def test_index_lists_its_manifests_and_blobs_are_hash_checked(registry, images):
    async def go(c):
        index = await c.get_manifest(registry.host, "org/app", "list")
        [child] = index.descriptors()
        manifest = await c.get_manifest(registry.host, "org/app", child.digest)
        blobs = [await c.get_blob(registry.host, "org/app", d.digest) for d in manifest.descriptors()]
        head = await c.head_manifest(registry.host, "org/app", "v1")
        return index, manifest, blobs, head

    (index, manifest, blobs, head), _ = run(_with_client(go))
    assert index.is_index and not manifest.is_index
    assert [b.data for b in blobs] == [b"layer one", b"layer two"]
    assert head.digest == images["v1"] and head.media_type == OCI_MANIFEST and head.size == len(manifest.data)


@pytest.mark.parametrize(
    "call, error, text",
    [
        (lambda c, h: c.get_manifest(h, "org/app", "missing"), NotFoundError, "/v2/org/app/manifests/missing: 404 MANIFEST_UNKNOWN"),
        (lambda c, h: c.get_manifest(h, "org/nothing", "v1"), NotFoundError, "/v2/org/nothing/manifests/v1: 404"),
        (lambda c, h: c.get_blob(h, "org/app", "sha256:" + "0" * 64), NotFoundError, "/v2/org/app/blobs/sha256:000"),
        (lambda c, h: c.head_manifest(h, "org/app", "missing"), NotFoundError, "HEAD http://"),
    ],
)
def test_not_found_is_distinct_and_names_host_and_repository(registry, images, call, error, text):
    with pytest.raises(error) as info:
        run(_with_client(lambda c: call(c, registry.host)))
    assert text in str(info.value)
    assert registry.host in str(info.value)
    assert not isinstance(info.value, TransportError)


def test_referrers_unsupported_by_docker_registry_2_8_gives_fallback_signal(registry, images):
    answer, _ = run(_with_client(lambda c: c.get_referrers(
        registry.host, "org/app", images["v1"], artifact_type="application/vnd.dev.sigstore.bundle.v0.3+json")))
    assert answer.supported is False and answer.descriptors == ()


def test_oversize_manifest_from_real_registry_is_refused(registry):
    big = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": descriptor(OCI_EMPTY, b"{}"), "layers": [],
           "annotations": {"padding": "x" * (MAX_MANIFEST_SIZE + 10)}}
    push_blob(registry.url, "org/big", b"{}")
    digest = push_manifest(registry.url, "org/big", "huge", big)
    for ref in ("huge", digest):
        with pytest.raises(LimitExceededError, match=r"larger than the limit of 131072 bytes"):
            run(_with_client(lambda c, ref=ref: c.get_manifest(registry.host, "org/big", ref)))


def test_unreachable_registry_is_a_transport_error():
    port = free_port()
    with pytest.raises(TransportError) as info:
        run(_with_client(lambda c: c.get_manifest(f"127.0.0.1:{port}", "org/app", "v1")))
    assert str(info.value) == f"cannot connect to registry 127.0.0.1:{port}: connection refused"
    assert not isinstance(info.value, NotFoundError)


# ---- auth against real registries ---------------------------------------------------------


def _store(host: str, user=REGISTRY_USER) -> CredentialStore:
    return CredentialStore({host: Credential(*user)})


@pytest.fixture(scope="module")
def basic_image(basic_auth_registry):
    return push_image(basic_auth_registry.url, "private/app", "v1", layers=[b"secret layer"], auth=REGISTRY_USER)


@pytest.fixture(scope="module")
def token_images(token_registry):
    url = token_registry.url
    return {
        "public": push_image(url, "public/app", "v1", layers=[b"public layer"], auth=REGISTRY_USER),
        "private": push_image(url, "private/app", "v1", layers=[b"private layer"], auth=REGISTRY_USER),
    }


@pytest.mark.parametrize(
    "creds, outcome",
    [
        (None, "401 UNAUTHORIZED (no credentials for"),
        (("pullguard", "wrong password"), "401 UNAUTHORIZED"),
        (REGISTRY_USER, "ok"),
    ],
)
def test_basic_auth_registry(basic_auth_registry, basic_image, creds, outcome):
    store = _store(basic_auth_registry.host, creds) if creds else ANON

    def call(c):
        return c.get_manifest(basic_auth_registry.host, "private/app", "v1")

    if outcome == "ok":
        m, client = run(_with_client(call, credentials=store))
        assert m.digest == basic_image
        assert client.request_count == 2  # 401 challenge, then the request with credentials
    else:
        with pytest.raises(AuthenticationError) as info:
            run(_with_client(call, credentials=store))
        assert outcome in str(info.value) and basic_auth_registry.host in str(info.value)


@pytest.mark.parametrize(
    "repo, creds, key, error",
    [
        ("public/app", None, "public", None),  # anonymous token
        ("public/app", REGISTRY_USER, "public", None),
        ("private/app", REGISTRY_USER, "private", None),
        ("private/app", None, None, "refused anonymous access (no credentials for"),
        ("private/app", ("pullguard", "nope"), None, "refused the credentials"),
    ],
)
def test_token_auth_registry(token_registry, token_images, repo, creds, key, error):
    store = _store(token_registry.host, creds) if creds else ANON

    def call(c):
        return c.get_manifest(token_registry.host, repo, "v1")

    if error:
        with pytest.raises(AuthenticationError) as info:
            run(_with_client(call, credentials=store))
        assert error in str(info.value) and "private/app" in str(info.value)
        return
    m, _ = run(_with_client(call, credentials=store))
    assert m.digest == token_images[key]


def test_bearer_token_is_reused_per_repository_scope(token_registry, token_images):
    tokens = token_registry.token_server
    host = token_registry.host

    async def go(c):
        before = len(tokens.requests)
        m = await c.get_manifest(host, "private/app", "v1")
        await asyncio.gather(*(c.get_blob(host, "private/app", d.digest) for d in m.descriptors()))
        await c.get_manifest(host, "private/app", m.digest)
        await c.get_manifest(host, "public/app", "v1")  # new scope: one more token, no extra 401
        return tokens.requests[before:]

    token_requests, client = run(_with_client(go, credentials=_store(host)))
    scopes = [q["scope"] for _, q, _ in token_requests]
    assert scopes == [["repository:private/app:pull"], ["repository:public/app:pull"]]
    # Basic credentials are sent to the token realm when the store has them, as docker does.
    assert all(had_auth for _, _, had_auth in token_requests)
    # 401 + token + manifest, 1 blob, manifest by digest, token + manifest for the second scope.
    assert client.request_count == 3 + 1 + 1 + 2


def test_access_token_field_is_accepted(tmp_path):
    tokens = TokenServer(tmp_path, dict([REGISTRY_USER]), token_field="access_token").start()
    try:
        with start_registry(tmp_path, auth=tokens.registry_auth()) as reg:
            digest = push_image(reg.url, "public/x", "v1", layers=[b"x"], auth=REGISTRY_USER)
            m, _ = run(_with_client(lambda c: c.get_manifest(reg.host, "public/x", "v1")))
            assert m.digest == digest
    finally:
        tokens.stop()


def test_docker_config_credentials_reach_the_basic_auth_registry(basic_auth_registry, basic_image, tmp_path, monkeypatch):
    auth = base64.b64encode(":".join(REGISTRY_USER).encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {basic_auth_registry.host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)

    async def go():
        async with RegistryClient() as c:  # default: credentials from the docker config
            return await c.get_manifest(basic_auth_registry.host, "private/app", "v1")

    assert run(go()).digest == basic_image


def test_credentials_never_appear_in_errors_reprs_or_logs(basic_auth_registry, basic_image, caplog):
    user, password = REGISTRY_USER
    secrets = [password, base64.b64encode(f"{user}:{password}".encode()).decode()]
    wrong = ("pullguard", "another-Secret-99")
    secrets += [wrong[1], base64.b64encode(":".join(wrong).encode()).decode()]
    host = basic_auth_registry.host
    texts = []
    caplog.set_level(logging.DEBUG)

    async def go(store):
        async with RegistryClient(credentials=store, timeout=2) as c:
            texts.extend([repr(c), repr(c.credentials), repr(c.credentials.get(host)), str(c.credentials.get(host))])
            for call in (lambda: c.get_manifest(host, "private/app", "missing"),
                         lambda: c.get_blob(host, "private/app", "sha256:" + "1" * 64),
                         lambda: c.get_manifest(host, "private/app", "v1")):
                try:
                    texts.append(repr(await call()))
                except RegistryError as exc:
                    texts.extend([str(exc), repr(exc), repr(exc.args), repr(exc.attempts)])

    run(go(_store(host)))
    run(go(_store(host, wrong)))
    texts.append(caplog.text)
    joined = "\n".join(texts)
    assert "404 MANIFEST_UNKNOWN" in joined and "401 UNAUTHORIZED" in joined  # the errors were seen
    for secret in secrets:
        assert secret not in joined


# ---- faults a real registry cannot produce: fault transports -------------------------------

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(b"{}"), "size": 2},
                       "layers": []}).encode()
MANIFEST_DIGEST = sha256_digest(MANIFEST)


def _manifest_response(body=MANIFEST, digest=MANIFEST_DIGEST, status=200, **headers):
    h = {"Content-Type": OCI_MANIFEST, **headers}
    if digest:
        h["Docker-Content-Digest"] = digest
    return httpx.Response(status, headers=h, content=body)


class Script:
    """A fault transport answering from a list of responses (or exceptions) in order."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request):
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer() if callable(answer) else answer


def _fault_client(script, **kw):
    waits: list[float] = []

    async def fake_sleep(seconds):
        waits.append(seconds)

    kw.setdefault("credentials", ANON)
    client = RegistryClient(transport=httpx.MockTransport(script), sleep=fake_sleep, **kw)
    return client, waits


@pytest.mark.parametrize(
    "answers, waits, ok",
    [
        ([httpx.Response(429, headers={"Retry-After": "2"}), _manifest_response()], [2.0], True),
        ([httpx.Response(503, headers={"Retry-After": "30"}), _manifest_response()], [10.0], True),  # capped
        ([httpx.Response(429), httpx.Response(502), _manifest_response()], None, True),  # backoff without Retry-After
        ([httpx.ReadError("connection reset by peer"), _manifest_response()], None, True),
        ([httpx.Response(503)], None, False),  # retries exhausted
        ([httpx.Response(500)], None, False),
    ],
)
def test_retries_honour_retry_after(answers, waits, ok):
    script = Script(*answers)
    client, slept = _fault_client(script, timeout=60)  # room for every wait (the deadline: adversarial table)

    async def go():
        async with client:
            return await client.get_manifest("127.0.0.1:5000", "org/app", "v1")

    if ok:
        assert run(go()).digest == MANIFEST_DIGEST
        assert len(script.requests) == len(answers)
    else:
        with pytest.raises(ServerError, match=r"GET http://127\.0\.0\.1:5000/v2/org/app/manifests/v1: 50\d \(after 3 attempts\)"):
            run(go())
        assert len(script.requests) == 3
    if waits is not None:
        assert slept == waits
    assert all(0 < w <= 10 for w in slept) and len(slept) == len(script.requests) - 1


def test_no_retry_on_client_errors():
    script = Script(httpx.Response(501))
    client, slept = _fault_client(script)

    async def go():
        async with client:
            await client.get_manifest("127.0.0.1:5000", "org/app", "v1")

    with pytest.raises(ServerError, match="501"):
        run(go())
    assert len(script.requests) == 1 and slept == []


@pytest.mark.parametrize(
    "reference, response, error",
    [
        ("v1", _manifest_response(digest="sha256:" + "a" * 64), "not sha256:aaaa"),  # header disagrees
        (MANIFEST_DIGEST, _manifest_response(body=MANIFEST + b" "), f"not {MANIFEST_DIGEST} (the requested digest)"),
        ("sha256:" + "b" * 64, _manifest_response(digest="sha256:" + "b" * 64), "(the requested digest)"),
    ],
)
def test_manifest_digest_mismatch(reference, response, error):
    client, _ = _fault_client(Script(response))

    async def go():
        async with client:
            await client.get_manifest("127.0.0.1:5000", "org/app", reference)

    with pytest.raises(DigestMismatchError) as info:
        run(go())
    assert error in str(info.value)


def test_blob_digest_mismatch():
    wanted = sha256_digest(b"the real bytes")
    client, _ = _fault_client(Script(httpx.Response(200, content=b"tampered bytes")))

    async def go():
        async with client:
            await client.get_blob("127.0.0.1:5000", "org/app", wanted)

    with pytest.raises(DigestMismatchError,
                       match=f"blob content has digest {sha256_digest(b'tampered bytes')}, not the requested {wanted}"):
        run(go())


@pytest.mark.parametrize("declared", [True, False])
def test_oversize_blob_is_cut_off_early(declared):
    chunk = b"x" * 65536
    produced = []

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self):
            for i in range(1000):  # 64 MiB if read to the end
                produced.append(i)
                yield chunk

    headers = {"Content-Length": str(len(chunk) * 1000)} if declared else {}
    client, _ = _fault_client(lambda request: httpx.Response(200, headers=headers, stream=Endless()))

    async def go():
        async with client:
            await client.get_blob("127.0.0.1:5000", "org/app", "sha256:" + "c" * 64, max_size=1 << 20)

    with pytest.raises(LimitExceededError, match="blob is larger than the limit of 1048576 bytes"):
        run(go())
    assert len(produced) <= (0 if declared else 17)


def test_too_many_layers():
    layers = [{"mediaType": OCI_LAYER, "digest": sha256_digest(bytes([i])), "size": 1} for i in range(101)]
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": layers}).encode()
    client, _ = _fault_client(Script(_manifest_response(body=body, digest=sha256_digest(body))))

    async def go():
        async with client:
            return await client.get_manifest("127.0.0.1:5000", "org/app", "v1")

    m = run(go())
    with pytest.raises(LimitExceededError, match="has 101 layers, more than the limit of 100"):
        m.descriptors()
    assert len(m.descriptors(max_count=101)) == 101


@pytest.mark.parametrize(
    "host, scheme_ok",
    [("localhost:5000", True), ("127.0.0.1", True), ("127.9.9.9:80", True), ("[::1]:5000", True),
     ("registry.local:5000", False), ("ghcr.io", False), ("10.0.0.1:5000", False), ("localhost.example.com", False)],
)
def test_plain_http_only_for_loopback_and_insecure(host, scheme_ok):
    assert is_loopback(host) is scheme_ok
    client = RegistryClient(credentials=ANON)
    insecure = RegistryClient(credentials=ANON, insecure=[host])
    assert client.endpoints(host) == [("http://" if scheme_ok else "https://") + host]
    assert insecure.endpoints(host) == ["http://" + host]
    run(client.aclose())
    run(insecure.aclose())


def test_docker_hub_names_one_registry():
    client = RegistryClient(credentials=ANON)
    assert client.endpoints("docker.io") == client.endpoints("index.docker.io") == ["https://registry-1.docker.io"]
    run(client.aclose())


def test_redirect_to_plain_http_elsewhere_is_refused():
    # TEST-NET addresses, not names: the fault transport answers them and nothing is resolved.
    def handler(request):
        if request.url.host == "192.0.2.1":
            return httpx.Response(307, headers={"Location": "http://192.0.2.2/blob"})
        return httpx.Response(200, content=b"bytes")

    client, _ = _fault_client(handler)

    async def go():
        async with client:
            await client.get_blob("192.0.2.1", "org/app", sha256_digest(b"bytes"))

    with pytest.raises(InsecureRegistryError, match="refusing plain HTTP to 192.0.2.2"):
        run(go())


# ---- small real servers: redirects and timeouts ---------------------------------------------


BLOB = b"blob bytes kept in object storage"
BLOB_DIGEST = sha256_digest(BLOB)


@pytest.mark.parametrize(
    "storage_host, same_origin, keeps_auth",
    [
        ("127.0.0.2", False, False),  # another loopback host
        ("127.0.0.1", False, False),  # same host, another port
        ("127.0.0.1", True, True),  # same origin: credentials are fine
    ],
)
def test_redirect_drops_credentials_for_another_host(storage_host, same_origin, keeps_auth):
    creds = ("redirect-user", "redirect-Pa55")
    expected_auth = "Basic " + base64.b64encode(":".join(creds).encode()).decode()

    def storage(method, path, headers):
        return 200, {"Content-Type": "application/octet-stream"}, BLOB

    with scripted_server(storage, host=storage_host) as (storage_host_port, storage_requests):
        def registry(method, path, headers):
            if headers.get("Authorization") != expected_auth:
                return 401, {"WWW-Authenticate": 'Basic realm="test"'}, b""
            if path.startswith("/v2/org/app/blobs/"):
                return 307, {"Location": "/storage/blob" if same_origin else f"http://{storage_host_port}/storage/blob"}, b""
            if path == "/storage/blob":
                return 200, {}, BLOB
            return 404, {}, b""

        with scripted_server(registry) as (host, registry_requests):
            blob, _ = run(_with_client(lambda c: c.get_blob(host, "org/app", BLOB_DIGEST),
                                       credentials=_store(host, creds)))
    assert blob.data == BLOB
    final = registry_requests[-1] if same_origin else storage_requests[-1]
    assert final[1] == "/storage/blob"
    assert ("Authorization" in final[2]) is keeps_auth
    if not same_origin:
        assert len(storage_requests) == 1


def test_per_request_timeout():
    def slow(method, path, headers):
        time.sleep(2)
        return 200, {}, b"{}"

    with scripted_server(slow) as (host, _):
        started = time.monotonic()
        with pytest.raises(RegistryTimeoutError) as info:
            run(_with_client(lambda c: c.get_manifest(host, "org/app", "v1"), timeout=0.3))
        elapsed = time.monotonic() - started
    assert f"registry {host} did not answer within 0.3s" in str(info.value)
    assert isinstance(info.value, TransportError) and not isinstance(info.value, NotFoundError)
    assert elapsed < 1.9  # gave up before the server answered (no retry of a timeout)


# ---- connections ------------------------------------------------------------------------------


class _CountingTransport(httpx.AsyncHTTPTransport):
    """A real transport that counts the TCP connections it opens (httpcore trace events)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.connects = 0

    async def handle_async_request(self, request):
        async def trace(name, info):
            if name == "connection.connect_tcp.started":
                self.connects += 1

        request.extensions["trace"] = trace
        return await super().handle_async_request(request)


@pytest.mark.parametrize(
    "calls, connections",
    [
        (lambda c, h, d: [c.head_manifest(h, "org/app", "v1") for _ in range(5)], 1),  # HEAD bodies read: reused
        (lambda c, h, d: [c.get_manifest(h, "org/app", "v1") for _ in range(5)], 1),
        (lambda c, h, d: [c.head_manifest(h, "org/app", "missing") for _ in range(3)], 1),  # 404 too
        (lambda c, h, d: [f(h) for _ in range(3) for f in (lambda h: c.head_manifest(h, "org/app", "v1"),
                                                            lambda h: c.get_manifest(h, "org/app", d))], 1),
    ],
)
def test_sequential_requests_reuse_one_connection(registry, images, calls, connections):
    transport = _CountingTransport()

    async def go(c):
        for call in calls(c, registry.host, images["v1"]):
            try:
                await call
            except NotFoundError:
                pass

    run(_with_client(go, transport=transport))
    assert transport.connects == connections


@pytest.mark.parametrize("concurrency, pool", [(1, 4), (4, 4), (8, 8), (16, 16), (64, 64)])
def test_connection_pool_follows_verify_concurrency(concurrency, pool):
    from pullguard.engine.registry.client import connection_pool_size
    from pullguard.engine.verify import VerifyOptions, merge_mirrors, open_store

    assert connection_pool_size(concurrency) == pool
    store = open_store(VerifyOptions(concurrency=concurrency), merge_mirrors({}, {}))
    assert store.client.max_connections == pool
    run(store.aclose())
