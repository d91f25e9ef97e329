"""Talos's own validation of the merged rules (`ImageVerificationConfig.Validate`).

Measured from siderolabs/talos v1.13 `pkg/machinery/config/types/security/image_verification.go`:
the messages are Talos's word for word; the position is where a person would fix each one. Talos
validates the merged config, so the number in `rule N:` is the index in the merged list.
"""

from __future__ import annotations

from ...diagnostics import Diagnostic, Severity
from .rules import Pos, TalosRule


def validate(rules: list[TalosRule]) -> list[Diagnostic]:
    """Talos's `Validate`, word for word, each message placed where a person would fix it."""
    out: list[Diagnostic] = []

    # Defined once, not per rule: a fleet's policy has thousands of rules, nearly all without a finding.
    def err(i: int, code: str, message: str, pos: Pos, fix: str | None = None, severity: Severity = "error") -> None:
        out.append(Diagnostic(severity, code, f"rule {i}: {message}", pos[0], pos[1], i, fix=fix))

    def warn(i: int, code: str, message: str, pos: Pos, fix: str | None = None) -> None:
        err(i, code, message, pos, fix, "warning")

    for rule in rules:
        i = rule.index
        p = rule.pattern
        start = (rule.line, rule.column)
        if p == "":
            err(
                i,
                "talos-image-required",
                "imagePattern must be specified",
                rule.pos("image", value=True) if "image" in rule.positions else start,
                "add 'image: <registry>/<repository pattern>', e.g. 'image: ghcr.io/myorg/*'",
            )
        if "@" in p:
            head = p.split("@", 1)[0]
            warn(
                i,
                "talos-pattern-digest",
                "imagePattern contains '@' but matching only applies to the image registry and repository, not the tag or digest",
                rule.pos("image", value=True),
                f"drop the digest part: '{head}'",
            )
        if ":" in p:
            registry, slash, rest = p.partition("/")
            if slash and ":" in rest:
                fixed = registry + "/" + rest.split(":", 1)[0]
                warn(
                    i,
                    "talos-pattern-tag",
                    "imagePattern contains ':' but matching only applies to the image registry and repository, not the tag or digest",
                    rule.pos("image", value=True),
                    f"drop the tag part: '{fixed}'",
                )
        if "/" not in p and p not in ("*", ""):
            warn(
                i,
                "talos-pattern-no-slash",
                "imagePattern does not contain a '/', image references like 'nginx' are matched as 'docker.io/nginx' (normalized)",
                rule.pos("image", value=True),
                f"write the normalized name, e.g. 'index.docker.io/library/{p}'",
            )
        has_verifier = rule.has_keyless or rule.has_public_key
        if rule.skip and rule.deny:
            err(i, "talos-skip-and-deny", "skip and deny cannot both be true", rule.pos("deny"), "keep only one of skip or deny")
        if (rule.skip or rule.deny) and has_verifier:
            where = rule.pos("keyless") if rule.has_keyless else rule.pos("publicKey")
            err(
                i,
                "talos-verifier-with-action",
                "verifiers cannot be configured if skip or deny is true",
                where,
                "remove the verifier, or remove skip/deny to verify these images",
            )
        if not rule.skip and not rule.deny and not has_verifier:
            err(
                i,
                "talos-verifier-required",
                "at least one verifier must be configured",
                start,
                "add 'keyless: {issuer: ..., subject: ...}' or 'publicKey: {certificate: ...}', or 'skip: true' / 'deny: true'",
            )
        if rule.has_keyless and rule.has_public_key:
            err(
                i,
                "talos-two-verifiers",
                "only one of keyless or publicKey verifier can be configured",
                rule.pos("publicKey"),
                "split into two rules with different image patterns, or drop one verifier",
            )
        if rule.has_keyless:
            if rule.issuer == "":
                err(
                    i,
                    "talos-issuer-required",
                    "verifier OIDC issuer must be specified",
                    rule.pos("keyless.issuer", value=True) if "keyless.issuer" in rule.positions else rule.pos("keyless"),
                    "add 'issuer:', e.g. 'https://token.actions.githubusercontent.com'",
                )
            if rule.subject == "" and rule.subject_regex == "":
                err(
                    i,
                    "talos-subject-required",
                    "verifier subject or subjectRegex must be specified",
                    rule.pos("keyless"),
                    "add 'subject:' (exact identity) or 'subjectRegex:' (RE2, unanchored)",
                )
        if rule.has_public_key and rule.certificate == "":
            err(
                i,
                "talos-certificate-required",
                "verifier certificates must be specified",
                rule.pos("publicKey.certificate", value=True) if "publicKey.certificate" in rule.positions else rule.pos("publicKey"),
                "paste the signer's PEM 'PUBLIC KEY' block under 'certificate: |'",
            )
    return out
