"""cosign's own verify flags on `pullguard verify` (SPEC §1): ad-hoc verification, no policy file.

`--key FILE`, `--certificate-identity[-regexp]`, `--certificate-oidc-issuer[-regexp]`,
`--insecure-ignore-tlog`. When `--key` or a `--certificate-*` flag is given, every positional
is an image and the policy is one rule built by `pullguard.engine.policy.cosignflags`.
Only argparse and stdlib at import time: the parser is built before any command runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pullguard.engine.policy import LoadedPolicy
    from pullguard.engine.policy.cosignflags import CosignFlags


def add_cosign_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ad-hoc verification (cosign's flags; every positional is then an image)")
    group.add_argument("--key", metavar="FILE", help="PEM public key the signature must verify with (cosign verify --key)")
    group.add_argument("--certificate-identity", metavar="X", help="the signing certificate's identity, exactly")
    group.add_argument("--certificate-identity-regexp", metavar="X", help="the identity as a Go regular expression (unanchored)")
    group.add_argument("--certificate-oidc-issuer", metavar="Y", help="the OIDC issuer in the certificate, exactly")
    group.add_argument("--certificate-oidc-issuer-regexp", metavar="Y", help="the issuer as a Go regular expression (unanchored)")
    group.add_argument(
        "--insecure-ignore-tlog", action="store_true",
        help="accept signatures without a transparency-log entry (with --key, one is required otherwise)",
    )
    # Which flags go together is known only after parsing: the command reports it with its usage.
    parser.set_defaults(usage_error=parser.error)


def _certificate_flags(args: argparse.Namespace) -> tuple[str | None, ...]:
    return (args.certificate_identity, args.certificate_identity_regexp,
            args.certificate_oidc_issuer, args.certificate_oidc_issuer_regexp)


def adhoc_given(args: argparse.Namespace) -> bool:
    """True when `--key` or a `--certificate-*` flag makes the command ad hoc."""
    return args.key is not None or any(v is not None for v in _certificate_flags(args))


def cosign_flags(args: argparse.Namespace) -> CosignFlags:
    """The flags with the `--key` file read; OSError or TextFileError when it cannot be."""
    from pullguard.engine.policy.cosignflags import CosignFlags
    from pullguard.engine.textfile import read_text

    identity, identity_regexp, issuer, issuer_regexp = _certificate_flags(args)
    return CosignFlags(
        key_pem=read_text(args.key) if args.key is not None else None,
        key_name=args.key,
        identity=identity,
        identity_regexp=identity_regexp,
        issuer=issuer,
        issuer_regexp=issuer_regexp,
        ignore_tlog=bool(args.insecure_ignore_tlog),
    )


def adhoc_policy(args: argparse.Namespace) -> LoadedPolicy | None:
    """The one-rule policy; None after saying why on stderr (exit 2): an unreadable `--key`
    file, or flags that make no verifier (a usage error, with the command's usage)."""
    from pullguard.engine.policy.cosignflags import CosignFlagsError, cosign_policy
    from pullguard.engine.textfile import TextFileError

    from .commands.inputs import fail

    try:
        flags = cosign_flags(args)
    except OSError as exc:
        fail(f"cannot read key {args.key}: {exc.strerror or exc}")
        return None
    except TextFileError as exc:  # `cosign.pub:1:3: not UTF-8 text (byte 0xd7)`
        fail(f"cannot read key {exc}")
        return None
    try:
        return cosign_policy(flags)
    except CosignFlagsError as exc:
        usage_error(args, str(exc))
        return None


def usage_error(args: argparse.Namespace, message: str) -> None:
    """The command's usage and `pullguard: error: message` on stderr, exit 2 (SystemExit)."""
    args.usage_error(message)
