"""PEM public keys: parsing, the errors a person can act on, and SPEC fingerprints."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


class KeyFormatError(ValueError):
    """The text is not a usable PEM `PUBLIC KEY`; `code` says why, for diagnostics."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PublicKey:
    key: object  # a cryptography public key
    fingerprint: str  # sha256:<hex of DER SubjectPublicKeyInfo>
    algorithm: str  # "ecdsa-p256", "rsa-2048", "ed25519", ...


def fingerprint_der(der: bytes) -> str:
    return "sha256:" + hashlib.sha256(der).hexdigest()


def load_public_key_pem(text: str) -> PublicKey:
    """Parse one PEM `PUBLIC KEY` block, as Talos's `publicKey.certificate` holds.

    Raises KeyFormatError with code `certificate-not-public-key` for a `CERTIFICATE` block
    (Talos rejects those at verification time) and `invalid-public-key` otherwise.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    blocks = _PEM_BLOCK.findall(text or "")
    if not blocks:
        raise KeyFormatError("invalid-public-key", "no PEM block found; expected '-----BEGIN PUBLIC KEY-----'")
    label = blocks[0][0]
    if label == "CERTIFICATE":
        raise KeyFormatError(
            "certificate-not-public-key",
            "a CERTIFICATE block is not accepted here: Talos needs the PEM 'PUBLIC KEY' of the signer "
            "(extract it with 'openssl x509 -pubkey -noout')",
        )
    if label != "PUBLIC KEY":
        raise KeyFormatError(
            "invalid-public-key", f"PEM block is '{label}', expected 'PUBLIC KEY'"
        )
    if len(blocks) > 1:
        raise KeyFormatError("invalid-public-key", "more than one PEM block; expected exactly one 'PUBLIC KEY'")
    try:
        key = serialization.load_pem_public_key(text.strip().encode())
    except Exception as exc:  # cryptography raises ValueError / UnsupportedAlgorithm
        raise KeyFormatError("invalid-public-key", f"PUBLIC KEY does not parse: {exc}") from None
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = f"ecdsa-{key.curve.name}"
    elif isinstance(key, rsa.RSAPublicKey):
        algorithm = f"rsa-{key.key_size}"
    elif isinstance(key, ed25519.Ed25519PublicKey):
        algorithm = "ed25519"
    else:
        raise KeyFormatError("invalid-public-key", f"unsupported key type {type(key).__name__}")
    return PublicKey(key=key, fingerprint=fingerprint_der(der), algorithm=algorithm)
