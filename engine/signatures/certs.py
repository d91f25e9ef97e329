"""Fulcio certificate checks for signatures sigstore-python cannot take (legacy cosign):
chain to a CA of the trusted root at the logged time, and the embedded CT precertificate SCT.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING

from pullguard.engine.signatures.errors import SignatureError
from pullguard.engine.signatures.trust import TrustRoot, validity_text

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.x509.verification import ExtensionPolicy

    from pullguard.engine.signatures.evidence import Identity
    from pullguard.engine.vocabulary import KeylessVerifier

SCT_LIST_OID = "1.3.6.1.4.1.11129.2.4.2"


def _when(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_keyless_certificate(
    cert: x509.Certificate, intermediates: list[x509.Certificate], root: TrustRoot, when: datetime,
    verifier: KeylessVerifier,
) -> Identity:
    """What a keyless certificate must prove once its signature verified, for `.sig` and `.att`
    layers and Sigstore bundles alike: a chain to a Fulcio CA valid at `when` (the logged time),
    code signing, a valid SCT (unless the rule ignores it), and the rule's identity and Fulcio
    extensions."""
    from pullguard.engine.signatures.identity import certificate_identity, check_certificate_policy, check_identity

    chain = verify_chain(cert, intermediates, root, when)
    check_code_signing(cert)
    if not verifier.ignore_sct:
        verify_sct(cert, chain, root)
    identity = certificate_identity(cert)
    check_identity(identity, verifier)
    check_certificate_policy(cert, verifier)
    return identity


def load_pem_certificate(pem: str | bytes, what: str) -> x509.Certificate:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    except ValueError as exc:
        raise SignatureError(f"{what} is not a PEM certificate: {exc}") from None


def load_pem_chain(pem: str | None) -> list[x509.Certificate]:
    if not pem or "BEGIN CERTIFICATE" not in pem:
        return []
    return list(_pem_chain(pem))


@lru_cache(maxsize=64)
def _pem_chain(pem: str) -> tuple[x509.Certificate, ...]:
    # Every signature of a signer carries the same chain annotation: parse it once.
    from cryptography import x509

    try:
        return tuple(x509.load_pem_x509_certificates(pem.encode()))
    except ValueError as exc:
        raise SignatureError(f"certificate chain annotation does not parse: {exc}") from None


@lru_cache(maxsize=1)
def _extension_policies() -> tuple[ExtensionPolicy, ExtensionPolicy]:
    """(CA, end-entity) policies: WebPKI defaults, but Fulcio leaves carry code-signing, not
    client-auth, EKU, so EKU is left to `check_code_signing`."""
    from cryptography.x509 import ExtendedKeyUsage
    from cryptography.x509.verification import Criticality, ExtensionPolicy

    return (
        ExtensionPolicy.webpki_defaults_ca().may_be_present(ExtendedKeyUsage, Criticality.NON_CRITICAL, None),
        ExtensionPolicy.webpki_defaults_ee().may_be_present(ExtendedKeyUsage, Criticality.NON_CRITICAL, None),
    )


def verify_chain(cert: x509.Certificate, intermediates: list[x509.Certificate], root: TrustRoot, when: datetime) -> list[x509.Certificate]:
    """The verified chain [leaf, issuer, ..., anchor] valid at `when`, or SignatureError."""
    from cryptography.x509 import UnsupportedGeneralNameType
    from cryptography.x509.verification import PolicyBuilder, VerificationError

    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not (start <= when <= end):
        raise SignatureError(
            f"certificate was not valid at the logged time {_when(when)} (valid from {_when(start)} to {_when(end)})"
        )
    if not root.authorities:
        raise SignatureError(f"trusted root {root.source} has no Fulcio certificate authorities")
    # A CA is used only for signatures made inside its `validFor` window (SPEC §6), as
    # sigstore-go does: a retired or not-yet-valid CA issues nothing we accept.
    store = root.fulcio_store_at(when)
    if store is None:
        windows = "; ".join(f"{ca.uri or 'CA'} {validity_text(ca.valid_from, ca.valid_until)}" for ca in root.authorities)
        raise SignatureError(
            f"no Fulcio CA of the trusted root {root.source} is valid at the signing time {_when(when)} ({windows})"
        )
    ca_policy, ee_policy = _extension_policies()
    verifier = (
        PolicyBuilder()
        .store(store)
        .time(when)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )
    try:
        return list(verifier.verify(cert, intermediates).chain)
    except (VerificationError, UnsupportedGeneralNameType) as exc:
        issuer = cert.issuer.rfc4514_string() or "(empty)"
        why = str(exc)
        if "candidates exhausted" in why:
            why = "no certificate authority of the trusted root issued it"
        raise SignatureError(
            f"certificate (issued by {issuer}) does not chain to a Fulcio CA of the trusted root "
            f"{root.source} at {_when(when)}: {why}"
        ) from None


def check_code_signing(cert: x509.Certificate) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = []
    if ExtendedKeyUsageOID.CODE_SIGNING not in usages:
        raise SignatureError("certificate is not for code signing (extended key usage lacks codeSigning)")


def _is_preissuer(cert: x509.Certificate) -> bool:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CERTIFICATE_TRANSPARENCY in eku


def check_sct_window(cert: x509.Certificate, root: TrustRoot) -> None:
    """An SCT of the certificate is from a CT log of the root whose key was valid at the SCT's
    time (SPEC §6); for bundles, whose SCT sigstore verified with any key of the root."""
    from cryptography import x509

    try:
        scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    except (x509.ExtensionNotFound, ValueError):
        return  # sigstore refused such a certificate already
    seen = []
    for sct in scts:
        logged = sct.timestamp.replace(tzinfo=timezone.utc)
        key = root.ct_key(sct.log_id)
        if key is not None and key.valid_at(logged):
            return
        if key is not None:
            seen.append(f"CT log {sct.log_id.hex()} at {_when(logged)} ({key.window()})")
    if seen:
        raise SignatureError(f"certificate's SCT is from a CT log whose key was not valid at the SCT time: {'; '.join(seen)}")


def verify_sct(cert: x509.Certificate, chain: list[x509.Certificate], root: TrustRoot) -> None:
    """The certificate's embedded precertificate SCT verifies with a CT log key of the trusted root.

    The log signed (RFC 6962 §3.2): version, type, timestamp, entry type precert, the SHA-256 of the
    issuer's public key, the TBSCertificate without the SCT list extension, and the SCT extensions.
    """
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.certificate_transparency import LogEntryType

    try:
        scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    except x509.ExtensionNotFound:
        raise SignatureError("certificate has no embedded SCT (certificate transparency proof missing)") from None
    except ValueError as exc:
        raise SignatureError(f"certificate's SCT list does not parse: {exc}") from None
    if len(scts) != 1:
        raise SignatureError(f"certificate must carry exactly one SCT, it has {len(scts)}")
    sct = scts[0]
    if sct.entry_type != LogEntryType.PRE_CERTIFICATE:
        raise SignatureError("certificate's SCT is not a precertificate SCT")
    if len(chain) < 2:
        raise SignatureError("cannot check the SCT: the certificate's issuer is unknown")
    issuer = chain[2] if _is_preissuer(chain[1]) and len(chain) > 2 else chain[1]
    issuer_key_hash = hashlib.sha256(
        issuer.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).digest()
    tbs = cert.tbs_precertificate_bytes
    ts_ms = int(sct.timestamp.replace(tzinfo=timezone.utc).timestamp() * 1000)
    signed = (
        struct.pack("!BBQH", sct.version.value, 0, ts_ms, LogEntryType.PRE_CERTIFICATE.value)
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + struct.pack("!H", len(sct.extension_bytes))
        + sct.extension_bytes
    )
    key = root.ct_key(sct.log_id)
    if key is None:
        raise SignatureError(
            f"certificate's SCT is from CT log {sct.log_id.hex()}, which is not in the trusted root {root.source}"
        )
    logged = sct.timestamp.replace(tzinfo=timezone.utc)
    if not key.valid_at(logged):
        raise SignatureError(
            f"certificate's SCT is from CT log {sct.log_id.hex()}, whose key was not valid at the SCT time "
            f"{_when(logged)} ({key.window()})"
        )
    try:
        key.verify(sct.signature, signed)
    except InvalidSignature:
        raise SignatureError(
            f"certificate's SCT signature does not verify with CT log {sct.log_id.hex()} ({key.base_url})"
        ) from None
