"""One thing attached to an image, described as it reads, never verified (`pullguard tree`, SPEC §2).

Each reader takes what a registry served (a Sigstore bundle, a cosign layer's annotations, a
referrer's descriptor) and says what it is: a signature, an attestation or an SBOM, its format, the
in-toto predicate type, the signer's identity from the certificate or the key's fingerprint. Nothing
here checks a signature, a chain or a log entry: a reader only reads, and what it cannot read is
None. The signer's key of a key-pair signature is read from the transparency-log entry's body
(hashedrekord, dsse or intoto), where cosign records it; a signature never logged names no key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pullguard.engine import jsontext
from pullguard.engine.signatures.evidence import Identity

Kind = Literal["signature", "attestation", "sbom"]
# SPEC §2 formats; "referrer" is an OCI referrer that is neither a Sigstore bundle nor cosign's own
# layers (an SBOM attached with `oras attach`, a Notary signature).
TreeFormat = Literal["legacy", "bundle", "bundle-referrer", "referrer"]

COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
# What cosign v3 writes on a bundle manifest (and its descriptor): the bundle's predicate type.
BUNDLE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
PREDICATE_ANNOTATION = "predicateType"  # cosign attest's layer annotation

# OCI referrers' artifact types, by what they are (cosign's OCI 1.1 mode, in-toto, Notary, SBOM tools).
COSIGN_SIGNATURE_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_ATTESTATION_ARTIFACTS = frozenset({
    "application/vnd.dev.cosign.artifact.att.v1+json", DSSE_MEDIA_TYPE, "application/vnd.in-toto+json",
})
NOTARY_SIGNATURE = "application/vnd.cncf.notary.signature"
_SBOM_WORDS = ("spdx", "cyclonedx", "syft", "sbom")

Json = dict[str, Any]


@dataclass(frozen=True)
class Attached:
    """What `pullguard tree` lists for one artifact. `media_type` (the layer's or the referrer's
    artifact type) is shown in the text output only; the JSON has the SPEC §2 keys."""

    kind: Kind | None
    format: TreeFormat
    reference: str
    predicate_type: str | None = None
    identity: Identity | None = None
    key_fingerprint: str | None = None
    media_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format": self.format,
            "reference": self.reference,
            "predicate_type": self.predicate_type,
            "identity": self.identity.to_json() if self.identity is not None else None,
            "key_fingerprint": self.key_fingerprint,
        }


def kind_of_predicate(predicate: str | None) -> Kind | None:
    """A DSSE bundle's kind from its predicate type (None: not known)."""
    if predicate is None:
        return None
    return "signature" if predicate == COSIGN_SIGN_PREDICATE else "attestation"


def kind_of_artifact_type(artifact_type: str) -> Kind | None:
    """A referrer's kind from its artifact type alone (None: not a signature, attestation or SBOM)."""
    lowered = artifact_type.lower()
    if artifact_type in (COSIGN_SIGNATURE_ARTIFACT, NOTARY_SIGNATURE):
        return "signature"
    if artifact_type in COSIGN_ATTESTATION_ARTIFACTS:
        return "attestation"
    if any(word in lowered for word in _SBOM_WORDS):
        return "sbom"
    return None


def _b64(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _json(data: bytes | None) -> Json | None:
    if data is None:
        return None
    try:
        value = jsontext.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _identity_of_der(der: bytes | None) -> Identity | None:
    if der is None:
        return None
    from cryptography import x509

    from pullguard.engine.signatures.identity import certificate_identity

    try:
        return certificate_identity(x509.load_der_x509_certificate(der))
    except ValueError:
        return None


def _identity_of_pem(pem: str | bytes | None) -> Identity | None:
    if not pem:
        return None
    from cryptography import x509

    from pullguard.engine.signatures.identity import certificate_identity

    try:
        return certificate_identity(x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem))
    except ValueError:
        return None


def _fingerprint_of_pem(pem: bytes) -> str | None:
    from pullguard.engine.keys import KeyFormatError, load_public_key_pem

    try:
        return load_public_key_pem(pem.decode("utf-8", "replace")).fingerprint
    except (KeyFormatError, ValueError):
        return None


def _logged_signers(body: Json) -> Iterator[bytes]:
    """The PEM signers a Rekor entry body records (hashedrekord, dsse, intoto)."""
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return
    signature = spec.get("signature")
    if isinstance(signature, dict) and isinstance(signature.get("publicKey"), dict):
        found = _b64(signature["publicKey"].get("content"))  # hashedrekord
        if found:
            yield found
    lists = [spec.get("signatures")]  # dsse
    content = spec.get("content")
    envelope = content.get("envelope") if isinstance(content, dict) else None
    if isinstance(envelope, dict):
        lists.append(envelope.get("signatures"))  # intoto
    for items in lists:
        for item in items if isinstance(items, list) else []:
            found = _b64(item.get("verifier") or item.get("publicKey")) if isinstance(item, dict) else None
            if found:
                yield found


