"""Keys, trusted roots and verifiers for tests that sign with the private Sigstore
(devtools/private_sigstore.py; the conftest fixtures `sigstore`, `other_sigstore` and `root`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from devtools.private_sigstore import Identity, PrivateSigstore, public_pem
from pullguard.engine.keys import load_public_key_pem
from pullguard.engine.signatures.trust import TrustRoot, load_trusted_root
from pullguard.engine.vocabulary import PublicKeyVerifier

# Keyless signers of the private Sigstore: ALICE is the one the policies trust, MALLORY is not.
ISSUER = "https://issuer.pullguard.test"
ALICE = Identity("alice@example.com", ISSUER)
MALLORY = Identity("mallory@example.com", ISSUER)


def fixed_key(secret: int) -> ec.EllipticCurvePrivateKey:
    """A P-256 key derived from a number: the same key, and fingerprint, on every run (snapshots)."""
    return ec.derive_private_key(secret, ec.SECP256R1())


def key_rule(key, **kw) -> PublicKeyVerifier:
    """A public-key rule (Talos `publicKey`) for a signing key, with its SPEC fingerprint."""
    pem = public_pem(key)
    return PublicKeyVerifier(pem=pem, fingerprint=load_public_key_pem(pem).fingerprint, **kw)


def trusted_root(sigstore: PrivateSigstore, directory: Path) -> TrustRoot:
    """`sigstore`'s trusted root, written to `directory` and loaded as verification reads it."""
    return load_trusted_root(sigstore.write_trusted_root(directory / "trusted_root.json"))


def sign_options(sigstore: PrivateSigstore, options: dict) -> dict:
    """A table row's signing options for `sigstore`, copied: `integrated_at_minutes` (when the log
    saw the signature, in minutes after `sigstore.now`) becomes the `integrated_at` time."""
    opts = dict(options)
    if "integrated_at_minutes" in opts:
        opts["integrated_at"] = sigstore.now + timedelta(minutes=opts.pop("integrated_at_minutes"))
    return opts
