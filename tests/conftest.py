"""Shared fixtures. Registry fixtures start Debian's real `docker-registry` on loopback
(see tests/registry_server.py); each is session-scoped, so one process serves a whole run.
The private Sigstore fixtures are module-scoped: each test module signs with keys of its own."""

from __future__ import annotations

import shutil

import pytest

from tests import registry_server


def _need_registry_binary() -> None:
    if not shutil.which("docker-registry") and not registry_server.Path(registry_server.REGISTRY_BINARY).exists():
        pytest.skip("docker-registry is not installed (apt-get install docker-registry; .ci/run does)")


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """An anonymous docker-registry: `registry.url` is http://127.0.0.1:<port>."""
    _need_registry_binary()
    with registry_server.start_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


REGISTRY_USER = ("pullguard", "s3cret-Pa55word")


@pytest.fixture(scope="session")
def basic_auth_registry(tmp_path_factory):
    """A docker-registry behind htpasswd basic auth; credentials are `REGISTRY_USER`."""
    _need_registry_binary()
    root = tmp_path_factory.mktemp("basic-registry")
    auth = registry_server.htpasswd_auth(root, dict([REGISTRY_USER]))
    with registry_server.start_registry(root, auth=auth) as server:
        yield server


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory):
    """A docker-registry with token auth and its loopback token service (`server.token_server`):
    anonymous pulls under `public/`, everything else needs `REGISTRY_USER`."""
    _need_registry_binary()
    root = tmp_path_factory.mktemp("token-registry")
    tokens = registry_server.TokenServer(root, dict([REGISTRY_USER])).start()
    try:
        with registry_server.start_registry(root, auth=tokens.registry_auth()) as server:
            server.token_server = tokens
            yield server
    finally:
        tokens.stop()


@pytest.fixture(scope="module")
def sigstore():
    """Our own private Sigstore (root CA, CT log and Rekor keys), as devtools builds it."""
    from devtools.private_sigstore import PrivateSigstore

    return PrivateSigstore()


@pytest.fixture(scope="module")
def other_sigstore():
    """A second private Sigstore whose keys the first one's trusted root does not know."""
    from devtools.private_sigstore import PrivateSigstore

    return PrivateSigstore(name="somebody-else")


@pytest.fixture(scope="module")
def root(sigstore, tmp_path_factory):
    """The `sigstore` fixture's trusted root, written to a file and loaded as verification reads it."""
    from pullguard.engine.signatures.trust import load_trusted_root

    return load_trusted_root(sigstore.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json"))


def key_rule(key, **kw):
    """A public-key rule (Talos `publicKey`) for a signing key, with its SPEC fingerprint."""
    from devtools.private_sigstore import public_pem
    from pullguard.engine.keys import load_public_key_pem
    from pullguard.engine.vocabulary import PublicKeyVerifier

    pem = public_pem(key)
    return PublicKeyVerifier(pem=pem, fingerprint=load_public_key_pem(pem).fingerprint, **kw)