def signer_from_log_body(body: bytes | None) -> tuple[Identity | None, str | None]:
    """(identity, key fingerprint) of the first signer a Rekor entry body records."""
    doc = _json(body)
    if doc is None:
        return None, None
    for pem in _logged_signers(doc):
        if b"CERTIFICATE" in pem:
            identity = _identity_of_pem(pem)
            if identity is not None:
                return identity, None
        elif b"PUBLIC KEY" in pem:
            fingerprint = _fingerprint_of_pem(pem)
            if fingerprint is not None:
                return None, fingerprint
    return None, None


def _predicate_of_envelope(envelope: object) -> str | None:
    if not isinstance(envelope, dict):
        return None
    statement = _json(_b64(envelope.get("payload")))
    predicate = statement.get("predicateType") if statement is not None else None
    return predicate if isinstance(predicate, str) else None


def read_bundle(data: bytes, fmt: TreeFormat, reference: str, media_type: str | None = None,
                hint: str | None = None) -> Attached:
    """A Sigstore bundle: a signature (a message signature, or DSSE with cosign's signing
    predicate) or an attestation (any other predicate), with its signer. A bundle that does not
    read as one is known only by `hint`, the predicate type its manifest names."""
    doc = _json(data) or {}
    material = doc.get("verificationMaterial")
    material = material if isinstance(material, dict) else {}
    identity: Identity | None = None
    fingerprint: str | None = None
    cert = material.get("certificate")
    chain = material.get("x509CertificateChain")
    if isinstance(cert, dict):
        identity = _identity_of_der(_b64(cert.get("rawBytes")))
    elif isinstance(chain, dict) and isinstance(chain.get("certificates"), list) and chain["certificates"]:
        first = chain["certificates"][0]
        identity = _identity_of_der(_b64(first.get("rawBytes")) if isinstance(first, dict) else None)
    if identity is None:
        entries = material.get("tlogEntries")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                identity, fingerprint = signer_from_log_body(_b64(entry.get("canonicalizedBody")))
                if identity is not None or fingerprint is not None:
                    break
    predicate: str | None = None
    kind: Kind | None = "signature"
    if "dsseEnvelope" in doc:
        predicate = _predicate_of_envelope(doc.get("dsseEnvelope")) or hint
        kind = kind_of_predicate(predicate) or "attestation"
    elif "messageSignature" not in doc:
        predicate, kind = hint, kind_of_predicate(hint)
    return Attached(kind, fmt, reference, predicate, identity, fingerprint, media_type or doc.get("mediaType"))


def read_cosign_layer(layer: Json, kind: Kind, fmt: TreeFormat, reference: str, payload: bytes | None = None) -> Attached:
    """One layer of a cosign `.sig`/`.att`/`.sbom` manifest (or its OCI 1.1 referrer): the signer from
    the certificate annotation, else from the log entry; an attestation's predicate type from
    cosign's annotation, else from the DSSE envelope (`payload`, the layer's blob, when fetched)."""
    raw = layer.get("annotations")
    annotations: dict[str, Any] = raw if isinstance(raw, dict) else {}
    media_type = layer.get("mediaType") if isinstance(layer.get("mediaType"), str) else None
    if kind == "sbom":
        return Attached(kind, fmt, reference, media_type=media_type)
    cert, logged_text = annotations.get(CERTIFICATE_ANNOTATION), annotations.get(BUNDLE_ANNOTATION)
    identity = _identity_of_pem(cert if isinstance(cert, str) else None)
    fingerprint = None
    if identity is None:
        logged = _json(logged_text.encode()) if isinstance(logged_text, str) else None
        body = logged.get("Payload") if logged is not None else None
        identity, fingerprint = signer_from_log_body(_b64(body.get("body")) if isinstance(body, dict) else None)
    predicate = None
    if kind == "attestation":
        named = annotations.get(PREDICATE_ANNOTATION)
        predicate = named if isinstance(named, str) else _predicate_of_envelope(_json(payload))
    return Attached(kind, fmt, reference, predicate, identity, fingerprint, media_type)


def needs_payload(layer: Json, kind: Kind) -> bool:
    """An attestation layer whose predicate type only its blob tells (no cosign annotation)."""
    raw = layer.get("annotations")
    return kind == "attestation" and not (isinstance(raw, dict) and isinstance(raw.get(PREDICATE_ANNOTATION), str))
