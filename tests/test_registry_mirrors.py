"""Mirrors (Talos `machine.registries.mirrors` semantics) and `oci:PATH` layouts, against real
docker-registry processes: endpoints in order, then upstream unless skipFallback."""

from __future__ import annotations

import asyncio

import pytest

from devtools.oci_layout_writer import OCI_EMPTY
from pullguard.engine.endpoints import EndpointError, parse_endpoint
from pullguard.engine.registry.client import RegistryClient
from pullguard.engine.registry.credentials import CredentialStore
from pullguard.engine.registry.errors import NotFoundError, RegistryError, TransportError
from pullguard.engine.registry.mirrors import MirrorConfig, MirrorSpec, mirrors_from_flags, parse_mirror_flag
from tests.support.layout import copy_to_oci_layout
from tests.support.push import manifest_descriptor, push_image, push_index
from tests.support.registry import free_port, start_registry_process

BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def run(coro):
    return asyncio.run(coro)


async def _call(mirrors, fn):
    async with RegistryClient(mirrors=mirrors, credentials=CredentialStore()) as client:
        return await fn(client)


@pytest.fixture(scope="module")
def mirror_registries(tmp_path_factory, registry):
    """The session registry as upstream plus two mirror registries holding different content."""
    m1 = start_registry_process(tmp_path_factory.mktemp("mirror1"))
    m2 = start_registry_process(tmp_path_factory.mktemp("mirror2"))
    try:
        digests = {
            "upstream:v1": push_image(registry.url, "mirror/app", "v1", layers=[b"upstream v1"]),
            "upstream:only-upstream": push_image(registry.url, "mirror/app", "only-upstream", layers=[b"u"]),
            "m1:v1": push_image(m1.url, "mirror/app", "v1", layers=[b"mirror one v1"]),
            "m2:v1": push_image(m2.url, "mirror/app", "v1", layers=[b"mirror two v1"]),
            "m1:nginx": push_image(m1.url, "library/nginx", "1.25", layers=[b"nginx from mirror"]),
        }
        yield {"upstream": registry, "m1": m1, "m2": m2, "dead": f"http://127.0.0.1:{free_port()}",
               "digests": digests}
    finally:
        m1.stop()
        m2.stop()


def _endpoint(env, name: str) -> str:
    return env["dead"] if name == "dead" else env[name].url


@pytest.mark.parametrize(
    "mirrors, skip_fallback, tag, served_by, digest_key",
    [
        (["m1"], False, "v1", "m1", "m1:v1"),
        (["m2", "m1"], False, "v1", "m2", "m2:v1"),  # order
        (["m1", "m2"], False, "v1", "m1", "m1:v1"),
        (["m1"], False, "only-upstream", "upstream", "upstream:only-upstream"),  # fallback on 404
        (["dead", "m1"], False, "v1", "m1", "m1:v1"),  # unreachable mirror skipped
        (["dead"], False, "v1", "upstream", "upstream:v1"),
        ([], False, "v1", "upstream", "upstream:v1"),
    ],
)
def test_mirror_order_and_fallback(mirror_registries, mirrors, skip_fallback, tag, served_by, digest_key):
    env = mirror_registries
    upstream = env["upstream"].host
    config = MirrorConfig()
    if mirrors:
        config.add(upstream, [parse_endpoint(_endpoint(env, m)) for m in mirrors], skip_fallback=skip_fallback)
    m = run(_call(config, lambda c: c.get_manifest(upstream, "mirror/app", tag)))
    assert m.digest == env["digests"][digest_key]
    assert m.endpoint == _endpoint(env, served_by)


