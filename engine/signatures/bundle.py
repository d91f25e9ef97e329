"""Sigstore bundles (v0.1–v0.3 JSON): a DSSE in-toto Statement (cosign v3 `sign`) or a message signature.

Keyless rules go through sigstore-python's `Verifier` with the trusted root (chain at the logged or
timestamped time, SCT, inclusion proof and checkpoint, SET, entry consistency) and our identity policy;
public-key rules check the DSSE pre-authentication encoding or the message signature with the key,
with no transparency log required (Talos sets IgnoreTlog). Either way the signed claim must name the
image digest.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pullguard.engine import jsontext
from pullguard.engine.signatures.errors import SignatureError
from pullguard.engine.signatures.evidence import SignatureEvidence, TlogEntry
from pullguard.engine.signatures.payload import INTOTO_PAYLOAD_TYPE, check_statement, pae
from pullguard.engine.signatures.rekor import RekorEntry
from pullguard.engine.signatures.trust import TrustRoot, load_trusted_root, now_utc
from pullguard.engine.vocabulary import KeylessVerifier, PublicKeyVerifier, Verifier

if TYPE_CHECKING:
    from sigstore.models import Bundle

BUNDLE_MEDIA_TYPE_PREFIX = "application/vnd.dev.sigstore.bundle"


def _parse(bundle_bytes: bytes) -> dict[str, Any]:
    try:
        doc = jsontext.loads(bundle_bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(f"Sigstore bundle is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not str(doc.get("mediaType", "")).startswith(BUNDLE_MEDIA_TYPE_PREFIX):
        raise SignatureError(
            f"not a Sigstore bundle (mediaType {doc.get('mediaType') if isinstance(doc, dict) else None!r})"
        )
    if "dsseEnvelope" not in doc and "messageSignature" not in doc:
        raise SignatureError("Sigstore bundle has neither a DSSE envelope nor a message signature")
    return doc


def _digest_bytes(image_digest: str) -> bytes:
    algo, _, hexpart = image_digest.partition(":")
    if algo != "sha256":
        raise SignatureError(f"image digest {image_digest!r} is not sha256")
    try:
        return bytes.fromhex(hexpart)
    except ValueError:
        raise SignatureError(f"image digest {image_digest!r} is not hexadecimal") from None


def _b64(text: object, what: str) -> bytes:
    try:
        return base64.b64decode(text or "", validate=True)  # type: ignore[arg-type]  # TypeError is caught
    except (binascii.Error, ValueError, TypeError):
        raise SignatureError(f"{what} is not base64") from None


def _check_message_digest(doc: dict[str, Any], image_digest: str) -> bytes:
    want = _digest_bytes(image_digest)
    md = (doc.get("messageSignature") or {}).get("messageDigest") or {}
    if md:
        if md.get("algorithm") not in (None, "SHA2_256"):
            raise SignatureError(f"message signature digest algorithm {md.get('algorithm')!r} is not SHA2_256")
        got = _b64(md.get("digest"), "message digest")
        if got != want:
            raise SignatureError(
                f"signature is for another image: bundle message digest is sha256:{got.hex()}, image digest is {image_digest}"
            )
    return want


def _logged_with_key(doc: dict[str, Any], root: TrustRoot, check: Callable[[RekorEntry], None]) -> RekorEntry:
    """The bundle's transparency-log entry that verifies (SET against the trusted root's Rekor
    keys, inside the key's validity window) and records this very signature (`check`)."""
    from pullguard.engine.signatures import rekor

    entries = (doc.get("verificationMaterial") or {}).get("tlogEntries") or []
    if not isinstance(entries, list) or not entries:
        raise SignatureError(
            "bundle has no transparency-log entry (tlogEntries is empty), and the rule requires one "
            "(set rekor.ignoreTlog: true for keys signed with --tlog-upload=false)"
        )
    why: list[str] = []
    for item in entries:
        try:
            entry = rekor.parse_bundle_entry(item)
            rekor.verify_set(entry, root)
            check(entry)
            return entry
        except SignatureError as exc:
            why.append(str(exc))
    raise SignatureError("no transparency-log entry of the bundle verifies: " + "; ".join(why))


