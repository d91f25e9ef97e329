"""Rekor entries attached to legacy cosign signatures (`dev.sigstore.cosign/bundle`).

The annotation holds a signed entry timestamp (SET) and the entry it covers. As cosign does, the SET is
checked over the RFC 8785 canonical JSON of {body, integratedTime, logIndex, logID} with the Rekor key
of the trusted root whose log id matches; the entry body (hashedrekord) must then agree with the
payload hash, the signature and the certificate or key that made it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from pullguard.engine.signatures.errors import SignatureError
from pullguard.engine.signatures.trust import TrustRoot


@dataclass(frozen=True)
class RekorEntry:
    body: bytes  # the canonicalized entry body (decoded from base64)
    integrated_time: int
    log_index: int
    log_id: bytes
    signed_entry_timestamp: bytes

    @property
    def integrated_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.integrated_time, tz=timezone.utc)


def parse_cosign_bundle(text: str) -> RekorEntry:
    try:
        doc = json.loads(text)
        payload = doc["Payload"]
        return RekorEntry(
            body=base64.b64decode(payload["body"], validate=True),
            integrated_time=int(payload["integratedTime"]),
            log_index=int(payload["logIndex"]),
            log_id=bytes.fromhex(payload["logID"]),
            signed_entry_timestamp=base64.b64decode(doc["SignedEntryTimestamp"], validate=True),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SignatureError(f"Rekor bundle annotation does not parse: {exc.__class__.__name__}: {exc}") from None


def canonical_entry(entry: RekorEntry) -> bytes:
    import rfc8785

    return rfc8785.dumps(
        {
            "body": base64.b64encode(entry.body).decode(),
            "integratedTime": entry.integrated_time,
            "logID": entry.log_id.hex(),
            "logIndex": entry.log_index,
        }
    )


def verify_set(entry: RekorEntry, root: TrustRoot) -> None:
    from cryptography.exceptions import InvalidSignature

    key = root.rekor_key(entry.log_id)
    if key is None:
        known = ", ".join(k.log_id.hex()[:16] + "…" for k in root.tlogs) or "none"
        raise SignatureError(
            f"Rekor SET is from transparency log {entry.log_id.hex()}, which is not in the trusted root "
            f"{root.source} (known logs: {known})"
        )
    if not key.valid_at(entry.integrated_datetime):
        raise SignatureError(
            f"Rekor log {entry.log_id.hex()} key was not valid at the entry's integrated time "
            f"{entry.integrated_datetime:%Y-%m-%dT%H:%M:%SZ}"
        )
    try:
        key.verify(entry.signed_entry_timestamp, canonical_entry(entry))
    except InvalidSignature:
        raise SignatureError(
            f"Rekor SET does not verify with the key of log {entry.log_id.hex()} ({key.base_url}): "
            f"entry {entry.log_index} was altered or signed by another log"
        ) from None


def check_hashedrekord(entry: RekorEntry, payload: bytes, signature: bytes, signer_pem_der: bytes, signer_is_cert: bool) -> None:
    """The logged hashedrekord agrees with the payload, signature and certificate (or key) in hand.

    `signer_pem_der`: DER of the certificate (signer_is_cert) or of the public key.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        body = json.loads(entry.body)
        kind, spec = body["kind"], body["spec"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"Rekor entry body does not parse: {exc}") from None
    if kind != "hashedrekord":
        raise SignatureError(f"Rekor entry is a {kind!r} entry; only 'hashedrekord' is supported for legacy signatures")
    try:
        hash_alg = spec["data"]["hash"]["algorithm"]
        hash_value = spec["data"]["hash"]["value"]
        logged_sig = base64.b64decode(spec["signature"]["content"])
        logged_signer = base64.b64decode(spec["signature"]["publicKey"]["content"])
    except (KeyError, TypeError, binascii.Error) as exc:
        raise SignatureError(f"Rekor hashedrekord entry is incomplete: {exc}") from None
    if hash_alg != "sha256":
        raise SignatureError(f"Rekor entry hashes with {hash_alg!r}, expected sha256")
    actual = hashlib.sha256(payload).hexdigest()
    if hash_value.lower() != actual:
        raise SignatureError(f"Rekor entry is for another payload: logged sha256 {hash_value}, payload sha256 {actual}")
    if logged_sig != signature:
        raise SignatureError("Rekor entry records a different signature than the one attached to the image")
    try:
        if signer_is_cert:
            logged_der = x509.load_pem_x509_certificate(logged_signer).public_bytes(serialization.Encoding.DER)
        else:
            logged_der = serialization.load_pem_public_key(logged_signer).public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
    except ValueError as exc:
        raise SignatureError(f"Rekor entry's signer does not parse: {exc}") from None
    if logged_der != signer_pem_der:
        what = "certificate" if signer_is_cert else "public key"
        raise SignatureError(f"Rekor entry records a different {what} than the one that made the signature")
