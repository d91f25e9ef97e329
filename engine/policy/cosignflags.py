"""A one-rule policy from cosign's own verify flags (`pullguard verify IMAGE... --key FILE`,
`--certificate-identity[-regexp] X --certificate-oidc-issuer[-regexp] Y`, `--insecure-ignore-tlog`).

The rule is engine data, never YAML text: a Talos rule matching every image (`*`) whose verifier
is built from the flags, so verification gives exactly the outcomes, messages and evidence a
one-rule policy file would. Two differences from a Talos `publicKey` rule follow cosign, not
Talos: with `--key` a transparency-log entry is required unless `--insecure-ignore-tlog`, and
keyless flags may ask for the issuer by regular expression. The refusals keep cosign's words.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..goregexp import compile_error
from ..keys import KeyFormatError, load_public_key_pem
from ..vocabulary import KeylessVerifier, PublicKeyVerifier, Verifier
from . import LoadedPolicy
from .talos.evaluate import TalosPolicy
from .talos.rules import TalosRule

# cosign's refusals (cmd/cosign/cli/options/certificate.go, CertVerifyOptions.Identities).
NO_IDENTITY = "--certificate-identity or --certificate-identity-regexp is required for verification in keyless mode"
NO_ISSUER = "--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required for verification in keyless mode"


class CosignFlagsError(ValueError):
    """The flags do not make a verifier; the message says which flag and why (a usage error)."""


@dataclass(frozen=True)
class CosignFlags:
    """What the command line said, as cosign's flags name it. `key_pem` is the text of `--key`
    (read by the caller), `key_name` the file it came from (for messages)."""

    key_pem: str | None = None
    key_name: str | None = None
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    ignore_tlog: bool = False

    @property
    def keyless(self) -> bool:
        return any(v is not None for v in (self.identity, self.identity_regexp, self.issuer, self.issuer_regexp))

    @property
    def given(self) -> bool:
        """Any flag that makes the command ad hoc (every positional an image)."""
        return self.key_pem is not None or self.keyless

    def describe(self) -> str:
        """The flags as a person typed them, for the end of the text output."""
        if self.key_pem is not None:
            parts = [f"--key {self.key_name or '-'}"]
        else:
            pairs = (("--certificate-identity", self.identity), ("--certificate-identity-regexp", self.identity_regexp),
                     ("--certificate-oidc-issuer", self.issuer), ("--certificate-oidc-issuer-regexp", self.issuer_regexp))
            parts = [f"{flag} {value}" for flag, value in pairs if value is not None]
        if self.ignore_tlog:
            parts.append("--insecure-ignore-tlog")
        return " ".join(parts)


def _regexp(flag: str, pattern: str | None) -> str | None:
    if pattern is None:
        return None
    problem = compile_error(pattern)  # Go's regexp, as cosign compiles it
    if problem is not None:
        raise CosignFlagsError(f"{flag} {pattern!r} is not a valid regular expression: {problem}")
    return pattern


def verifier_from_flags(flags: CosignFlags) -> Verifier:
    """The verifier the flags ask for; CosignFlagsError when they are incomplete or contradict."""
    if flags.key_pem is not None:
        if flags.keyless:
            raise CosignFlagsError("give either --key or the --certificate-* flags, not both")
        try:
            key = load_public_key_pem(flags.key_pem)
        except KeyFormatError as exc:
            raise CosignFlagsError(f"--key {flags.key_name or '-'}: {exc}") from None
        return PublicKeyVerifier(pem=flags.key_pem, fingerprint=key.fingerprint, ignore_tlog=flags.ignore_tlog)
    if not flags.keyless:
        raise CosignFlagsError("give --key FILE, or --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]")
    if not flags.identity and not flags.identity_regexp:
        raise CosignFlagsError(NO_IDENTITY)
    if not flags.issuer and not flags.issuer_regexp:
        raise CosignFlagsError(NO_ISSUER)
    return KeylessVerifier(
        issuer=flags.issuer or None,
        subject=flags.identity or None,
        subject_regex=_regexp("--certificate-identity-regexp", flags.identity_regexp or None),
        issuer_regex=_regexp("--certificate-oidc-issuer-regexp", flags.issuer_regexp or None),
        match="exact",
        ignore_tlog=flags.ignore_tlog,
    )


def cosign_policy(flags: CosignFlags) -> LoadedPolicy:
    """A loaded policy of one rule, `*` -> the flags' verifier (rule 0000); no file behind it."""
    rule = TalosRule(index=0, pattern="*", skip=False, deny=False, verifier=verifier_from_flags(flags),
                     line=1, column=1)
    return LoadedPolicy(path=f"<{flags.describe()}>", dialect=None, policy=TalosPolicy([rule]))