def _verify_with_key(
    doc: dict[str, Any], image_digest: str, verifier: PublicKeyVerifier, trusted_root: TrustRoot | None
) -> SignatureEvidence:
    from cryptography.hazmat.primitives import serialization

    from pullguard.engine.keys import KeyFormatError
    from pullguard.engine.signatures import rekor
    from pullguard.engine.signatures.keyverify import (
        crypto_key,
        over,
        rule_public_key,
        signature_valid,
        signature_valid_prehashed,
    )

    try:
        public = rule_public_key(verifier.pem)
    except KeyFormatError as exc:
        raise SignatureError(f"rule's public key is unusable: {exc}") from None
    key_der = crypto_key(public).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    details: dict[str, Any] = {}
    if "dsseEnvelope" in doc:
        env = doc["dsseEnvelope"] or {}
        payload_type = env.get("payloadType", "")
        payload = _b64(env.get("payload"), "DSSE payload")
        message = pae(payload_type, payload)
        sigs = [_b64(s.get("sig"), "DSSE signature") for s in env.get("signatures") or [] if isinstance(s, dict)]
        if not sigs:
            raise SignatureError("DSSE envelope has no signatures")
        valid = next((sig for sig in sigs if signature_valid(crypto_key(public), sig, message, verifier.hash_algorithm)), None)
        if valid is None:
            raise SignatureError(
                f"DSSE signature does not verify with the rule's public key {public.fingerprint}{over(verifier.hash_algorithm)} "
                "(signed by another key, or the envelope was altered)"
            )
        if payload_type != INTOTO_PAYLOAD_TYPE:
            raise SignatureError(f"DSSE payload type is {payload_type!r}, expected {INTOTO_PAYLOAD_TYPE!r}")
        statement = check_statement(payload, image_digest)
        details["predicate_type"] = statement.get("predicateType")
        details["statement"] = statement

        def logged(entry: RekorEntry) -> None:
            rekor.check_dsse(entry, payload, valid, key_der, False)
    else:
        digest = _check_message_digest(doc, image_digest)
        signature = _b64((doc.get("messageSignature") or {}).get("signature"), "message signature")
        if verifier.hash_algorithm not in (None, "sha256"):
            # sigstore-go checks the signed digest's length against the verifier's hash
            raise SignatureError(f"message signature over {image_digest} cannot verify with signatureAlgorithm "
                                 f"{verifier.hash_algorithm}: the signed digest is sha256 (unexpected length of "
                                 "digest for hash function specified)")
        if not signature_valid_prehashed(crypto_key(public), signature, digest):
            raise SignatureError(
                f"message signature over {image_digest} does not verify with the rule's public key {public.fingerprint}"
            )

        def logged(entry: RekorEntry) -> None:
            rekor.check_hashedrekord(entry, b"", signature, key_der, False, artifact_sha256=digest.hex())
    evidence = SignatureEvidence(
        format="bundle", artifact_digest=image_digest, key_fingerprint=public.fingerprint, details=details
    )
    if not verifier.ignore_tlog:
        # A key without `ignoreTlog` needs the signature in the transparency log, for bundles as
        # for legacy signatures (SPEC §4): a stolen key must not sign unseen.
        root = (trusted_root if trusted_root is not None else load_trusted_root()).with_overrides(rekor_pem=verifier.rekor_pubkey)
        entry = _logged_with_key(doc, root, logged)
        evidence.tlog = TlogEntry(entry.log_index, entry.integrated_time)
        evidence.bundle_verified = True
    return evidence


