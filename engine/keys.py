"""PEM public keys: parsing, the errors a person can act on, and SPEC fingerprints."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # cryptography is imported when a key is parsed, not with this module
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    # The kinds cosign verifies with (and load_public_key_pem accepts).
    VerifyingKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


class KeyFormatError(ValueError):
    """The text is not a usable PEM `PUBLIC KEY`; `code` says why, for diagnostics."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PublicKey:
    key: VerifyingKey
    fingerprint: str  # sha256:<hex of DER SubjectPublicKeyInfo>
    algorithm: str  # "ecdsa-p256", "rsa-2048", "ed25519", ...


def fingerprint_der(der: bytes) -> str:
    return "sha256:" + hashlib.sha256(der).hexdigest()


def load_public_key_pem(text: str) -> PublicKey:
    """Parse one PEM public key block, as Talos's `publicKey.certificate` and Kyverno's
    `publicKeys` hold: a `PUBLIC KEY` (SubjectPublicKeyInfo) or, as sigstore's
    `cryptoutils.UnmarshalPEMToPublicKey` also reads, an `RSA PUBLIC KEY` (PKCS#1).

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
    if label not in ("PUBLIC KEY", "RSA PUBLIC KEY"):
        raise KeyFormatError(
            "invalid-public-key", f"PEM block is '{label}', expected 'PUBLIC KEY'"
        )
    if len(blocks) > 1:
        raise KeyFormatError("invalid-public-key", "more than one PEM block; expected exactly one 'PUBLIC KEY'")
    der = _block_der(blocks[0][1])
    if label == "RSA PUBLIC KEY":  # x509.ParsePKCS1PublicKey: an RSAPublicKey and nothing else
        if not _is_pkcs1_rsa(der):
            raise KeyFormatError(
                "invalid-public-key",
                "the RSA PUBLIC KEY block does not hold a PKCS#1 RSA key (SEQUENCE of modulus and exponent); "
                "a SubjectPublicKeyInfo belongs in a 'PUBLIC KEY' block")
    elif _is_pkcs1_rsa(der):  # cryptography takes it; Go's x509.ParsePKIXPublicKey does not
        raise KeyFormatError(
            "invalid-public-key",
            "the PUBLIC KEY block holds a PKCS#1 RSA key, not a SubjectPublicKeyInfo, and Talos refuses it; "
            "convert it with 'openssl rsa -RSAPublicKey_in -pubout'")
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        key = serialization.load_der_public_key(der)
    except UnsupportedAlgorithm:
        raise KeyFormatError("invalid-public-key", f"the PUBLIC KEY is of a kind cosign cannot verify with; {_KINDS}") from None
    except ValueError:  # cryptography's words are about ASN.1 internals: say what can be done
        raise KeyFormatError("invalid-public-key", _der_problem(der)) from None
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _GO_CURVES:
            raise KeyFormatError(
                "invalid-public-key",
                f"unsupported elliptic curve {key.curve.name}: Go (Talos, cosign) reads only the NIST curves "
                "P-224, P-256, P-384 and P-521 ('x509: unsupported elliptic curve')")
        algorithm = f"ecdsa-{key.curve.name}"
    elif isinstance(key, rsa.RSAPublicKey):
        algorithm = f"rsa-{key.key_size}"
    elif isinstance(key, ed25519.Ed25519PublicKey):
        algorithm = "ed25519"
    else:
        kind = type(key).__name__.removesuffix("PublicKey")
        raise KeyFormatError("invalid-public-key", f"{kind} keys cannot verify signatures here; {_KINDS}")
    return PublicKey(key=key, fingerprint=fingerprint_der(der), algorithm=algorithm)


# Go's x509.ParsePKIXPublicKey knows these curves; sigstore's LoadVerifier takes ECDSA, RSA, Ed25519.
_GO_CURVES = {"secp224r1", "secp256r1", "secp384r1", "secp521r1"}
_KINDS = "cosign verifies ECDSA (P-256, P-384, P-521), RSA and Ed25519 keys"
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def _block_der(body: str) -> bytes:
    """The bytes of a PEM block's base64 body (RFC 7468; header lines such as `Name: x` skipped)."""
    import base64
    import binascii

    lines = [line.strip() for line in body.strip().splitlines()]
    if any(":" in line for line in lines):  # RFC 1421 headers end at the first blank line
        blank = lines.index("") if "" in lines else 0
        lines = lines[blank:]
    text = "".join("".join(lines).split())
    if not text:
        raise KeyFormatError("invalid-public-key", "the PUBLIC KEY block is empty")
    bad = next((ch for ch in text if ch not in _BASE64), None)
    if bad is not None:
        raise KeyFormatError("invalid-public-key",
                             f"the PUBLIC KEY block is not base64: {bad!r} cannot occur in it")
    if len(text) % 4:
        raise KeyFormatError("invalid-public-key",
                             f"the PUBLIC KEY block's base64 is cut short ({len(text)} characters, not a multiple "
                             "of 4): is it truncated?")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:  # '=' in the middle
        raise KeyFormatError("invalid-public-key", "the PUBLIC KEY block is not base64: '=' before its end") from None


def _is_pkcs1_rsa(der: bytes) -> bool:
    """A DER `RSAPublicKey` (SEQUENCE of two INTEGERs) where a SubjectPublicKeyInfo (SEQUENCE
    starting with the algorithm SEQUENCE) belongs."""
    if len(der) < 4 or der[0] != 0x30:
        return False
    offset = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    return offset < len(der) and der[offset] == 0x02


def _der_problem(der: bytes) -> str:
    """Why the DER does not read as a SubjectPublicKeyInfo, in terms a person can act on."""
    head = "the PUBLIC KEY block does not decode as a SubjectPublicKeyInfo (DER)"
    if len(der) < 2 or der[0] != 0x30:
        return f"{head}: it does not start like one; is it a PUBLIC KEY at all, or not base64 of DER?"
    length, offset = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(der[2:2 + count], "big"), 2 + count
    whole = offset + length
    if whole > len(der):
        return f"{head}: it is truncated ({len(der)} bytes of the {whole} it announces)"
    if whole < len(der):
        return f"{head}: {len(der) - whole} bytes follow the key; are two keys pasted together?"
    return f"{head}: is it truncated, or a key of another format (SSH, PKCS#1 'RSA PUBLIC KEY')?"
