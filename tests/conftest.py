"""Shared fixtures, thin: what they build lives in tests/support. Registry fixtures start Debian's
real `docker-registry` on loopback; each is session-scoped, so one process serves a whole run.
The private Sigstore fixtures and the signed world are module-scoped: each test module signs
with keys of its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.private_sigstore import PrivateSigstore
from tests.support.registry import REGISTRY_USER, TokenServer, htpasswd_auth, need_registry_binary, start_registry
from tests.support.signing import trusted_root
from tests.support.worlds import build_signed_world

# Loopback only, for this process and every Python process a test starts (tests/support/hermetic).
_HERMETIC = Path(__file__).parent / "support" / "hermetic"
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(_HERMETIC), os.environ.get("PYTHONPATH", "")) if p)
import tests.support.hermetic.sitecustomize  # noqa: E402,F401  (installs the guard here)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """An anonymous docker-registry: `registry.url` is http://127.0.0.1:<port>."""
    need_registry_binary()
    with start_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture(scope="session")
def basic_auth_registry(tmp_path_factory):
    """A docker-registry behind htpasswd basic auth; credentials are `REGISTRY_USER`."""
    need_registry_binary()
    root = tmp_path_factory.mktemp("basic-registry")
    with start_registry(root, auth=htpasswd_auth(root, dict([REGISTRY_USER]))) as server:
        yield server


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory):
    """A docker-registry with token auth and its loopback token service (`server.token_server`):
    anonymous pulls under `public/`, everything else needs `REGISTRY_USER`."""
    need_registry_binary()
    root = tmp_path_factory.mktemp("token-registry")
    tokens = TokenServer(root, dict([REGISTRY_USER])).start()
    try:
        with start_registry(root, auth=tokens.registry_auth()) as server:
            server.token_server = tokens
            yield server
    finally:
        tokens.stop()


@pytest.fixture(scope="module")
def sigstore():
    """Our own private Sigstore (root CA, CT log and Rekor keys), as devtools builds it."""
    return PrivateSigstore()


@pytest.fixture(scope="module")
def other_sigstore():
    """A second private Sigstore whose keys the first one's trusted root does not know."""
    return PrivateSigstore(name="somebody-else")


@pytest.fixture(scope="module")
def root(sigstore, tmp_path_factory):
    """The `sigstore` fixture's trusted root, written to a file and loaded as verification reads it."""
    return trusted_root(sigstore, tmp_path_factory.mktemp("root"))


@pytest.fixture(scope="module")
def signed_world(registry):
    """tests.support.worlds.build_signed_world on the session's registry."""
    return build_signed_world(registry)
