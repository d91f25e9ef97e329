"""The identity in a Fulcio certificate, and whether it satisfies a keyless rule.

Issuer: extension 1.3.6.1.4.1.57264.1.8 (DER UTF8String), falling back to the older .1.1 (raw bytes).
Subject: the SAN — URI, email, or Sigstore's other-name (1.3.6.1.4.1.57264.1.7).
Talos compares issuer and subject exactly; Kyverno with its wildcard. Regexes are RE2, unanchored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pullguard.engine.signatures.errors import SignatureError
from pullguard.engine.signatures.evidence import Identity
from pullguard.engine.vocabulary import KeylessVerifier

ISSUER_V1_OID = "1.3.6.1.4.1.57264.1.1"
ISSUER_V2_OID = "1.3.6.1.4.1.57264.1.8"
if TYPE_CHECKING:
    from cryptography import x509

OTHERNAME_OID = "1.3.6.1.4.1.57264.1.7"


def _der_utf8(value: bytes) -> str | None:
    """The text of a DER UTF8String/IA5String/PrintableString (short or long length form)."""
    if len(value) < 2 or value[0] not in (0x0C, 0x16, 0x13):
        return None
    length, offset = value[1], 2
    if length & 0x80:
        n = length & 0x7F
        length, offset = int.from_bytes(value[2 : 2 + n], "big"), 2 + n
    body = value[offset : offset + length]
    return body.decode("utf-8", "replace") if len(body) == length else None


def certificate_identity(cert: x509.Certificate) -> Identity:
    """(issuer, subject) of a cryptography x509 certificate; either may be None."""
    from cryptography import x509

    def raw(value: bytes) -> str | None:
        return value.decode("utf-8", "replace")

    decoders: tuple[tuple[str, Callable[[bytes], str | None]], ...] = ((ISSUER_V2_OID, _der_utf8), (ISSUER_V1_OID, raw))
    issuer = None
    for oid, decode in decoders:
        try:
            ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid))
        except x509.ExtensionNotFound:
            continue
        if isinstance(ext.value, x509.UnrecognizedExtension):
            issuer = decode(ext.value.value)
        if issuer:
            break

    subject = None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        san = None
    if san is not None:
        for name in san:
            if isinstance(name, (x509.UniformResourceIdentifier, x509.RFC822Name)):
                subject = name.value
            elif isinstance(name, x509.OtherName) and name.type_id.dotted_string == OTHERNAME_OID:
                subject = _der_utf8(name.value)
            if subject:
                break
    return Identity(issuer=issuer, subject=subject)


def _re2_search(pattern: str, text: str, what: str) -> bool:
    import re2

    from pullguard.engine.goregexp import compile_error

    error = compile_error(pattern)  # Go's regexp, as Talos and Kyverno compile it (no `\C`)
    if error is not None:
        raise SignatureError(f"{what} {pattern!r} is not a valid RE2 expression: {error}")
    return re2.search(pattern, text) is not None


def check_identity(identity: Identity, verifier: KeylessVerifier) -> None:
    """Raise SignatureError naming the mismatch when `identity` does not satisfy `verifier`."""
    issuer, subject = identity.issuer or "", identity.subject or ""
    wildcard = verifier.match == "wildcard"
    if wildcard:
        from pullguard.engine.patterns import wildcard_match

    # Quoted as written, not repr(): a regular expression's backslashes must read as in the policy.
    if verifier.issuer is not None:
        ok = wildcard_match(verifier.issuer, issuer) if wildcard else issuer == verifier.issuer
        if not ok:
            raise SignatureError(
                f"certificate issuer '{issuer}' does not match the rule's issuer '{verifier.issuer}'"
            )
    if verifier.issuer_regex is not None and not _re2_search(verifier.issuer_regex, issuer, "issuerRegExp"):
        raise SignatureError(
            f"certificate issuer '{issuer}' does not match the rule's issuer regular expression '{verifier.issuer_regex}'"
        )
    if verifier.subject is not None:
        ok = wildcard_match(verifier.subject, subject) if wildcard else subject == verifier.subject
        if not ok:
            raise SignatureError(
                f"certificate identity '{subject}' does not match the rule's subject '{verifier.subject}'"
            )
    if verifier.subject_regex is not None and not _re2_search(verifier.subject_regex, subject, "subjectRegex"):
        raise SignatureError(
            f"certificate identity '{subject}' does not match the rule's subjectRegex '{verifier.subject_regex}'"
        )


# Fulcio's (v1) GitHub workflow extensions, as cosign's CheckOpts compares them (raw text values).
WORKFLOW_EXTENSIONS = {
    "githubWorkflowTrigger": "1.3.6.1.4.1.57264.1.2",
    "githubWorkflowSha": "1.3.6.1.4.1.57264.1.3",
    "githubWorkflowName": "1.3.6.1.4.1.57264.1.4",
    "githubWorkflowRepository": "1.3.6.1.4.1.57264.1.5",
    "githubWorkflowRef": "1.3.6.1.4.1.57264.1.6",
}


def _extension_text(cert: x509.Certificate, oid: str) -> str | None:
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid))
    except x509.ExtensionNotFound:
        return None
    if isinstance(ext.value, x509.UnrecognizedExtension):
        return ext.value.value.decode("utf-8", "replace")
    return None


def check_certificate_policy(cert: x509.Certificate, verifier: KeylessVerifier) -> None:
    """What a keyless rule asks of the certificate beyond the identity: Kyverno's
    `additionalExtensions` (each equal to the certificate's Fulcio extension) and a `certificates`
    attestor's own `cert` (the signing certificate must be that one)."""
    for name, want in verifier.extensions:
        got = _extension_text(cert, WORKFLOW_EXTENSIONS[name])
        if got != want:
            shown = "absent" if got is None else repr(got)
            raise SignatureError(f"certificate extension {name} is {shown}, the rule's additionalExtensions require {want!r}")
    if verifier.certificate:
        from cryptography.hazmat.primitives import serialization

        from pullguard.engine.signatures.certs import load_pem_certificate

        pinned = load_pem_certificate(verifier.certificate, "the policy's certificates.cert")
        if pinned.public_bytes(serialization.Encoding.DER) != cert.public_bytes(serialization.Encoding.DER):
            raise SignatureError(
                f"signing certificate (serial {cert.serial_number:x}) is not the policy's certificates.cert "
                f"(serial {pinned.serial_number:x})"
            )


class IdentityPolicy:
    """sigstore-python `VerificationPolicy` adapter so its Verifier checks our rule."""

    def __init__(self, verifier: KeylessVerifier):
        self._verifier = verifier
        self.failure: SignatureError | None = None  # re-raised as is by the caller

    def verify(self, cert: x509.Certificate) -> None:
        from sigstore.errors import VerificationError

        try:
            check_identity(certificate_identity(cert), self._verifier)
            check_certificate_policy(cert, self._verifier)
        except SignatureError as exc:
            self.failure = exc
            raise VerificationError(str(exc)) from None