@pytest.mark.parametrize(
    "mirrors, tag, error, text",
    [
        (["m1"], "only-upstream", NotFoundError, "{m1}/v2/mirror/app/manifests/only-upstream: 404 MANIFEST_UNKNOWN"),
        (["dead"], "v1", TransportError, "cannot connect to registry {dead_host}: connection refused"),
        (["dead", "m1"], "nowhere", NotFoundError, "(mirrors tried first: {dead}: cannot connect"),
    ],
)
def test_skip_fallback_and_errors_name_each_endpoint(mirror_registries, mirrors, tag, error, text):
    env = mirror_registries
    upstream = env["upstream"].host
    config = MirrorConfig()
    config.add(upstream, [parse_endpoint(_endpoint(env, m)) for m in mirrors], skip_fallback=tag != "nowhere")
    with pytest.raises(error) as info:
        run(_call(config, lambda c: c.get_manifest(upstream, "mirror/app", tag)))
    expected = text.format(m1=env["m1"].url, dead=env["dead"], dead_host=env["dead"].removeprefix("http://"))
    assert expected in str(info.value)
    # skipFallback: the upstream is never asked (its URL is absent), though the message names the
    # image's registry (SPEC §3: "says what failed, for which host").
    assert f"http://{upstream}/v2" not in str(info.value) or tag == "nowhere"


# Through a mirror, the message names the image as its registry knows it, and the mirror that
# answered; after mirrors the upstream's own answer names its host in the URL.
# (mirrors, skipFallback, call, message start, also in the message)
NAMED = [
    (["m1"], True, lambda c, h: c.get_manifest(h, "mirror/app", "only-upstream"),
     "{up}/mirror/app:only-upstream via mirror {m1}: GET {m1}/v2/mirror/app/manifests/only-upstream", "404 MANIFEST_UNKNOWN"),
    (["m1"], True, lambda c, h: c.head_manifest(h, "mirror/app", "missing"),
     "{up}/mirror/app:missing via mirror {m1}: HEAD {m1}/v2/mirror/app/manifests/missing", ": 404"),
    (["dead"], True, lambda c, h: c.get_manifest(h, "mirror/app", "sha256:" + "a" * 64),
     "{up}/mirror/app@sha256:" + "a" * 64 + " via mirror {dead}: cannot connect", "connection refused"),
    (["m1"], True, lambda c, h: c.get_blob(h, "mirror/app", "sha256:" + "b" * 64),
     "{up}/mirror/app blob sha256:" + "b" * 64 + " via mirror {m1}: GET {m1}/v2/mirror/app/blobs/", "404"),
    (["dead", "m1"], False, lambda c, h: c.get_manifest(h, "mirror/app", "nowhere"),
     "{up}/mirror/app:nowhere: GET http://{up}/v2/mirror/app/manifests/nowhere: 404", "(mirrors tried first: {dead}: "),
    ([], False, lambda c, h: c.get_manifest(h, "mirror/app", "nowhere"),
     "GET http://{up}/v2/mirror/app/manifests/nowhere: 404", "MANIFEST_UNKNOWN"),
]


@pytest.mark.parametrize("mirrors, skip_fallback, call, start, also", NAMED)
def test_errors_through_a_mirror_name_the_image_registry_and_the_mirror(mirror_registries, mirrors, skip_fallback,
                                                                         call, start, also):
    env = mirror_registries
    upstream = env["upstream"].host
    config = MirrorConfig()
    if mirrors:
        config.add(upstream, [parse_endpoint(_endpoint(env, m)) for m in mirrors], skip_fallback=skip_fallback)
    with pytest.raises(RegistryError) as info:
        run(_call(config, lambda c: call(c, upstream)))
    values = dict(up=upstream, m1=env["m1"].url, dead=env["dead"])
    assert str(info.value).startswith(start.format(**values))
    assert also.format(**values) in str(info.value)


def test_errors_through_an_oci_layout_name_the_image_registry(layout_env):
    with pytest.raises(NotFoundError) as info:
        run(_call(_oci_mirrors(layout_env["layout"]), lambda c: c.head_manifest("ghcr.io", "acme/missing", "v1")))
    assert str(info.value) == (f"ghcr.io/acme/missing:v1 via mirror oci:{layout_env['layout']}: "
                               f"HEAD oci:{layout_env['layout']}/v2/acme/missing/manifests/v1: 404")


@pytest.mark.parametrize("key, image_registry", [("docker.io", "index.docker.io"), ("index.docker.io", "docker.io"),
                                           ("*", "index.docker.io")])
