"""What a node's message means: the outcome, the rule, and why a signature was not accepted.

The texts are Talos's (`internal/pkg/containers/image/verify/verify.go` and its cosign
package), cosign's and sigstore-go's (the reasons Talos and Kyverno pass on), and Kyverno's
(`pkg/engine/internal/imageverifier.go`). Matching is case-insensitive and blind to how
whitespace was pasted (a newline and a space are the same); every repetition is bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ReportedOutcome = Literal["failed", "denied", "error"]

ReasonKind = Literal[
    "denied",  # a `deny: true` rule matched
    "identity",  # signed, by a certificate identity the rule does not accept
    "unsigned",  # no signature found at all
    "bad-signature",  # a signature that does not verify with the key (another key, or altered)
    "untrusted",  # a certificate that does not chain to the trusted root, or without a valid SCT
    "tlog",  # no valid transparency-log entry
    "digest",  # the signed claim names another image
    "digest-required",  # Kyverno's verifyDigest: the pod names the image by tag
    "registry",  # the signatures could not be read from the registry
    "not-found",  # the image (its tag) does not exist
    "resolve",  # the tag could not be resolved to a digest
    "trusted-root",  # the node has no Sigstore trusted root (TUF not reachable: air-gapped)
    "rule-unusable",  # the matched rule cannot be turned into a verifier (its key does not parse)
    "invalid-reference",  # the image reference does not parse
    "backoff",  # kubelet waits before trying again; the reason was reported earlier
    "validation",  # a Kyverno ImageValidatingPolicy validation was false
    "pull",  # the pull failed for a reason that is not signature verification
    "other",  # a verification failure pullguard has no words for
]


@dataclass(frozen=True)
class Reason:
    """One recognised message: what the node decided, and the details it gave."""

    kind: ReasonKind
    outcome: ReportedOutcome | None
    # The message as the node writes it (joined errors separated by a newline again).
    message: str
    rule_id: str | None = None
    # The certificate's identity, when the message names it.
    subjects: tuple[str, ...] = ()
    issuer: str | None = None
    # What the verifier asked for, when the message says (sigstore-go's "expected SAN value").
    expected: str | None = None
    # The innermost reason, for the cause sentence.
    detail: str = ""
    # False for a pull that failed before or apart from signature verification (the policy
    # has no say in it).
    verification: bool = True


_I = re.IGNORECASE


def flat(text: str) -> str:
    """Whitespace runs (newlines included) as one space: pastes differ in nothing else."""
    return " ".join(text.split())


# -- inner reasons: why a signature was not accepted -----------------------------------------

_COSIGN_IDENTITY = re.compile(
    r"none of the expected identities matched what was in the certificate"
    r"(?:,? got subjects \[(.{0,4096}?)\] with issuer ([^\s,;]{1,1024}))?", _I)
_SIGSTORE_SAN = re.compile(r'expected SAN value(?: to match regex)? "([^"]{0,4096})",? got "([^"]{0,4096})"', _I)
_SIGSTORE_ISSUER = re.compile(r'expected issuer value(?: to match regex)? "([^"]{0,4096})",? got "([^"]{0,4096})"', _I)
_IDENTITY = re.compile(
    r"no matching CertificateIdentity found|subject mismatch|issuer mismatch"
    r"|expected oidc issuer not found in certificate|failed to verify certificate identity", _I)
_KINDS: tuple[tuple[ReasonKind, re.Pattern[str]], ...] = (
    ("bad-signature", re.compile(
        r"invalid signature when validating ASN\.1 encoded signature|failed to verify signature"
        r"|signature verification failed|crypto/rsa: verification error|ed25519: invalid signature"
        r"|signature does not verify", _I)),
    ("untrusted", re.compile(
        r"certificate signed by unknown authority|certificate chain|unable to verify certificate"
        r"|failed to verify certificate|signed certificate timestamp|\bSCT\b", _I)),
    ("tlog", re.compile(
        r"transparency log|\btlog\b|signed entry timestamp|inclusion proof|unable to verify SET"
        r"|threshold not met for verified log entr", _I)),
    ("digest", re.compile(
        r"invalid or missing digest in claim|digest does not match|digest mismatch", _I)),
    ("digest-required", re.compile(r"missing digest for", _I)),
    ("registry", re.compile(
        r"failed to resolve (?:bundle tag|\.sig tag)|failed to fetch|failed to get fetcher|unauthorized"
        r"|forbidden|connection refused|i/o timeout|no such host|toomanyrequests|manifest unknown", _I)),
    ("unsigned", re.compile(
        r"bundle tag not found|legacy signature tag not found|no legacy signatures found"
        r"|no signatures found|no valid bundle layers|no valid bundle referrers|no matching signatures found", _I)),
)
# Where the legacy-signature half of Talos's joined error starts.
_LEGACY_PART = re.compile(
    r"legacy signature tag not found|no valid legacy signature|no legacy signatures found"
    r"|failed to resolve \.sig tag|unexpected media type for \.sig manifest"
    r"|failed to get fetcher for \.sig manifest|failed to fetch \.sig manifest", _I)
# How bad a part is, for the one cause of several: a wrong signer says more than a missing tag.
_SEVERITY: dict[ReasonKind, int] = {
    "identity": 0, "bad-signature": 1, "untrusted": 2, "tlog": 3, "digest": 4, "digest-required": 4, "registry": 5,
    "other": 6, "unsigned": 7,
}


@dataclass(frozen=True)
class _Part:
    kind: ReasonKind
    subjects: tuple[str, ...] = ()
    issuer: str | None = None
    expected: str | None = None


def signature_part(text: str) -> _Part:
    """Why one signature source (bundle, legacy tag, an attestor) was not accepted."""
    found = _COSIGN_IDENTITY.search(text)
    if found is not None:
        subjects = tuple(s.strip() for s in found.group(1).split(", ") if s.strip()) if found.group(1) else ()
        return _Part("identity", subjects, found.group(2))
    san = _SIGSTORE_SAN.search(text)
    issuer = _SIGSTORE_ISSUER.search(text)
    if san is not None or issuer is not None:
        return _Part(
            "identity",
            (san.group(2),) if san is not None else (),
            issuer.group(2) if issuer is not None else None,
            san.group(1) if san is not None else None,
        )
    if _IDENTITY.search(text):
        return _Part("identity")
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return _Part(kind)
    return _Part("other")


def _combine(parts: list[tuple[str, _Part]], message: str, outcome: ReportedOutcome) -> Reason:
    detail, worst = min(parts, key=lambda p: _SEVERITY.get(p[1].kind, 6))
    return Reason(worst.kind, outcome, message, subjects=worst.subjects, issuer=worst.issuer,
                  expected=worst.expected, detail=detail)


# -- Talos -----------------------------------------------------------------------------------

# Talos's log line (`talosctl logs machined`) says it without the id, which is a field there.
_DENIED = re.compile(r"verification denied by matched rule(?: \((\d{1,6})\))?", _I)
_FAILED = re.compile(r"image verification failed:\s?", _I)
_NO_VALID = re.compile(r"no valid signature found:\s?", _I)
_TALOS_ERRORS: tuple[tuple[ReasonKind, re.Pattern[str]], ...] = (
    ("not-found", re.compile(r"image reference not found during resolution", _I)),
    ("trusted-root", re.compile(r"failed to get trusted root|failed to watch for TUF trusted root", _I)),
    ("resolve", re.compile(r"failed to resolve image reference", _I)),
    ("rule-unusable", re.compile(
        r"failed to convert verification rule to cosign check options|failed to unmarshal public key"
        r"|failed to load public key", _I)),
    ("invalid-reference", re.compile(r"image reference is invalid", _I)),
    ("other", re.compile(r"failed to create image verification rule matcher|failed to construct digest reference", _I)),
)
# Where Talos's own message starts inside wrappers (kubelet, containerd, gRPC) or a shortened
# paste: its top-level words, or, for a paste cut before them, the inner reasons.
TALOS_START = re.compile(
    r"verification denied by matched rule|image verification failed|image reference not found during resolution"
    r"|failed to resolve image reference|failed to convert verification rule|failed to get trusted root"
    r"|failed to watch for TUF trusted root|image reference is invalid|failed to create image verification rule matcher"
    r"|no valid signature found|no valid bundle referrer|no valid bundle layer|no valid legacy signature"
    r"|bundle tag not found|legacy signature tag not found"
    r"|none of the expected identities matched|invalid signature when validating ASN\.1", _I)


def _split_joined(text: str) -> list[str]:
    """Talos joins the bundle and the legacy-signature errors (Go errors.Join): the halves."""
    found = _LEGACY_PART.search(text, 1)
    if found is None:
        return [text]
    head, tail = text[: found.start()].strip(), text[found.start():].strip()
    return [head, tail] if head else [tail]


def talos_reason(message: str, rule_id: str | None = None) -> Reason | None:
    """The Talos message (as it starts at TALOS_START), or None when it is not one. `rule_id`
    is the matched rule when a log line gives it as a field."""
    text = flat(message)
    denied = _DENIED.match(text)
    if denied is not None:
        rule_id = denied.group(1) or rule_id
        said = f"verification denied by matched rule ({rule_id})" if rule_id else denied.group(0)
        return Reason("denied", "denied", said, rule_id=rule_id, detail=said)
    for kind, pattern in _TALOS_ERRORS:
        found = pattern.search(text)
        if found is not None and (kind == "trusted-root" or found.start() == 0):
            return Reason(kind, "error", text, detail=text[found.end():].lstrip(": ") or text)
    head = ""
    inner = text
    failed = _FAILED.match(inner)
    if failed is not None:
        head, inner = inner[: failed.end()], inner[failed.end():]
    no_valid = _NO_VALID.match(inner)
    if no_valid is not None:
        head, inner = head + inner[: no_valid.end()], inner[no_valid.end():]
    if not head and not TALOS_START.match(text):
        return None
    halves = _split_joined(inner)
    canonical = head + "\n".join(halves)
    return _combine([(h, signature_part(h)) for h in halves], canonical, "failed")


# -- Kyverno ---------------------------------------------------------------------------------

_ATTESTOR_PATH = re.compile(r"\.(?:attestors|attestations)\[\d{1,4}\][\w.\[\]]{0,200}:\s?")


def kyverno_reason(message: str) -> Reason:
    """What follows `failed to verify image REF: ` in a Kyverno rule's message."""
    text = flat(message)
    inner = _ATTESTOR_PATH.sub("", text, count=1)
    return _combine([(inner, signature_part(inner))], text, "failed")
