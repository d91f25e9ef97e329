"""Registries filled with signed images, built once per test module by conftest fixtures."""

from __future__ import annotations

from devtools.private_sigstore import PrivateSigstore
from tests.support.push import Pusher
from tests.support.registry import RegistryServer
from tests.support.signing import fixed_key


def build_signed_world(registry: RegistryServer) -> dict:
    """app/signed (good key), app/wrongkey (another key), app/unsigned, pushed to `registry`;
    the keys are fixed, so fingerprints and digests are the same on every run (snapshots)."""
    key, other = fixed_key(0x5EED_0001), fixed_key(0x5EED_0002)
    sigstore = PrivateSigstore()
    push = Pusher(registry.url)
    digests = {}
    for name, signer in (("app/signed", key), ("app/wrongkey", other), ("app/unsigned", None)):
        digest = push.push_image(name, "v1", content=f"pullguard tui {name}".encode())
        if signer is not None:
            push.attach_legacy(name, digest, [sigstore.sign_legacy(digest, key=signer, tlog=False)])
        digests[name] = digest
    push.close()
    return {"key": key, "url": registry.url, "host": registry.url.split("://", 1)[1], "digests": digests}