def test_docker_hub_aliases_and_wildcard(mirror_registries, key, image_registry):
    env = mirror_registries
    config = MirrorConfig()
    config.add(key, [parse_endpoint(env["m1"].url)], skip_fallback=True)  # no network: never fall back to Docker Hub
    m = run(_call(config, lambda c: c.get_manifest(image_registry, "library/nginx", "1.25")))
    assert m.digest == env["digests"]["m1:nginx"] and m.endpoint == env["m1"].url


def test_override_path_uses_the_endpoint_path_as_given(mirror_registries):
    env = mirror_registries
    config = MirrorConfig.coerce({env["upstream"].host: MirrorSpec(
        (parse_endpoint(env["m1"].url + "/v2", override_path=True),), skip_fallback=True)})
    m = run(_call(config, lambda c: c.get_manifest(env["upstream"].host, "mirror/app", "v1")))
    assert m.digest == env["digests"]["m1:v1"]


def test_plain_dict_mirrors_as_the_policy_loader_gives_them(mirror_registries):
    env = mirror_registries
    mirrors = {env["upstream"].host: [env["m2"].url]}
    m = run(_call(mirrors, lambda c: c.get_manifest(env["upstream"].host, "mirror/app", "v1")))
    assert m.endpoint == env["m2"].url


# ---- oci: layouts -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def layout_env(tmp_path_factory, registry):
    """Images pushed to the real registry and copied into an OCI layout, plus referrer artifacts."""
    url = registry.url
    v1 = push_image(url, "layout/app", "v1", layers=[b"layout layer a", b"layout layer b"])
    v1_desc = manifest_descriptor(url, "layout/app", v1)
    index = push_index(url, "layout/app", "multi", [v1_desc])
    bundle_ref = push_image(url, "layout/app", None, layers=[(b'{"bundle": 1}', BUNDLE)],
                               config=b"{}", config_media_type=OCI_EMPTY, subject=v1_desc, artifact_type=BUNDLE)
    other_ref = push_image(url, "layout/app", None, layers=[(b"sbom", "text/spdx")],
                              config=b"{}", config_media_type=OCI_EMPTY, subject=v1_desc,
                              artifact_type="application/spdx+json")
    layout = tmp_path_factory.mktemp("layout")
    copy_to_oci_layout(url, "layout/app", "v1", layout, ref_name="ghcr.io/layout/app:v1")
    copy_to_oci_layout(url, "layout/app", "multi", layout, ref_name="multi")  # a bare tag
    copy_to_oci_layout(url, "layout/app", "v1", layout, ref_name="nginx:1.25")  # Docker Hub short form
    for ref in (bundle_ref, other_ref):
        copy_to_oci_layout(url, "layout/app", ref, layout)
    return {"registry": registry, "layout": layout, "v1": v1, "multi": index,
            "bundle_ref": bundle_ref, "other_ref": other_ref}


def _oci_mirrors(layout, host="ghcr.io"):
    config = MirrorConfig()
    config.add(host, [parse_endpoint(f"oci:{layout}")], skip_fallback=True)
    return config


@pytest.mark.parametrize("reference", ["v1", "multi", "@v1", "@multi"])
def test_oci_layout_serves_the_same_answers_as_the_registry(layout_env, reference):
    env = layout_env
    ref = env[reference[1:]] if reference.startswith("@") else reference

    async def fetch_all(c, registry):
        m = await c.get_manifest(registry, "layout/app", ref)
        head = await c.head_manifest(registry, "layout/app", ref)
        children = [await c.get_manifest(registry, "layout/app", d.digest) for d in m.descriptors()] if m.is_index else [m]
        blobs = [(await c.get_blob(registry, "layout/app", d.digest)).data for ch in children for d in ch.descriptors()]
        return (m.data, m.media_type, m.digest, head.digest, head.media_type, head.size, blobs), m.endpoint

    from_registry, ep1 = run(_call(None, lambda c: fetch_all(c, env["registry"].host)))
    # index.json names v1 as `ghcr.io/layout/app:v1`, so the layout answers as a ghcr.io mirror.
    from_layout, ep2 = run(_call(_oci_mirrors(env["layout"]), lambda c: fetch_all(c, "ghcr.io")))
    assert from_layout == from_registry
    assert ep1 == env["registry"].url and ep2 == f"oci:{env['layout']}"


