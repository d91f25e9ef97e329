"""A certificate attestor as a verifier: cosign's `--certificate` / `--certificate-chain`, as both
Kyverno dialects build it (ClusterPolicy `certificates` in pkg/image/verifiers/cpol/cosign/cosign.go
buildCosignOptions, ImageValidatingPolicy `cosign.certificate` in pkg/image/verifiers/ivpol/cosign/
opts.go checkOptions): `cert` alone is the key that must have made the signature
(`signature.LoadVerifier(cert.PublicKey, hash)`); `certChain` is the trust anchor the signing
certificate must chain to (and, with `cert` too, that certificate it must be)."""

from __future__ import annotations

from ..keys import KeyFormatError, load_public_key_pem
from ..vocabulary import KeylessVerifier, PublicKeyVerifier, Verifier


def certificate_problem(text: str) -> str | None:
    """Why `text` is not PEM certificates pullguard can read, or None."""
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        return f"not a PEM certificate ({exc})"
    return None


def certificate_verifier(
    cert: str, chain: str, *, rekor_url: str | None, rekor_pubkey: str | None, ignore_tlog: bool,
    ctlog_pubkey: str | None, ignore_sct: bool, hash_algorithm: str = "sha256",
) -> Verifier:
    """The verifier of a certificate attestor whose `cert` and `certChain` (either may be "", not
    both) passed `certificate_problem`."""
    if chain:
        return KeylessVerifier(
            match="wildcard", roots=chain, certificate=cert or None, rekor_url=rekor_url, rekor_pubkey=rekor_pubkey,
            ignore_tlog=ignore_tlog, ctlog_pubkey=ctlog_pubkey, ignore_sct=ignore_sct,
        )
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    public = x509.load_pem_x509_certificate(cert.encode()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    try:
        fingerprint: str | None = load_public_key_pem(public).fingerprint
    except KeyFormatError:
        fingerprint = None
    return PublicKeyVerifier(pem=public.strip(), fingerprint=fingerprint, ignore_tlog=ignore_tlog,
                             rekor_pubkey=rekor_pubkey, hash_algorithm=hash_algorithm)
