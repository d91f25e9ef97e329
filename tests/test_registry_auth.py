"""Credential files (docker / podman) and WWW-Authenticate parsing."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from pullguard.engine.registry.credentials import Credential, CredentialsError, CredentialStore, read_pull_secret
from pullguard.engine.registry.tokens import parse_challenge


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "key, lookup",
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("docker.io", "registry-1.docker.io"),
        ("ghcr.io", "ghcr.io"),
        ("https://GHCR.io", "ghcr.io"),
        ("http://localhost:5000/v2/", "localhost:5000"),
    ],
)
def test_keys_are_normalized(tmp_path, key, lookup):
    (tmp_path / "config.json").write_text(json.dumps({"auths": {key: {"auth": _b64("me:pw")}}}))
    store = CredentialStore.load([tmp_path / "config.json"])
    assert store.get(lookup) == Credential("me", "pw")
    assert store.get("quay.io") is None


@pytest.mark.parametrize(
    "entry, expected",
    [
        ({"auth": _b64("user:pa:ss")}, Credential("user", "pa:ss")),  # password may hold ':'
        ({"username": "user", "password": "pw"}, Credential("user", "pw")),
        ({"identitytoken": "opaque"}, Credential("", "", "opaque")),  # an OAuth2 refresh token
        ({"username": "u", "password": "p", "identitytoken": "t"}, Credential("u", "p", "t")),
        ({}, None),
    ],
)
def test_entry_forms(tmp_path, entry, expected):
    (tmp_path / "c.json").write_text(json.dumps({"auths": {"r.example": entry}}))
    assert CredentialStore.load([tmp_path / "c.json"]).get("r.example") == expected


@pytest.mark.parametrize("source", ["REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "HOME"])
def test_default_sources(tmp_path, source):
    doc = json.dumps({"auths": {"r.example": {"auth": _b64("from-" + source + ":pw")}}})
    env = {"HOME": str(tmp_path / "home")}
    if source == "REGISTRY_AUTH_FILE":
        (tmp_path / "auth.json").write_text(doc)
        env["REGISTRY_AUTH_FILE"] = str(tmp_path / "auth.json")
    elif source == "DOCKER_CONFIG":
        (tmp_path / "dc").mkdir()
        (tmp_path / "dc" / "config.json").write_text(doc)
        env["DOCKER_CONFIG"] = str(tmp_path / "dc")
    else:
        (tmp_path / "home" / ".docker").mkdir(parents=True)
        (tmp_path / "home" / ".docker" / "config.json").write_text(doc)
    store = CredentialStore.load(environ=env)
    assert store.get("r.example").username == "from-" + source


def test_registry_auth_file_wins_over_docker_config(tmp_path):
    (tmp_path / "auth.json").write_text(json.dumps({"auths": {"r.example": {"auth": _b64("podman:pw")}}}))
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"r.example": {"auth": _b64("docker:pw")},
                                                               "other.example": {"auth": _b64("docker:pw")}}}))
    store = CredentialStore.load(environ={"REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"),
                                          "DOCKER_CONFIG": str(tmp_path)})
    assert store.get("r.example").username == "podman"
    assert store.get("other.example").username == "docker"


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"auths": {"r.example": {"auth": "sup3r-secret"}}', "c.json:1:"),  # truncated JSON
        ('{"auths": {"r.example": {"auth": "bm90LWEtcGFpcg=="}}}', "`auth` is not base64 of user:password"),
        ('{"auths": {"r.example": {"auth": "sup3r-secret!!"}}}', "`auth` is not base64 of user:password"),
        ('{"auths": ["r.example"]}', "`auths` must be an object"),
        ('{"auths": {"r.example": {"auth": "sup3r-s\u00e9cret"}}}', "`auth` is not base64 of user:password"),  # not ASCII
        ('{"auths": ' + "[" * 5000 + "]" * 5000 + "}", "c.json:1:1: credentials file is not valid JSON (nested too deeply)"),
    ],
    ids=lambda value: value[:40],
)
def test_bad_credential_files_name_the_file_not_the_secret(tmp_path, content, message):
    (tmp_path / "c.json").write_text(content)
    with pytest.raises(CredentialsError) as info:
        CredentialStore.load([tmp_path / "c.json"])
    assert message in str(info.value) and str(tmp_path / "c.json") in str(info.value)
    assert "sup3r" not in str(info.value) and "bm90" not in str(info.value)


def test_reprs_hide_passwords():
    cred = Credential("alice", "hunter2-secret")
    store = CredentialStore({"r.example": cred})
    for text in (repr(cred), str(cred), repr(store)):
        assert "hunter2" not in text
    assert "alice" in repr(cred)


@pytest.mark.parametrize(
    "header, scheme, params",
    [
        ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
         "bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                    "scope": "repository:library/nginx:pull"}),
        ('Basic realm="Registry Realm"', "basic", {"realm": "Registry Realm"}),
        ('bearer realm=https://t.example/token, service=reg', "bearer", {"realm": "https://t.example/token", "service": "reg"}),
        ('Bearer realm="https://t/x",scope="repository:a/b:pull,push"', "bearer",
         {"realm": "https://t/x", "scope": "repository:a/b:pull,push"}),
    ],
)
def test_parse_challenge(header, scheme, params):
    challenge = parse_challenge(header)
    assert challenge.scheme == scheme and challenge.params == params


def test_store_adapter_maps_errors_for_discovery(registry):
    """The discovery view (`RegistryStore`): not found vs faults, contexts split correctly."""
    from pullguard.engine.registry.store import RegistryStore
    from pullguard.engine.signatures import discovery
    from tests.support.push import push_image
    from tests.support.registry import free_port

    digest = push_image(registry.url, "store/app", "v1", layers=[b"store layer"])

    async def go():
        async with RegistryStore.open(credentials=CredentialStore()) as store:
            context = f"{registry.host}/store/app"
            resolved = await store.resolve(context, "v1")
            fetched = await store.manifest(context, resolved, 128 * 1024)
            referrers = await store.referrers(context, resolved, "application/vnd.dev.sigstore.bundle.v0.3+json")
            with pytest.raises(discovery.ArtifactNotFound, match="404 MANIFEST_UNKNOWN"):
                await store.manifest(context, "sha256-" + resolved.split(":")[1], 128 * 1024)
            port = free_port()
            with pytest.raises(discovery.RegistryFault, match=f"cannot connect to registry 127.0.0.1:{port}"):
                await store.resolve(f"127.0.0.1:{port}/store/app", "v1")
            return resolved, fetched, referrers

    resolved, fetched, referrers = asyncio.run(go())
    assert resolved == digest == fetched.digest
    assert referrers is None  # docker-registry 2.8 has no referrers API: fall back to the tag


@pytest.mark.parametrize(
    "content, message",
    [
        ("kind: List\nitems: 5\n", "no kubernetes.io/dockerconfigjson Secret or docker config.json found"),
        ("kind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: sup3r-s\u00e9cret}\n",
         "data..dockerconfigjson is not base64 of UTF-8 text"),
        ("kind: Secret\ntype: kubernetes.io/dockerconfigjson\nstringData: " + "[" * 3000 + "]" * 3000 + "\n",
         "pull secret is nested too deeply"),
    ],
    ids=lambda value: value[:40],
)
def test_bad_pull_secrets_say_why_never_a_traceback(tmp_path, content, message):
    """Each was a TypeError, ValueError or RecursionError out of --pull-secret."""
    path = tmp_path / "regcred.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CredentialsError) as info:
        read_pull_secret(str(path))
    assert message in str(info.value) and "sup3r" not in str(info.value)