@pytest.mark.parametrize(
    "mirror_key, image_registry, repository, tag, found",
    [
        ("ghcr.io", "ghcr.io", "layout/app", "v1", "v1"),  # full reference in ref.name
        ("quay.io", "quay.io", "layout/app", "v1", None),  # same repository, another registry
        ("ghcr.io", "ghcr.io", "layout/other", "v1", None),
        ("quay.io", "quay.io", "any/repo", "multi", "multi"),  # bare tag: any repository
        ("docker.io", "index.docker.io", "library/nginx", "1.25", "v1"),  # `nginx:1.25`
        ("ghcr.io", "ghcr.io", "layout/app", "v2", None),
    ],
)
def test_oci_layout_ref_names(layout_env, mirror_key, image_registry, repository, tag, found):
    mirrors = _oci_mirrors(layout_env["layout"], mirror_key)

    def call(c):
        return c.get_manifest(image_registry, repository, tag)

    if found:
        assert run(_call(mirrors, call)).digest == layout_env[found]
    else:
        with pytest.raises(NotFoundError, match=rf"GET oci:.*/v2/{repository}/manifests/{tag}: 404 MANIFEST_UNKNOWN$"):
            run(_call(mirrors, call))


@pytest.mark.parametrize(
    "subject, artifact_type, expected",
    [
        ("v1", BUNDLE, ["bundle_ref"]),
        ("v1", None, ["bundle_ref", "other_ref"]),
        ("v1", "application/spdx+json", ["other_ref"]),
        ("multi", BUNDLE, []),
    ],
)
def test_oci_layout_referrers_api(layout_env, subject, artifact_type, expected):
    mirrors = _oci_mirrors(layout_env["layout"])
    answer = run(_call(mirrors, lambda c: c.get_referrers("ghcr.io", "layout/app", layout_env[subject],
                                                          artifact_type=artifact_type)))
    assert answer.supported is True and answer.endpoint == f"oci:{layout_env['layout']}"
    assert sorted(d.digest for d in answer.descriptors) == sorted(layout_env[k] for k in expected)
    for d in answer.descriptors:
        assert d.artifact_type in (BUNDLE, "application/spdx+json")


