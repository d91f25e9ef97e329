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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pullguard.engine import jsontext
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
        doc = jsontext.loads(text)
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


def parse_bundle_entry(entry: object) -> RekorEntry:
    """A Sigstore bundle's `tlogEntries[]` item, checked offline by its signed entry timestamp
    (the inclusion promise), as cosign does for key-signed bundles."""
    if not isinstance(entry, dict):
        raise SignatureError("transparency-log entry is not an object")
    promise = entry.get("inclusionPromise") or {}
    if not isinstance(promise, dict) or not promise.get("signedEntryTimestamp"):
        raise SignatureError(
            f"transparency-log entry {entry.get('logIndex')} has no signed entry timestamp (inclusionPromise), "
            "which pullguard needs to check it offline"
        )
    try:
        return RekorEntry(
            body=base64.b64decode(entry["canonicalizedBody"], validate=True),
            integrated_time=int(entry["integratedTime"]),
            log_index=int(entry["logIndex"]),
            log_id=base64.b64decode(entry["logId"]["keyId"], validate=True),
            signed_entry_timestamp=base64.b64decode(promise["signedEntryTimestamp"], validate=True),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SignatureError(f"transparency-log entry does not parse: {exc.__class__.__name__}: {exc}") from None


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


def _body(entry: RekorEntry) -> tuple[str, dict[str, Any]]:
    try:
        body = jsontext.loads(entry.body)
        kind, spec = body["kind"], body["spec"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"Rekor entry body does not parse: {exc}") from None
    if not isinstance(spec, dict):
        raise SignatureError("Rekor entry body does not parse: spec is not an object")
    return str(kind), spec


def _signer_der(logged_signer: bytes, signer_is_cert: bool) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        if signer_is_cert:
            return x509.load_pem_x509_certificate(logged_signer).public_bytes(serialization.Encoding.DER)
        if b"BEGIN CERTIFICATE" in logged_signer:
            # a key rule (Kyverno `certificates.cert` alone) over a signature logged with its certificate
            return x509.load_pem_x509_certificate(logged_signer).public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return serialization.load_pem_public_key(logged_signer).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except ValueError as exc:
        raise SignatureError(f"Rekor entry's signer does not parse: {exc}") from None


def check_dsse(entry: RekorEntry, payload: bytes, signature: bytes, signer_der: bytes, signer_is_cert: bool) -> None:
    """The logged `dsse` entry records this envelope's payload, its signature and the key (or
    certificate) that made it."""
    kind, spec = _body(entry)
    if kind != "dsse":
        raise SignatureError(f"Rekor entry is a {kind!r} entry, expected 'dsse' for a DSSE bundle")
    try:
        payload_hash = spec["payloadHash"]
        logged = [(base64.b64decode(s["signature"]), base64.b64decode(s["verifier"])) for s in spec["signatures"]]
    except (KeyError, TypeError, binascii.Error) as exc:
        raise SignatureError(f"Rekor dsse entry is incomplete: {exc}") from None
    actual = hashlib.sha256(payload).hexdigest()
    if payload_hash.get("algorithm") != "sha256" or str(payload_hash.get("value", "")).lower() != actual:
        raise SignatureError(f"Rekor entry is for another payload: logged {payload_hash}, payload sha256 {actual}")
    if not any(sig == signature and _signer_der(signer, signer_is_cert) == signer_der for sig, signer in logged):
        what = "certificate" if signer_is_cert else "public key"
        raise SignatureError(f"Rekor entry does not record this signature made with this {what}")


def check_hashedrekord(entry: RekorEntry, payload: bytes, signature: bytes, signer_pem_der: bytes, signer_is_cert: bool,
                       *, artifact_sha256: str | None = None) -> None:
    """The logged hashedrekord agrees with the payload, signature and certificate (or key) in hand.

    `signer_pem_der`: DER of the certificate (signer_is_cert) or of the public key.
    `artifact_sha256`: the signed artifact's hash when only it is at hand (message signatures).
    """
    kind, spec = _body(entry)
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
    actual = artifact_sha256 or hashlib.sha256(payload).hexdigest()
    if str(hash_value).lower() != actual:
        raise SignatureError(f"Rekor entry is for another payload: logged sha256 {hash_value}, payload sha256 {actual}")
    if logged_sig != signature:
        raise SignatureError("Rekor entry records a different signature than the one attached to the image")
    if _signer_der(logged_signer, signer_is_cert) != signer_pem_der:
        what = "certificate" if signer_is_cert else "public key"
        raise SignatureError(f"Rekor entry records a different {what} than the one that made the signature")


def check_intoto(entry: RekorEntry, payload: bytes, signature: bytes, signer_der: bytes, signer_is_cert: bool) -> None:
    """A logged `intoto` (v0.0.2, what `cosign attest` uploads) or `dsse` entry records this
    envelope's payload, its signature and the key (or certificate) that made it."""
    kind, spec = _body(entry)
    if kind == "dsse":
        check_dsse(entry, payload, signature, signer_der, signer_is_cert)
        return
    if kind != "intoto":
        raise SignatureError(f"Rekor entry is a {kind!r} entry, expected 'intoto' or 'dsse' for an attestation")
    try:
        content = spec["content"]
        payload_hash = content["payloadHash"]
        logged = content["envelope"]["signatures"]
    except (KeyError, TypeError) as exc:
        raise SignatureError(f"Rekor intoto entry is incomplete: {exc}") from None
    actual = hashlib.sha256(payload).hexdigest()
    if not isinstance(payload_hash, dict) or payload_hash.get("algorithm") != "sha256" or \
            str(payload_hash.get("value", "")).lower() != actual:
        raise SignatureError(f"Rekor entry is for another payload: logged {payload_hash}, payload sha256 {actual}")

    def decoded(text: object) -> list[bytes]:
        # intoto v0.0.2 keeps the envelope's base64 signature base64-encoded once more
        try:
            once = base64.b64decode(str(text), validate=True)
        except (binascii.Error, ValueError):
            return []
        try:
            return [once, base64.b64decode(once, validate=True)]
        except (binascii.Error, ValueError):
            return [once]

    for item in logged if isinstance(logged, list) else []:
        if not isinstance(item, dict) or signature not in decoded(item.get("sig")):
            continue
        try:
            signer = base64.b64decode(str(item.get("publicKey", "")), validate=True)
        except (binascii.Error, ValueError):
            continue
        if _signer_der(signer, signer_is_cert) == signer_der:
            return
    what = "certificate" if signer_is_cert else "public key"
    raise SignatureError(f"Rekor entry does not record this signature made with this {what}")
