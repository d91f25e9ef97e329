"""pullguard's own checks on Kyverno verifyImages, beyond what Kyverno validates.

Each returns (severity, code, message, fix) tuples; the loader places them in the file.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from ...diagnostics import Severity
from ...patterns import literal_prefix
from ..regexfix import regex_fix

if TYPE_CHECKING:  # the key parser (cryptography) is imported only when a key is read
    from ...keys import PublicKey

Finding = tuple[Severity, str, str, str | None]

# Key material Kyverno resolves at admission time; pullguard cannot read it offline.
_KEY_REF = re.compile(r"^(k8s|awskms|gcpkms|azurekms|hashivault|cosign|env|file|https?)://", re.I)


@lru_cache(maxsize=8192)
def image_reference_findings(pattern: str, skip: bool) -> tuple[Finding, ...]:
    return tuple(_image_reference_findings(pattern, skip))


def _image_reference_findings(pattern: str, skip: bool) -> list[Finding]:
    """Patterns that cannot match, or match less than the author likely meant, under
    Kyverno's normalization (`docker.io/nginx:latest`, no `library/`, host kept as written,
    `registry/path@digest` with the tag dropped when a digest is present)."""
    from ...reference import InvalidReference, kyverno_image_string

    field = "skipImageReferences" if skip else "imageReferences"
    out: list[Finding] = []
    if pattern == "":
        return [("warning", "kyverno-pattern-never-matches",
                 f"empty {field} pattern never matches (Kyverno matches it only against an empty image)", None)]
    has_wild = any(c in pattern for c in "*?")
    if not has_wild:
        try:
            normalized = kyverno_image_string(pattern)
        except InvalidReference:
            normalized = None
        if normalized != pattern:
            if normalized is None:
                fix = None
            elif "@" not in pattern and ":" not in pattern.rsplit("/", 1)[-1]:
                base = normalized.rsplit(":", 1)[0]
                fix = f"use '{base}:*' for every tag (or '{base}*' to include digests)"
            else:
                fix = f"write it as Kyverno normalizes it: '{normalized}'"
            out.append(("warning", "kyverno-pattern-never-matches",
                        f"{field} pattern '{pattern}' can never match: Kyverno compares patterns with "
                        f"the whole normalized image string"
                        + (f" (here '{normalized}')" if normalized else ""), fix))
            return out
    head, slash, rest = pattern.partition("/")
    if slash and not any(c in head for c in "*?"):
        if not any(c in head for c in ".:") and head != "localhost" and head.lower() == head:
            out.append(("warning", "kyverno-pattern-never-matches",
                        f"{field} pattern '{pattern}' can never match: '{head}' is not a registry host, "
                        f"and Kyverno prefixes such images with 'docker.io/'",
                        f"write '{'docker.io/' + pattern}'"))
            return out
        if head == "index.docker.io":
            out.append(("warning", "kyverno-pattern-docker-host",
                        f"{field} pattern '{pattern}' matches only images written with 'index.docker.io/': "
                        f"Kyverno keeps the host as written and names Docker Hub 'docker.io'",
                        f"write 'docker.io/{rest}'"))
        elif head == "docker.io" and rest.startswith("library/"):
            out.append(("warning", "kyverno-pattern-library",
                        f"{field} pattern '{pattern}' matches only images written with 'library/': "
                        f"Kyverno does not add 'library/' ('nginx' is 'docker.io/nginx:latest')",
                        f"write 'docker.io/{rest[len('library/'):]}'"))
    elif not slash and not pattern.startswith(("*", "?")):
        prefix = literal_prefix(pattern)
        if "." not in prefix and not prefix.startswith("localhost"):
            out.append(("warning", "kyverno-pattern-no-registry",
                        f"{field} pattern '{pattern}' has no registry: every image Kyverno matches "
                        f"starts with one ('nginx' is 'docker.io/nginx:latest')",
                        f"write 'docker.io/{pattern}'"))
    last = pattern.rsplit("/", 1)[-1]
    if re.search(r":[^*?@/]+@", last):
        out.append(("warning", "kyverno-pattern-never-matches",
                    f"{field} pattern '{pattern}' can never match: with a digest Kyverno drops the tag "
                    f"('registry/path@digest')",
                    "drop the tag: '" + re.sub(r":[^*?@/]+@", "@", pattern) + "'"))
    return out


@lru_cache(maxsize=4096)
def regex_finding(field: str, pattern: str) -> Finding | None:
    """Kyverno compiles subjectRegExp/issuerRegExp with Go's regexp (RE2 syntax, less `\\C`)."""
    from ...goregexp import compile_error

    reason = compile_error(pattern)
    if reason is None:
        return None
    fix = regex_fix(pattern, reason)
    return ("error", "invalid-regex", f"{field} is not a valid RE2 regular expression: {reason}", fix)


def split_public_keys(text: str) -> list[str]:
    """Kyverno's splitPEM: each `-----END PUBLIC KEY-----` ends one key (text after the last
    one is dropped); a text with no such marker is kept whole."""
    marker = "-----END PUBLIC KEY-----"
    parts = text.split(marker)
    if len(parts) < 2:
        return [text]
    return [p + marker for p in parts[:-1]]


def key_material_kind(text: str) -> str:
    """'pem', 'reference' (k8s://, KMS URIs), 'variable' ({{ ... }}) or 'empty'."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    if "{{" in stripped:
        return "variable"
    if _KEY_REF.match(stripped):
        return "reference"
    return "pem"


# Kyverno admits a policy whatever its publicKeys hold; cosign parses the key per image. A key
# pullguard cannot read is refused here, by pullguard alone, and the message says what Kyverno does.
KYVERNO_READS_KEY_LATE = ("pullguard refuses it, Kyverno accepts the policy and reads the key only to verify: "
                          "every image this entry verifies would fail")


@lru_cache(maxsize=4096)  # the editor re-reads the same keys on every keystroke
def pem_key_finding(field: str, pem: str) -> tuple[Finding | None, PublicKey | None]:
    """(finding or None, PublicKey or None) for one PEM public key."""
    from ...keys import KeyFormatError, load_public_key_pem

    try:
        return None, load_public_key_pem(pem)
    except KeyFormatError as exc:
        if exc.code == "certificate-not-public-key":
            message = (f"{field} holds a CERTIFICATE block, not a PUBLIC KEY: certificates go under "
                       f"'certificates.cert'")
            fix = "extract the key with 'openssl x509 -pubkey -noout', or use a certificates attestor"
        else:
            message = f"{field}: {exc}"
            fix = "paste the signer's PEM block from '-----BEGIN PUBLIC KEY-----' to '-----END PUBLIC KEY-----'"
        return ("error", exc.code, f"{message}; {KYVERNO_READS_KEY_LATE}", fix), None
