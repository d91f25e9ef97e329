"""The verify options shared by `pullguard verify` and `pullguard edit` (SPEC §1).

Only argparse and stdlib here: command modules import this at argument-parse time.
`to_verify_kwargs(args)` gives the keyword arguments for `pullguard.engine.verify.VerifyOptions`
without importing it, so the TUI's first frame never pays for the verification stack.
"""

from __future__ import annotations

import argparse


def _mirror(value: str) -> tuple[str, str]:
    # The engine's endpoint rules, whose messages never show a password (`***@`).
    from pullguard.engine.endpoints import EndpointError, parse_endpoint, redact_userinfo

    host, sep, endpoint = value.partition("=")
    if not sep or not host or not endpoint:
        raise argparse.ArgumentTypeError(f"expected HOST=ENDPOINT, got {redact_userinfo(value)!r}")
    try:
        # An `oci:` layout that is not there is the user's to fix now (exit 2 naming it), not a
        # mirror silently passed over at verification time.
        parse_endpoint(endpoint, where=f"mirror endpoint for {host}", check_layout=True)
    except EndpointError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return host, endpoint


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return number


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    """`--trusted-root`, `--mirror`, `--insecure-registry`, `--pull-secret`, `--concurrency`, `--timeout`."""
    group = add_signature_sources(parser)
    group.add_argument(
        "--pull-secret",
        metavar="FILE",
        action="append",
        default=[],
        help="registry credentials: a kubernetes.io/dockerconfigjson Secret manifest or a config.json (repeatable)",
    )
    group.add_argument("--concurrency", metavar="N", type=_positive_int, default=8, help="parallel verifications (default 8)")
    group.add_argument(
        "--timeout", metavar="SECONDS", type=_positive_float, default=10.0, help="per-request timeout (default 10)"
    )


def add_signature_sources(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """`--trusted-root`, `--mirror`, `--insecure-registry`: where signatures are found and what
    they are checked against (`pullguard test` takes these for Kyverno test files)."""
    group = parser.add_argument_group("verify options")
    group.add_argument(
        "--trusted-root",
        metavar="FILE",
        help="Sigstore trusted_root.json to verify against (default: the production root in the sigstore package)",
    )
    group.add_argument(
        "--mirror",
        metavar="HOST=ENDPOINT",
        action="append",
        type=_mirror,
        default=[],
        help="registry mirror, tried before HOST (repeatable); ENDPOINT is http://…, https://… or oci:PATH",
    )
    group.add_argument(
        "--insecure-registry",
        metavar="HOST[:PORT]",
        action="append",
        default=[],
        help="allow plain HTTP to this registry (repeatable; loopback is always allowed)",
    )
    return group


def unreadable_trusted_root(args: argparse.Namespace) -> str | None:
    """Why the `--trusted-root` given cannot be read (`cannot read trusted root X: reason`), or
    None. Checked before anything runs, so the file is refused (exit 2) also when no image
    needs it; reading and checking its content is the engine's. Only stat: opening a FIFO blocks."""
    import os
    import stat

    path = args.trusted_root
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"cannot read trusted root {path}: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return f"cannot read trusted root {path}: not a regular file"
    if not os.access(path, os.R_OK):
        return f"cannot read trusted root {path}: Permission denied"
    return None


def mirrors_from_args(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """HOST=ENDPOINT pairs to host -> endpoints, in the order given."""
    mirrors: dict[str, list[str]] = {}
    for host, endpoint in pairs:
        mirrors.setdefault(host, []).append(endpoint)
    return mirrors


def to_verify_kwargs(args: argparse.Namespace) -> dict:
    """Keyword arguments for `pullguard.engine.verify.VerifyOptions`."""
    return {
        "trusted_root": args.trusted_root,
        "mirrors": mirrors_from_args(args.mirror or []),
        "insecure": list(args.insecure_registry or []),
        "concurrency": args.concurrency,
        "timeout": args.timeout,
        "pull_secrets": list(args.pull_secret or []),
    }
