"""Legacy cosign signatures: the `sha256-<hex>.sig` tag's simple-signing layers.

Checked as cosign's VerifyImageSignature does: the signature over the payload (rule key, or the
certificate's key), the Rekor SET and entry consistency (unless the rule ignores the tlog, as Talos
does for public keys), the certificate chain at the logged time, its SCT, the identity, and the
payload's claim that it is for this image. The first layer that verifies wins.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from pullguard.engine.signatures.errors import SignatureError
from pullguard.engine.signatures.evidence import SignatureEvidence, TlogEntry
from pullguard.engine.signatures.rekor import RekorEntry
from pullguard.engine.signatures.trust import TrustRoot, load_trusted_root
from pullguard.engine.vocabulary import KeylessVerifier, PublicKeyVerifier, Verifier

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"


@dataclass(frozen=True)
class LegacyLayer:
    """One simple-signing layer: its payload blob and the layer's annotations."""

    payload: bytes
    annotations: dict[str, str] = field(default_factory=dict)


def _root_for(verifier: Verifier, trusted_root: TrustRoot | None) -> TrustRoot:
    root = trusted_root if trusted_root is not None else load_trusted_root()
    if isinstance(verifier, KeylessVerifier):
        return root.with_overrides(
            roots_pem=verifier.roots, rekor_pem=verifier.rekor_pubkey, ctlog_pem=verifier.ctlog_pubkey
        )
    return root.with_overrides(rekor_pem=verifier.rekor_pubkey)


def logged_entry(annotations: dict[str, str], root: TrustRoot, what: str) -> RekorEntry:
    """The Rekor entry in a `.sig` or `.att` layer's bundle annotation, its SET verified against
    the root (the caller then checks that the entry is of this `what`'s signature)."""
    from pullguard.engine.signatures import rekor

    text = annotations.get(BUNDLE_ANNOTATION)
    if not text:
        raise SignatureError(
            f"{what} has no Rekor bundle annotation ({BUNDLE_ANNOTATION}); "
            "a transparency-log entry is required and cannot be looked up offline"
        )
    entry = rekor.parse_cosign_bundle(text)
    rekor.verify_set(entry, root)
    return entry


def _verify_tlog(layer: LegacyLayer, signature: bytes, signer_der: bytes, signer_is_cert: bool, root: TrustRoot) -> RekorEntry:
    from pullguard.engine.signatures import rekor

    entry = logged_entry(layer.annotations, root, "signature")
    rekor.check_hashedrekord(entry, layer.payload, signature, signer_der, signer_is_cert)
    return entry


def _verify_layer(layer: LegacyLayer, image_digest: str, verifier: Verifier, trusted_root: TrustRoot | None) -> SignatureEvidence:
    from cryptography.hazmat.primitives import serialization

    from pullguard.engine.signatures.keyverify import crypto_key, over, rule_public_key, signature_valid
    from pullguard.engine.signatures.payload import check_annotations, check_simple_signing

    sig_text = layer.annotations.get(SIGNATURE_ANNOTATION)
    if not sig_text:
        raise SignatureError(f"layer has no {SIGNATURE_ANNOTATION} annotation")
    try:
        signature = base64.b64decode(sig_text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{SIGNATURE_ANNOTATION} is not base64") from None

    if isinstance(verifier, PublicKeyVerifier):
        from pullguard.engine.keys import KeyFormatError

        try:
            public = rule_public_key(verifier.pem)
        except KeyFormatError as exc:
            raise SignatureError(f"rule's public key is unusable: {exc}") from None
        if not signature_valid(crypto_key(public), signature, layer.payload, verifier.hash_algorithm):
            raise SignatureError(
                f"signature does not verify with the rule's public key {public.fingerprint}{over(verifier.hash_algorithm)} "
                "(signed by another key, or the payload or signature was altered)"
            )
        check_annotations(check_simple_signing(layer.payload, image_digest), verifier.annotations)
        evidence = SignatureEvidence(format="legacy", artifact_digest=image_digest, key_fingerprint=public.fingerprint)
        if not verifier.ignore_tlog:
            der = crypto_key(public).public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            logged = _verify_tlog(layer, signature, der, False, _root_for(verifier, trusted_root))
            evidence.tlog = TlogEntry(logged.log_index, logged.integrated_time)
            evidence.bundle_verified = True
        return evidence

    if not isinstance(verifier, KeylessVerifier):
        raise SignatureError(f"unsupported verifier {type(verifier).__name__}")

    from pullguard.engine.signatures import certs
    from pullguard.engine.signatures.trust import now_utc

    cert_pem = layer.annotations.get(CERTIFICATE_ANNOTATION)
    if not cert_pem:
        raise SignatureError(
            "signature has no certificate (dev.sigstore.cosign/certificate); the rule needs a keyless Fulcio signature"
        )
    cert = certs.load_pem_certificate(cert_pem, "signing certificate")
    if not signature_valid(cert.public_key(), signature, layer.payload):
        raise SignatureError(
            "signature does not verify with the signing certificate's key (the payload or signature was altered)"
        )
    check_annotations(check_simple_signing(layer.payload, image_digest), verifier.annotations)
    root = _root_for(verifier, trusted_root)
    entry: RekorEntry | None = None
    if verifier.ignore_tlog:
        when = now_utc()
    else:
        der = cert.public_bytes(serialization.Encoding.DER)
        entry = _verify_tlog(layer, signature, der, True, root)
        when = entry.integrated_datetime
    identity = certs.check_keyless_certificate(cert, certs.load_pem_chain(layer.annotations.get(CHAIN_ANNOTATION)),
                                              root, when, verifier)
    return SignatureEvidence(
        format="legacy",
        artifact_digest=image_digest,
        identity=identity,
        tlog=TlogEntry(entry.log_index, entry.integrated_time) if entry else None,
        bundle_verified=entry is not None,
    )


def verify_legacy(
    layers: list[LegacyLayer], image_digest: str, verifier: Verifier, trusted_root: TrustRoot | None = None
) -> SignatureEvidence:
    """Evidence from the first layer that satisfies `verifier`, or SignatureError listing every failure.

    `trusted_root` is an `pullguard.engine.signatures.trust.TrustRoot`; None means the production root.
    """
    if not layers:
        raise SignatureError("no legacy signatures found")
    errors: list[str] = []
    for i, layer in enumerate(layers):
        try:
            return _verify_layer(layer, image_digest, verifier, trusted_root)
        except SignatureError as exc:
            errors.append(f"legacy signature {i}: {exc}" if len(layers) > 1 else str(exc))
    raise SignatureError("; ".join(errors), errors)