def _verify_keyless(
    bundle_bytes: bytes, doc: dict[str, Any], image_digest: str, verifier: KeylessVerifier, trusted_root: TrustRoot | None
) -> SignatureEvidence:
    from sigstore.errors import Error as SigstoreError
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle
    from sigstore_models.common.v1 import HashAlgorithm

    from pullguard.engine.signatures.identity import IdentityPolicy, certificate_identity
    from pullguard.engine.signatures.trust import load_trusted_root

    root = trusted_root if trusted_root is not None else load_trusted_root()
    root = root.with_overrides(roots_pem=verifier.roots, rekor_pem=verifier.rekor_pubkey, ctlog_pem=verifier.ctlog_pubkey)
    mat = doc.get("verificationMaterial") or {}
    if "publicKey" in mat and "certificate" not in mat and "x509CertificateChain" not in mat:
        raise SignatureError("bundle is signed with a key, but the rule needs a keyless (Fulcio certificate) signature")
    if verifier.ignore_tlog or verifier.ignore_sct:
        # sigstore's Verifier always wants a log entry and an SCT: the rest is checked here, as
        # for legacy signatures
        return _verify_keyless_offline(doc, image_digest, verifier, root)
    try:
        bundle = Bundle.from_json(bundle_bytes)
    except (SigstoreError, ValueError) as exc:
        raise SignatureError(f"Sigstore bundle is malformed: {exc}") from None
    _check_log_known(bundle, root)
    policy = IdentityPolicy(verifier)
    details: dict[str, Any] = {}
    payload_type: str | None = None
    payload: bytes | None = None
    try:
        if "dsseEnvelope" in doc:
            payload_type, payload = root.sigstore_verifier().verify_dsse(bundle, policy)
        else:
            digest = _check_message_digest(doc, image_digest)
            root.sigstore_verifier().verify_artifact(
                Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest), bundle, policy
            )
    except Exception as exc:
        # Our plain chain message comes first, as if it had been checked before sigstore.
        _check_chain_at_logged_time(bundle, root)
        if not isinstance(exc, SigstoreError):
            raise
        if policy.failure is not None:
            raise policy.failure from None
        raise SignatureError(f"Sigstore bundle does not verify against the trusted root {root.source}: {exc}") from None
    _check_windows(bundle, root, verifier)
    if payload is not None:
        if payload_type != INTOTO_PAYLOAD_TYPE:
            raise SignatureError(f"DSSE payload type is {payload_type!r}, expected {INTOTO_PAYLOAD_TYPE!r}")
        statement = check_statement(payload, image_digest)
        details["predicate_type"] = statement.get("predicateType")
        details["statement"] = statement
    entry = bundle.log_entry._inner
    tlog = None
    if entry.integrated_time:
        tlog = TlogEntry(log_index=int(entry.log_index), integrated_time=int(entry.integrated_time))
    return SignatureEvidence(
        format="bundle",
        artifact_digest=image_digest,
        identity=certificate_identity(bundle.signing_certificate),
        tlog=tlog,
        bundle_verified=True,
        details=details,
    )


def _bundle_certificates(doc: dict[str, Any]) -> list[bytes]:
    mat = doc.get("verificationMaterial") or {}
    if isinstance(mat.get("certificate"), dict):
        return [_b64(mat["certificate"].get("rawBytes"), "bundle certificate")]
    chain = (mat.get("x509CertificateChain") or {}).get("certificates") if isinstance(mat.get("x509CertificateChain"), dict) else None
    if isinstance(chain, list) and chain:
        return [_b64(c.get("rawBytes") if isinstance(c, dict) else None, "bundle certificate") for c in chain]
    raise SignatureError("bundle has no signing certificate, and the rule needs a keyless (certificate) signature")


def _verify_keyless_offline(
    doc: dict[str, Any], image_digest: str, verifier: KeylessVerifier, root: TrustRoot
) -> SignatureEvidence:
    """A keyless bundle whose rule sets `rekor.ignoreTlog` or `ctlog.ignoreSCT`: the signature
    with the certificate's key, the signed claim, the log entry (unless ignored), the chain at the
    logged time (or now), code signing, the SCT (unless ignored), identity and extensions."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from pullguard.engine.signatures import certs, rekor
    from pullguard.engine.signatures.keyverify import signature_valid, signature_valid_prehashed

    ders = _bundle_certificates(doc)
    try:
        cert = x509.load_der_x509_certificate(ders[0])
        chain_given = [x509.load_der_x509_certificate(d) for d in ders[1:]]
    except ValueError as exc:
        raise SignatureError(f"bundle certificate does not parse: {exc}") from None
    details: dict[str, Any] = {}
    if "dsseEnvelope" in doc:
        env = doc["dsseEnvelope"] or {}
        payload_type = str(env.get("payloadType", ""))
        payload = _b64(env.get("payload"), "DSSE payload")
        sigs = [_b64(s.get("sig"), "DSSE signature") for s in env.get("signatures") or [] if isinstance(s, dict)]
        message = pae(payload_type, payload)
        valid = next((sig for sig in sigs if signature_valid(cert.public_key(), sig, message)), None)
        if valid is None:
            raise SignatureError("DSSE signature does not verify with the signing certificate's key (the envelope was altered)")
        if payload_type != INTOTO_PAYLOAD_TYPE:
            raise SignatureError(f"DSSE payload type is {payload_type!r}, expected {INTOTO_PAYLOAD_TYPE!r}")
        statement = check_statement(payload, image_digest)
        details.update({"predicate_type": statement.get("predicateType"), "statement": statement})

        def logged(entry: RekorEntry) -> None:
            rekor.check_dsse(entry, payload, valid, cert.public_bytes(serialization.Encoding.DER), True)
    else:
        digest = _check_message_digest(doc, image_digest)
        signature = _b64((doc.get("messageSignature") or {}).get("signature"), "message signature")
        if not signature_valid_prehashed(cert.public_key(), signature, digest):
            raise SignatureError(f"message signature over {image_digest} does not verify with the signing certificate's key")

        def logged(entry: RekorEntry) -> None:
            rekor.check_hashedrekord(entry, b"", signature, cert.public_bytes(serialization.Encoding.DER), True,
                                     artifact_sha256=digest.hex())
    tlog = None
    if verifier.ignore_tlog:
        when = now_utc()
    else:
        entry = _logged_with_key(doc, root, logged)
        tlog = TlogEntry(entry.log_index, entry.integrated_time)
        when = entry.integrated_datetime
    identity = certs.check_keyless_certificate(cert, chain_given, root, when, verifier)
    return SignatureEvidence(format="bundle", artifact_digest=image_digest, identity=identity, tlog=tlog,
                             bundle_verified=tlog is not None, details=details)


def _check_log_known(bundle: Bundle, root: TrustRoot) -> None:
    """The bundle's log is in the trusted root (sigstore checks it too, with a vaguer message)."""
    entry = bundle.log_entry._inner
    log_id = bytes(entry.log_id.key_id)
    if root.rekor_key(log_id) is None:
        raise SignatureError(
            f"bundle's transparency log entry is from log {log_id.hex()}, which is not in the trusted root {root.source}"
        )


