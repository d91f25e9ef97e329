"""Attestations: signed in-toto statements about an image, as cosign stores them.

A legacy `sha256-<hex>.att` layer is a DSSE envelope (`application/vnd.dsse.envelope.v1+json`)
with the annotations of a `.sig` layer (certificate, chain, Rekor bundle); it is checked as cosign's
VerifyImageAttestations does: the envelope signature over the DSSE pre-authentication encoding (the
rule's key, or the certificate's key), the Rekor SET and the `intoto`/`dsse` entry it covers, the
certificate chain at the logged time, its SCT, the identity, and the statement's subject naming the
image digest. A Sigstore bundle attestation is a bundle whose DSSE statement carries the predicate
(`verify_bundle`). Either way the evidence carries the statement (`details["statement"]`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pullguard.engine import jsontext
from pullguard.engine.signatures.errors import SignatureError
from pullguard.engine.signatures.evidence import SignatureEvidence, TlogEntry
from pullguard.engine.signatures.legacy import (
    CERTIFICATE_ANNOTATION,
    CHAIN_ANNOTATION,
    logged_entry,
)
from pullguard.engine.signatures.payload import INTOTO_PAYLOAD_TYPE, check_statement, pae
from pullguard.engine.signatures.rekor import RekorEntry
from pullguard.engine.signatures.trust import TrustRoot, load_trusted_root
from pullguard.engine.vocabulary import KeylessVerifier, PublicKeyVerifier, Verifier

DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"


def _b64(text: object, what: str) -> bytes:
    try:
        return base64.b64decode(str(text or ""), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not base64") from None


def _envelope(data: bytes) -> tuple[str, bytes, list[bytes]]:
    try:
        doc = jsontext.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(f"attestation layer is not a DSSE envelope: {exc}") from None
    if not isinstance(doc, dict):
        raise SignatureError("attestation layer is not a DSSE envelope: not a JSON object")
    payload = _b64(doc.get("payload"), "DSSE payload")
    raw = doc.get("signatures")
    sigs = [_b64(s.get("sig"), "DSSE signature") for s in raw if isinstance(s, dict)] if isinstance(raw, list) else []
    if not sigs:
        raise SignatureError("DSSE envelope has no signatures")
    return str(doc.get("payloadType", "")), payload, sigs


def _statement(payload_type: str, payload: bytes, image_digest: str) -> dict[str, Any]:
    if payload_type != INTOTO_PAYLOAD_TYPE:
        raise SignatureError(f"DSSE payload type is {payload_type!r}, expected {INTOTO_PAYLOAD_TYPE!r}")
    return check_statement(payload, image_digest)


def _logged(annotations: dict[str, str], payload: bytes, signature: bytes, signer_der: bytes, signer_is_cert: bool,
            root: TrustRoot) -> RekorEntry:
    from pullguard.engine.signatures import rekor

    entry = logged_entry(annotations, root, "attestation")
    rekor.check_intoto(entry, payload, signature, signer_der, signer_is_cert)
    return entry


def verify_legacy_attestation(
    envelope: bytes, annotations: dict[str, str], image_digest: str, verifier: Verifier, trusted_root: TrustRoot | None = None
) -> SignatureEvidence:
    """Evidence (with the statement) when the `.att` layer satisfies `verifier`, else SignatureError."""
    from cryptography.hazmat.primitives import serialization

    from pullguard.engine.signatures.keyverify import crypto_key, over, rule_public_key, signature_valid

    if verifier.annotations:
        # cosign -a annotations live in a legacy signature's simple-signing payload; a DSSE
        # statement carries none to compare
        names = ", ".join(k for k, _ in verifier.annotations)
        raise SignatureError(f"the rule's annotations ({names}) are checked in legacy signature payloads; "
                             f"this attestation carries none")
    payload_type, payload, signatures = _envelope(envelope)
    message = pae(payload_type, payload)
    root = trusted_root if trusted_root is not None else load_trusted_root()
    if isinstance(verifier, PublicKeyVerifier):
        from pullguard.engine.keys import KeyFormatError

        try:
            public = rule_public_key(verifier.pem)
        except KeyFormatError as exc:
            raise SignatureError(f"rule's public key is unusable: {exc}") from None
        valid = next((s for s in signatures if signature_valid(crypto_key(public), s, message, verifier.hash_algorithm)), None)
        if valid is None:
            raise SignatureError(
                f"attestation signature does not verify with the rule's public key {public.fingerprint}"
                f"{over(verifier.hash_algorithm)} "
                "(signed by another key, or the envelope was altered)"
            )
        statement = _statement(payload_type, payload, image_digest)
        evidence = SignatureEvidence(format="legacy", artifact_digest=image_digest, key_fingerprint=public.fingerprint,
                                     details={"predicate_type": statement.get("predicateType"), "statement": statement})
        if not verifier.ignore_tlog:
            der = crypto_key(public).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            logged = _logged(annotations, payload, valid, der, False, root.with_overrides(rekor_pem=verifier.rekor_pubkey))
            evidence.tlog = TlogEntry(logged.log_index, logged.integrated_time)
            evidence.bundle_verified = True
        return evidence
    if not isinstance(verifier, KeylessVerifier):
        raise SignatureError(f"unsupported verifier {type(verifier).__name__}")

    from pullguard.engine.signatures import certs
    from pullguard.engine.signatures.trust import now_utc

    cert_pem = annotations.get(CERTIFICATE_ANNOTATION)
    if not cert_pem:
        raise SignatureError(
            "attestation has no certificate (dev.sigstore.cosign/certificate); the rule needs a keyless Fulcio signature"
        )
    cert = certs.load_pem_certificate(cert_pem, "signing certificate")
    valid = next((s for s in signatures if signature_valid(cert.public_key(), s, message)), None)
    if valid is None:
        raise SignatureError("attestation signature does not verify with the signing certificate's key (the envelope was altered)")
    statement = _statement(payload_type, payload, image_digest)
    root = root.with_overrides(roots_pem=verifier.roots, rekor_pem=verifier.rekor_pubkey, ctlog_pem=verifier.ctlog_pubkey)
    entry: RekorEntry | None = None
    if verifier.ignore_tlog:
        when = now_utc()
    else:
        entry = _logged(annotations, payload, valid, cert.public_bytes(serialization.Encoding.DER), True, root)
        when = entry.integrated_datetime
    identity = certs.check_keyless_certificate(cert, certs.load_pem_chain(annotations.get(CHAIN_ANNOTATION)), root, when,
                                               verifier)
    return SignatureEvidence(
        format="legacy",
        artifact_digest=image_digest,
        identity=identity,
        tlog=TlogEntry(entry.log_index, entry.integrated_time) if entry else None,
        bundle_verified=entry is not None,
        details={"predicate_type": statement.get("predicateType"), "statement": statement},
    )
