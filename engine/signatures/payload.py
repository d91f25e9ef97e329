"""The signed claims: which image a signature is for.

Legacy cosign signs a "simple signing" JSON payload naming the image manifest digest in
`critical.image.docker-manifest-digest`; Sigstore bundles (cosign v3) sign an in-toto Statement
whose `subject[].digest.sha256` is the image digest. A valid signature for another image is a failure.
"""

from __future__ import annotations

from typing import Any

from pullguard.engine import jsontext
from pullguard.engine.signatures.errors import SignatureError

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def _normalize_digest(image_digest: str) -> tuple[str, str]:
    algo, _, hexpart = image_digest.partition(":")
    if not hexpart:
        raise SignatureError(f"image digest {image_digest!r} is not of the form 'sha256:<hex>'")
    return algo.lower(), hexpart.lower()


def check_simple_signing(payload: bytes, image_digest: str) -> dict[str, Any]:
    """Parse a simple-signing payload and check it names `image_digest`; returns the document."""
    try:
        doc = jsontext.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(f"signed payload is not JSON: {exc}") from None
    try:
        claimed = doc["critical"]["image"]["docker-manifest-digest"]
    except (KeyError, TypeError):
        raise SignatureError(
            "signed payload has no critical.image.docker-manifest-digest (not a cosign simple-signing payload)"
        ) from None
    if not isinstance(claimed, str) or _normalize_digest(claimed) != _normalize_digest(image_digest):
        raise SignatureError(
            f"signature is for another image: payload names {claimed}, image digest is {image_digest}"
        )
    found: dict[str, Any] = doc
    return found


def check_statement(payload: bytes, image_digest: str) -> dict[str, Any]:
    """Parse an in-toto Statement and check a subject carries the image digest; returns it."""
    try:
        doc = jsontext.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(f"DSSE payload is not JSON: {exc}") from None
    subjects = doc.get("subject") if isinstance(doc, dict) else None
    if not isinstance(subjects, list) or not subjects:
        raise SignatureError("in-toto statement has no subject")
    algo, want = _normalize_digest(image_digest)
    seen = []
    for subject in subjects:
        digests = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digests, dict) and isinstance(digests.get(algo), str):
            seen.append(f"{algo}:{digests[algo]}")
            if digests[algo].lower() == want:
                statement: dict[str, Any] = doc
                return statement
    named = ", ".join(seen) or "no sha256 digest"
    raise SignatureError(f"signature is for another image: in-toto subject names {named}, image digest is {image_digest}")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what a DSSE signature is computed over."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def check_signature_annotations(given: dict[str, Any], wanted: tuple[tuple[str, str], ...]) -> None:
    """The signature's OCI annotations (a `.sig`/`.att` layer's descriptor annotations; a Sigstore
    bundle's are only an empty `dev.cosignproject.cosign/signature`, as cosign wraps it) hold every
    annotation the attestor asks for: ImageValidatingPolicy `cosign.annotations`, Kyverno's
    checkSignatureAnnotations (pkg/image/verifiers/ivpol/cosign/certs.go), in its words."""
    for key, value in wanted:
        seen = given.get(key, "")
        if not isinstance(seen, str) or seen != value:
            raise SignatureError(f"annotations mismatch: {seen} does not match expected value {value} for key {key} "
                                 "(the signature's OCI annotations)")


def check_annotations(doc: dict[str, Any], wanted: tuple[tuple[str, str], ...]) -> None:
    """The signed payload's `optional` holds every annotation the rule asks for (cosign -a)."""
    if not wanted:
        return
    optional = doc.get("optional")
    given = optional if isinstance(optional, dict) else {}
    for key, value in wanted:
        if key not in given:
            raise SignatureError(f"signed payload has no annotation {key!r} (the rule's annotations require {key}={value!r})")
        if str(given[key]) != value:
            raise SignatureError(f"signed payload's annotation {key} is {str(given[key])!r}, the rule's annotations require {value!r}")
