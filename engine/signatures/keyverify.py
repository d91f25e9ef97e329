"""Checking a raw signature with a public key, the way cosign's verifiers do.

By default (Talos): ECDSA: cosign signs with SHA-256 for every curve in the legacy format and with
the curve's own hash (P-384 → SHA-384) in newer tools, so both are accepted. RSA: PKCS#1 v1.5 or PSS
over SHA-256. Ed25519: pure Ed25519. With a hash algorithm named (Kyverno's `signatureAlgorithm`,
sha256 when unset), only that one, as sigstore's `signature.LoadVerifier` builds the verifier.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
    from cryptography.hazmat.primitives.hashes import HashAlgorithm

    from pullguard.engine.keys import PublicKey

_EC_HASH_BY_CURVE = {"secp256r1": "SHA256", "secp384r1": "SHA384", "secp521r1": "SHA512"}


def _hash(name: str) -> HashAlgorithm:
    from cryptography.hazmat.primitives import hashes

    algorithm: HashAlgorithm = getattr(hashes, name)()
    return algorithm


# Kyverno's signatureAlgorithmMap (pkg/image/verifiers/cpol/cosign/verifier.go; ivpol/cosign/certs.go)
HASH_ALGORITHMS = {"sha224": "SHA224", "sha256": "SHA256", "sha384": "SHA384", "sha512": "SHA512"}


def over(hash_algorithm: str | None) -> str:
    """' over sha512' for a failure message, when a rule names a digest other than the default."""
    return f" over {hash_algorithm}" if hash_algorithm not in (None, "sha256") else ""


def signature_valid(key: PublicKeyTypes, signature: bytes, data: bytes, hash_algorithm: str | None = None) -> bool:
    """True when `signature` over `data` verifies with `key` (a cryptography public key).

    `hash_algorithm` (a `HASH_ALGORITHMS` name) is the one digest to accept, as sigstore's
    `signature.LoadVerifier(key, hash)` does: ECDSA over it, RSA PKCS#1 v1.5 over it, Ed25519 pure
    (the hash does not apply). None keeps the lenient default described in the module."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    attempts: list[Callable[[], None]] = []
    if hash_algorithm is not None:
        name = HASH_ALGORITHMS[hash_algorithm]
        if isinstance(key, ec.EllipticCurvePublicKey):
            ec_strict = key
            attempts = [lambda: ec_strict.verify(signature, data, ec.ECDSA(_hash(name)))]
        elif isinstance(key, rsa.RSAPublicKey):
            rsa_strict = key
            attempts = [lambda: rsa_strict.verify(signature, data, padding.PKCS1v15(), _hash(name))]
        elif isinstance(key, ed25519.Ed25519PublicKey):
            ed_strict = key
            attempts = [lambda: ed_strict.verify(signature, data)]
    elif isinstance(key, ec.EllipticCurvePublicKey):
        ec_key = key
        names = dict.fromkeys([_EC_HASH_BY_CURVE.get(ec_key.curve.name, "SHA256"), "SHA256"])
        attempts = [lambda n=n: ec_key.verify(signature, data, ec.ECDSA(_hash(n))) for n in names]  # type: ignore[misc]
    elif isinstance(key, rsa.RSAPublicKey):
        rsa_key = key
        attempts = [
            lambda: rsa_key.verify(signature, data, padding.PKCS1v15(), _hash("SHA256")),
            lambda: rsa_key.verify(
                signature,
                data,
                padding.PSS(mgf=padding.MGF1(_hash("SHA256")), salt_length=padding.PSS.AUTO),
                _hash("SHA256"),
            ),
        ]
    elif isinstance(key, ed25519.Ed25519PublicKey):
        ed_key = key
        attempts = [lambda: ed_key.verify(signature, data)]
    for attempt in attempts:
        try:
            attempt()
            return True
        except (InvalidSignature, ValueError):
            continue
    return False


def key_details_for(key: PublicKeyTypes) -> str:
    """The trusted-root `keyDetails` name for a public key."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePublicKey):
        return {
            "secp256r1": "PKIX_ECDSA_P256_SHA_256",
            "secp384r1": "PKIX_ECDSA_P384_SHA_384",
            "secp521r1": "PKIX_ECDSA_P521_SHA_512",
        }[key.curve.name]
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "PKIX_ED25519"
    if isinstance(key, rsa.RSAPublicKey):
        return f"PKIX_RSA_PKCS1V15_{key.key_size}_SHA256"
    raise ValueError(f"unsupported key type {type(key).__name__}")


def verify_with_log_key(key: PublicKeyTypes, key_details: str, signature: bytes, data: bytes) -> None:
    """A log (Rekor, CT) signature, with the hash its `keyDetails` name; raises InvalidSignature."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    if isinstance(key, ec.EllipticCurvePublicKey):
        by_details = {
            "PKIX_ECDSA_P256_SHA_256": "SHA256",
            "PKIX_ECDSA_P384_SHA_384": "SHA384",
            "PKIX_ECDSA_P521_SHA_512": "SHA512",
        }
        name = by_details.get(key_details) or _EC_HASH_BY_CURVE.get(key.curve.name, "SHA256")
        key.verify(signature, data, ec.ECDSA(_hash(name)))
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, data)
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), _hash("SHA256"))
    else:
        raise InvalidSignature(f"unsupported log key type {type(key).__name__}")


def signature_valid_prehashed(key: PublicKeyTypes, signature: bytes, digest: bytes) -> bool:
    """True when `signature` was made over the SHA-256 `digest` itself (Sigstore message signatures)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    prehashed = Prehashed(_hash("SHA256"))
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        else:  # Ed25519 cannot sign a prehash (cosign uses ed25519ph, which cryptography lacks)
            return False
        return True
    except (InvalidSignature, ValueError):
        return False


def crypto_key(public: PublicKey) -> PublicKeyTypes:
    """The cryptography key of a parsed rule key (`keys.PublicKey.key` is typed `object`)."""
    return cast("PublicKeyTypes", public.key)


@lru_cache(maxsize=64)
def rule_public_key(pem: str) -> PublicKey:
    """The rule's `pullguard.engine.keys.PublicKey`, parsed once per PEM text (not once per signature).
    Raises KeyFormatError like `load_public_key_pem` (failures are not cached)."""
    from pullguard.engine.keys import load_public_key_pem

    return load_public_key_pem(pem)