def test_oci_layout_missing_blob_and_bad_layout(layout_env, tmp_path):
    with pytest.raises(NotFoundError, match="404 BLOB_UNKNOWN"):
        run(_call(_oci_mirrors(layout_env["layout"]), lambda c: c.get_blob("ghcr.io", "layout/app", "sha256:" + "d" * 64)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegistryError,
                       match=r"GET oci:.*/empty/v2/layout/app/manifests/v1: 500 LAYOUT_INVALID: "
                             r".*empty is not an OCI image layout \(no index.json\)$"):
        run(_call(_oci_mirrors(tmp_path / "empty"), lambda c: c.get_manifest("ghcr.io", "layout/app", "v1")))


def test_oci_layout_blob_tampered_on_disk_is_caught(layout_env, tmp_path):
    import shutil

    layout = tmp_path / "copy"
    shutil.copytree(layout_env["layout"], layout)
    m = run(_call(_oci_mirrors(layout), lambda c: c.get_manifest("ghcr.io", "layout/app", "v1")))
    layer = m.descriptors()[0].digest
    (layout / "blobs" / "sha256" / layer.split(":")[1]).write_bytes(b"tampered")
    with pytest.raises(RegistryError, match="blob content has digest"):
        run(_call(_oci_mirrors(layout), lambda c: c.get_blob("ghcr.io", "layout/app", layer)))


# ---- parsing: --mirror and Talos documents ---------------------------------------------------


@pytest.mark.parametrize(
    "value, host, url",
    [
        ("docker.io=https://mirror.example.com", "index.docker.io", "https://mirror.example.com"),
        ("index.docker.io=http://127.0.0.1:5000", "index.docker.io", "http://127.0.0.1:5000"),
        ("ghcr.io=https://harbor.local/v2/proxy-ghcr", "ghcr.io", "https://harbor.local/v2/proxy-ghcr"),
        ("localhost:5000=http://127.0.0.1:6000", "localhost:5000", "http://127.0.0.1:6000"),
        ("*=https://all.example.com", "*", "https://all.example.com"),
    ],
)
def test_parse_mirror_flag(value, host, url):
    got_host, ep = parse_mirror_flag(value)
    assert (got_host, ep.url) == (host, url)


@pytest.mark.parametrize(
    "value, message",
    [
        ("docker.io", "expected HOST=ENDPOINT"),
        ("=https://m", "expected HOST=ENDPOINT"),
        ("docker.io=", "expected HOST=ENDPOINT"),
        ("https://docker.io=https://m", "HOST is a registry host[:port]"),
        ("docker.io=mirror.example.com", "must start with http://, https:// or oci:"),
        ("docker.io=ftp://mirror", "must start with http://, https:// or oci:"),
        ("docker.io=oci:", "`oci:` needs a path"),
        ("docker.io=oci:/nonexistent/layout", "is not an OCI image layout (no oci-layout file"),
        ("docker.io=https://user:pw@mirror", "credentials in the endpoint URL are not supported"),
    ],
)
def test_parse_mirror_flag_errors(value, message):
    with pytest.raises(EndpointError) as info:
        parse_mirror_flag(value)
    assert message in str(info.value)
    assert "pw@" not in str(info.value)


def test_repeated_flags_keep_order_and_merge_aliases(layout_env):
    config = mirrors_from_flags(["docker.io=https://a.example", f"index.docker.io=oci:{layout_env['layout']}",
                                 "ghcr.io=https://b.example"])
    client = RegistryClient(mirrors=config, credentials=CredentialStore())
    assert client.endpoints("docker.io") == ["https://a.example", f"oci:{layout_env['layout']}",
                                             "https://registry-1.docker.io"]
    assert client.endpoints("ghcr.io") == ["https://b.example", "https://ghcr.io"]
    assert client.endpoints("quay.io") == ["https://quay.io"]
    run(client.aclose())


@pytest.mark.parametrize(
    "documents, image_registry, endpoints",
    [
        ("machine:\n  registries:\n    mirrors:\n      docker.io:\n        endpoints: [https://m1, https://m2]\n",
         "index.docker.io", ["https://m1", "https://m2", "https://registry-1.docker.io"]),
        ("machine:\n  registries:\n    mirrors:\n      ghcr.io: {endpoints: [https://m1], skipFallback: true}\n",
         "ghcr.io", ["https://m1"]),
        ("apiVersion: v1alpha1\nkind: RegistryMirrorConfig\nname: registry.k8s.io\n"
         "endpoints: [{url: https://harbor/v2/k8s, overridePath: true}]\nskipFallback: true\n",
         "registry.k8s.io", ["https://harbor/v2/k8s"]),
        ("kind: ImageVerificationConfig\nrules: []\n---\nkind: RegistryMirrorConfig\nname: '*'\n"
         "endpoints: [{url: 'http://all:5000'}]\n",
         "quay.io", ["http://all:5000", "https://quay.io"]),
    ],
)
def test_mirrors_from_talos_documents(documents, image_registry, endpoints):
    # The policy loader reads them as plain data; the client routes with their endpoints.
    from pullguard.engine.policy.talos.mirrors import read_mirrors
    from pullguard.engine.yamlsource import compose

    docs, error = compose(documents)
    assert error is None
    config = MirrorConfig.coerce({h: MirrorSpec(m.endpoints, m.skip_fallback) for h, m in read_mirrors(docs)[0].items()})
    client = RegistryClient(mirrors=config, credentials=CredentialStore())
    assert client.endpoints(image_registry) == endpoints
    run(client.aclose())


def test_override_path_api_base():
    assert parse_endpoint("https://harbor/v2/k8s", override_path=True).api_base == "https://harbor/v2/k8s"
    assert parse_endpoint("https://mirror.example.com/docker-io/").api_base == "https://mirror.example.com/docker-io/v2"