def _sigstore_checked_logged_time(bundle: Bundle) -> bool:
    """True when sigstore's Verifier validated the chain at the logged time itself: it takes the
    integrated time as a verified time when an inclusion promise binds it (verifier._establish_time),
    with the same Fulcio certificates and extension policies as `certs.verify_chain`."""
    entry = bundle.log_entry._inner
    return bool(entry.integrated_time and entry.inclusion_promise)


def _logged_time(bundle: Bundle) -> datetime | None:
    entry = bundle.log_entry._inner
    return datetime.fromtimestamp(int(entry.integrated_time), tz=timezone.utc) if entry.integrated_time else None


def _check_windows(bundle: Bundle, root: TrustRoot, verifier: KeylessVerifier) -> None:
    """The Rekor key, the Fulcio CA and the CT log key were each valid when the signature was
    made (SPEC §6). sigstore-python uses every key of the trusted root whatever its `validFor`,
    so this is checked here, after it, as sigstore-go does."""
    from pullguard.engine.signatures import certs

    when = _logged_time(bundle) or now_utc()
    entry = bundle.log_entry._inner
    key = root.rekor_key(bytes(entry.log_id.key_id))
    if key is not None and not key.valid_at(when):
        raise SignatureError(
            f"bundle's transparency log entry is from log {key.log_id.hex()}, whose key was not valid at the "
            f"integrated time {when:%Y-%m-%dT%H:%M:%SZ} ({key.window()})"
        )
    if not _sigstore_checked_logged_time(bundle) or not root.all_valid_at(when):
        _check_chain_at_logged_time(bundle, root)
    if not verifier.ignore_sct:
        certs.check_sct_window(bundle.signing_certificate, root)


def _check_chain_at_logged_time(bundle: Bundle, root: TrustRoot) -> None:
    """The certificate was valid at the logged time and chains to a CA, in our own words.

    Each check costs a P-384 signature verification, so it runs only where sigstore did not
    already make it: after sigstore fails (to explain why), when it used another time, or when a
    CA of the root is outside its validity window then (sigstore would have used it)."""
    from pullguard.engine.signatures import certs

    when = _logged_time(bundle)
    if when is not None:
        certs.verify_chain(bundle.signing_certificate, [], root, when)


def verify_bundle(
    bundle_bytes: bytes, image_digest: str, verifier: Verifier, trusted_root: TrustRoot | None = None
) -> SignatureEvidence:
    """Evidence when the bundle satisfies `verifier` for `image_digest`, else SignatureError.

    `trusted_root` is an `pullguard.engine.signatures.trust.TrustRoot`; None means the production root.
    The caller sets `format = "bundle-referrer"` for bundles found through the referrers API.
    """
    doc = _parse(bundle_bytes)
    if verifier.annotations:
        # cosign -a annotations live in a legacy signature's simple-signing payload; a DSSE
        # statement carries none to compare
        names = ", ".join(k for k, _ in verifier.annotations)
        raise SignatureError(f"the rule's annotations ({names}) are checked in legacy signature payloads; "
                             f"this Sigstore bundle carries none")
    if isinstance(verifier, PublicKeyVerifier):
        return _verify_with_key(doc, image_digest, verifier, trusted_root)
    if isinstance(verifier, KeylessVerifier):
        return _verify_keyless(bundle_bytes, doc, image_digest, verifier, trusted_root)
    raise SignatureError(f"unsupported verifier {type(verifier).__name__}")
